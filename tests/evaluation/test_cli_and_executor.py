"""`gauntlet evaluate` and evaluating several models through the job executor."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from gauntlet.cli import app
from gauntlet.evaluation import Suite, benchmark_score, evaluate_models, find_task_refs, write_tasks
from gauntlet.jobs import InlineExecutor, JobFailed, LocalProcessExecutor


def test_cli_prints_metrics_with_intervals_as_json_and_reuses_the_cache(tiny_model, task_dir, tmp_path):
    runner = CliRunner()
    args = ["evaluate", str(tiny_model), "--tasks", str(task_dir), "--cache", str(tmp_path), "--json", "--bootstrap", "100"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    document = json.loads(first.stdout)
    names = {r.name for r in find_task_refs(task_dir)}
    assert set(document["evaluation"]["tasks"]) == names
    assert set(document["evaluation"]["computed"]) == names
    for entry in document["score"]["entries"]:
        assert entry["lower"] <= entry["value"] <= entry["upper"]
    assert 0 <= document["score"]["component"]["value"] <= 100

    second = json.loads(runner.invoke(app, args).stdout)
    assert second["evaluation"]["computed"] == [] and second["score"] == document["score"]

    table = runner.invoke(app, args[:-3])
    assert table.exit_code == 0 and "component" in table.stdout and "t_mc" in table.stdout


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--tasks", "/nonexistent/tasks.yaml"], "task file or folder not found"),
        (["--tasks", "TASKS", "--backend", "tpu"], "unknown backend 'tpu'"),
        (["--tasks", "TASKS", "--backend", "local-completions"], "needs a base URL"),
        (["--tasks", "TASKS", "--batch-size", "many"], "--batch-size must be an integer"),
    ],
)
def test_cli_errors_are_one_line_and_exit_2(tiny_model, task_dir, tmp_path, extra, message):
    extra = [str(task_dir) if a == "TASKS" else a for a in extra]
    result = CliRunner().invoke(app, ["evaluate", str(tiny_model), *extra, "--cache", str(tmp_path)])
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("where", ["process pool", "ray"])
def test_models_evaluated_through_an_executor_match_in_process_results(where, tiny_model, target_model, tmp_path,
                                                                        make_tasks):
    refs = write_tasks(make_tasks(4)[:1], tmp_path / "tasks")
    suite = Suite.from_task_refs(refs)
    models = {"team": tiny_model, "frontier": target_model}
    if where == "ray":
        pytest.importorskip("ray")
        from gauntlet.jobs.ray_executor import RayExecutor

        executor = RayExecutor("local", init_options={"num_cpus": 2, "object_store_memory": 80 * 2**20})
    else:
        executor = LocalProcessExecutor(max_workers=1, threads_per_worker=1)
    pooled = evaluate_models(models, suite, executor=executor, cache_dir=tmp_path / "pool-cache", progress=False)
    inline = evaluate_models(models, suite, executor=InlineExecutor(), cache_dir=tmp_path / "inline-cache", progress=False)
    for name in models:
        assert pooled[name].computed == ("t_mc",)
        assert dict(pooled[name]["t_mc"].metrics) == dict(inline[name]["t_mc"].metrics)
        assert benchmark_score(pooled[name], suite, n_boot=50).component == benchmark_score(inline[name], suite, n_boot=50).component


def test_a_failing_model_is_named_and_the_others_are_kept(tiny_model, tmp_path, make_tasks):
    refs = write_tasks(make_tasks(2)[:1], tmp_path / "tasks")
    with pytest.raises(JobFailed) as info:
        evaluate_models(
            {"team": tiny_model, "ghost": tmp_path / "no-such-model"}, refs, executor=InlineExecutor(),
            cache_dir=tmp_path / "cache", progress=False, retries=0,
        )
    assert "ghost: model folder not found" in str(info.value)
    # the healthy model's result was cached before the batch failed
    again = evaluate_models({"team": tiny_model}, refs, executor=InlineExecutor(), cache_dir=tmp_path / "cache", progress=False)
    assert again["team"].computed == ()
