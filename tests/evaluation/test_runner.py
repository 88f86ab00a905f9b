"""Running suites through lm-eval: parity with lm-eval alone, caching, resume, provenance."""

from __future__ import annotations

import json
from importlib.metadata import version

import pytest

from gauntlet.errors import DependencyMissing, GauntletError, InputError
from gauntlet.evaluation import (
    Suite,
    benchmark_score,
    evaluate_model,
    find_task_refs,
    model_content_hash,
    write_tasks,
)
from gauntlet.evaluation import runner as runner_module


def _lm_eval_alone(model_dir, yaml_paths, batch_size):
    """What a user gets from lm-eval with no Gauntlet in between."""
    import transformers
    from lm_eval import evaluator
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    model = transformers.AutoModelForCausalLM.from_pretrained(model_dir)
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size)
    return evaluator.simple_evaluate(
        model=lm,
        tasks=[str(p) for p in yaml_paths],
        task_manager=TaskManager(include_path=str(yaml_paths[0].parent.parent), include_defaults=False),
        log_samples=True,
        # Same setting as Gauntlet: it only changes the bootstrapped stderr of perplexity.
        bootstrap_iters=runner_module.HARNESS_BOOTSTRAP_ITERS,
    )


@pytest.fixture
def counted_lm_eval(monkeypatch):
    """Count the calls Gauntlet makes into lm-eval (and model loads)."""
    from lm_eval import evaluator

    calls = {"simple_evaluate": 0, "build_lm": 0}
    real_evaluate, real_build = evaluator.simple_evaluate, runner_module.build_lm

    def simple_evaluate(*args, **kwargs):
        calls["simple_evaluate"] += 1
        return real_evaluate(*args, **kwargs)

    def build_lm(*args, **kwargs):
        calls["build_lm"] += 1
        return real_build(*args, **kwargs)

    monkeypatch.setattr(evaluator, "simple_evaluate", simple_evaluate)
    monkeypatch.setattr(runner_module, "build_lm", build_lm)
    return calls


def test_results_equal_what_lm_eval_alone_reports(tiny_model, task_dir, tmp_path):
    refs = find_task_refs(task_dir)
    ours = evaluate_model(tiny_model, refs, cache_dir=tmp_path, batch_size=4, progress=False)
    alone = _lm_eval_alone(tiny_model, [r.yaml_path for r in refs], batch_size=4)
    for ref in refs:
        theirs = {k: v for k, v in alone["results"][ref.name].items() if k not in ("name", "alias", "sample_len")}
        assert dict(ours[ref.name].metrics) == theirs, ref.name
        # per-item scores are lm-eval's logged samples, in document order
        samples = sorted(alone["samples"][ref.name], key=lambda s: s["doc_id"])
        metric = ref.default_metric
        name, _, flt = ours[ref.name].metric_key(metric).partition(",")
        expected = [float(s[name]) for s in samples if s["filter"] == (flt or "none")]
        assert list(ours[ref.name].item_scores[ours[ref.name].metric_key(metric)]) == expected


def test_rerun_computes_nothing_and_a_new_task_computes_only_itself(tiny_model, tmp_path, counted_lm_eval, make_tasks):
    tasks = make_tasks(4)
    refs = write_tasks(tasks[:2], tmp_path / "tasks")
    first = evaluate_model(tiny_model, refs, cache_dir=tmp_path / "cache", progress=False)
    assert counted_lm_eval == {"simple_evaluate": 2, "build_lm": 1}
    assert set(first.computed) == {"t_mc", "t_ll"}

    again = evaluate_model(tiny_model, refs, cache_dir=tmp_path / "cache", progress=False)
    assert counted_lm_eval == {"simple_evaluate": 2, "build_lm": 1}  # nothing recomputed, model not even loaded
    assert again.computed == () and set(again.cached) == {"t_mc", "t_ll"}
    assert {k: dict(r.metrics) for k, r in again.results.items()} == {k: dict(r.metrics) for k, r in first.results.items()}

    refs3 = refs + write_tasks(tasks[2:], tmp_path / "tasks")
    third = evaluate_model(tiny_model, refs3, cache_dir=tmp_path / "cache", progress=False)
    assert counted_lm_eval["simple_evaluate"] == 3
    assert third.computed == ("t_gen",)

    # Changing one item changes the task's identity: only that task reruns.
    changed = list(tasks[0].items)
    changed[0] = {**changed[0], "context": changed[0]["context"] + " "}
    from dataclasses import replace

    refs_changed = write_tasks([replace(tasks[0], items=tuple(changed))], tmp_path / "tasks2") + refs3[1:]
    fourth = evaluate_model(tiny_model, refs_changed, cache_dir=tmp_path / "cache", progress=False)
    assert fourth.computed == ("t_mc",)


def test_interrupted_evaluation_resumes_without_redoing_finished_tasks(tiny_model, task_dir, tmp_path, monkeypatch):
    from lm_eval import evaluator

    refs = find_task_refs(task_dir)
    real = evaluator.simple_evaluate
    calls: list[str] = []

    def interrupted(*args, **kwargs):
        calls.append(kwargs["tasks"][0])
        if len(calls) == 2:
            raise KeyboardInterrupt  # the operator's Ctrl-C, or the machine going away
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluator, "simple_evaluate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        evaluate_model(tiny_model, refs, cache_dir=tmp_path, progress=False)

    calls.clear()
    monkeypatch.setattr(evaluator, "simple_evaluate", lambda *a, **k: (calls.append(k["tasks"][0]), real(*a, **k))[1])
    resumed = evaluate_model(tiny_model, refs, cache_dir=tmp_path, progress=False)
    assert len(calls) == len(refs) - 1
    assert str(refs[0].yaml_path) not in calls  # the task finished before the interruption
    assert set(resumed.cached) == {refs[0].name}


def test_provenance_is_recorded_with_per_item_samples(tiny_model, task_dir, tmp_path):
    refs = find_task_refs(task_dir)
    evaluation = evaluate_model(tiny_model, refs[:1], cache_dir=tmp_path, seed=7, progress=False)
    assert evaluation.harness_version == version("lm_eval")
    assert evaluation.model_hash == model_content_hash(tiny_model)
    assert evaluation.seeds == {"random_seed": 7, "numpy_seed": 7, "torch_seed": 7, "fewshot_seed": 7}
    assert evaluation.backend["backend"] == "hf" and evaluation.backend["device"] == "cpu"
    result = evaluation[refs[0].name]
    assert result.task == refs[0].name and result.config_hash == refs[0].config_hash
    lines = result.samples_path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == refs[0].n_items
    assert {json.loads(line)["doc"]["id"] for line in lines} == set(result.item_ids)
    stored = json.loads((result.samples_path.parent / "result.json").read_text())
    assert stored["model_hash"] == evaluation.model_hash
    assert stored["lm_eval"]["configs"][refs[0].name]["output_type"] == refs[0].output_type
    published = evaluation.to_dict()
    assert published["harness"]["version"] == version("lm_eval")
    assert published["tasks"][refs[0].name]["config_hash"] == refs[0].config_hash


def test_a_different_model_is_never_served_from_anothers_cache(tiny_model, target_model, task_dir, tmp_path, counted_lm_eval):
    refs = find_task_refs(task_dir)[:1]
    evaluate_model(tiny_model, refs, cache_dir=tmp_path, progress=False)
    other = evaluate_model(target_model, refs, cache_dir=tmp_path, progress=False)
    assert other.computed == (refs[0].name,)
    assert counted_lm_eval["simple_evaluate"] == 2


def test_relative_to_target_through_real_evaluations(tiny_model, target_model, tmp_path, make_tasks):
    refs = write_tasks(make_tasks(12)[:1], tmp_path / "tasks")
    suite = Suite.from_task_refs(refs, targets={"t_mc": "frontier"})
    team = evaluate_model(tiny_model, suite, cache_dir=tmp_path / "c", progress=False, label="team")
    frontier = evaluate_model(target_model, suite, cache_dir=tmp_path / "c", progress=False, label="frontier")
    score = benchmark_score(team, suite, targets={"frontier": frontier}, n_boot=200)
    expected = min(100.0, 100.0 * team["t_mc"].value("acc") / frontier["t_mc"].value("acc"))
    assert score.entries[0].score.value == pytest.approx(expected)
    assert score.component.value == pytest.approx(expected)
    assert score.component.lower <= score.component.value <= score.component.upper
    assert len(score.component.samples) == 200


def test_local_completions_backend_matches_hf_on_the_same_model(tiny_model, task_dir, tmp_path, completions_server):
    url, seen = completions_server
    refs = [r for r in find_task_refs(task_dir) if r.output_type != "generate_until"]
    hf = evaluate_model(tiny_model, refs, cache_dir=tmp_path, progress=False)
    remote = evaluate_model(tiny_model, refs, backend="local-completions", base_url=url, cache_dir=tmp_path, progress=False)
    assert remote.computed == tuple(r.name for r in refs)  # different backend: separate cache entries
    assert remote.backend["base_url"] == url
    assert seen and all(body.get("echo") for body in seen)
    for ref in refs:
        assert remote[ref.name].value("acc") == hf[ref.name].value("acc")
    # the log-likelihoods behind them agree to float precision
    hf_ll = [json.loads(line)["filtered_resps"] for line in hf["t_ll"].samples_path.read_text().splitlines()]
    api_ll = [json.loads(line)["filtered_resps"] for line in remote["t_ll"].samples_path.read_text().splitlines()]
    assert [x[0][0] for x in api_ll] == pytest.approx([x[0][0] for x in hf_ll], rel=1e-4, abs=1e-4)


def test_local_completions_generation(tiny_model, task_dir, tmp_path, completions_server):
    url, seen = completions_server
    ref = [r for r in find_task_refs(task_dir) if r.output_type == "generate_until"][0]
    result = evaluate_model(tiny_model, [ref], backend="local-completions", base_url=url, cache_dir=tmp_path, progress=False)[ref.name]
    generations = [body for body in seen if not body.get("echo")]
    assert len(generations) == ref.n_items
    assert all(body["stop"][0] == "\n" for body in generations)
    assert result.n_items == ref.n_items and 0.0 <= result.value("exact_match") <= 1.0


def test_vllm_backend_is_import_guarded(tiny_model, task_dir, tmp_path, monkeypatch):
    import importlib.util

    from gauntlet.evaluation import harness

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(harness.importlib.util, "find_spec", lambda name, *a: None if name == "vllm" else real_find_spec(name, *a))
    with pytest.raises(DependencyMissing) as info:
        evaluate_model(tiny_model, find_task_refs(task_dir)[:1], backend="vllm", cache_dir=tmp_path, progress=False)
    assert "gauntlet[vllm]" in str(info.value) and "\n" not in str(info.value)


def test_builtin_task_without_local_data_fails_in_one_clear_line(tiny_model, tmp_path):
    with pytest.raises(InputError) as info:
        evaluate_model(tiny_model, ["kobest_boolq"], cache_dir=tmp_path, progress=False)
    message = str(info.value)
    assert "kobest_boolq" in message and "offline" in message and "\n" not in message


def test_missing_task_files_are_one_line_errors(tiny_model, tmp_path, make_tasks):
    with pytest.raises(GauntletError) as info:
        evaluate_model(tiny_model, [str(tmp_path / "missing" / "task.yaml")], cache_dir=tmp_path, progress=False)
    assert "task file or folder not found" in str(info.value) and "\n" not in str(info.value)

    ref = write_tasks(make_tasks(2)[:1], tmp_path / "tasks")[0]
    ref.data_files[0].unlink()
    with pytest.raises(GauntletError) as info:
        evaluate_model(tiny_model, [str(ref.yaml_path)], cache_dir=tmp_path, progress=False)
    assert "data file not found" in str(info.value) and "\n" not in str(info.value)
