"""Writing BenchmarkTasks as lm-eval folders, task identity, suites and private draws."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pytest
import yaml

from gauntlet.errors import InputError
from gauntlet.evaluation import (
    BenchmarkTask,
    Suite,
    bilingual_tasks,
    draw_private_subset,
    load_suite,
    public_definition,
    read_task_ref,
    suite_from_specs,
    write_offline_suite,
    write_tasks,
)


def test_written_tasks_are_lm_eval_configs_for_each_output_type(tmp_path, make_tasks):
    refs = {r.name: r for r in write_tasks(make_tasks(3), tmp_path)}
    mc = yaml.safe_load(refs["t_mc"].yaml_path.read_text())
    assert mc["dataset_path"] == "json" and mc["dataset_kwargs"]["data_files"]["test"] == str(refs["t_mc"].data_files[0])
    assert [m["metric"] for m in mc["metric_list"]] == ["acc", "acc_norm"]
    assert mc["doc_to_choice"] == "choices" and mc["target_delimiter"] == ""  # choices start with a space
    ll = yaml.safe_load(refs["t_ll"].yaml_path.read_text())
    assert ll["output_type"] == "loglikelihood" and ll["doc_to_target"] == "continuation"
    gen = yaml.safe_load(refs["t_gen"].yaml_path.read_text())
    assert gen["generation_kwargs"]["until"] == ["\n"] and gen["generation_kwargs"]["max_gen_toks"] == 4
    assert gen["metric_list"][0]["metric"] == "exact_match"
    assert refs["t_gen"].metrics == ("exact_match,strip",)
    rows = [json.loads(line) for line in refs["t_mc"].data_files[0].read_text().splitlines()]
    assert [r["id"] for r in rows] == ["mc0", "mc1", "mc2"] and rows[1]["answer"] == 1
    assert refs["t_ll"].group == "agency" and refs["t_ll"].lang == "ko" and refs["t_ll"].n_items == 3


def test_task_identity_follows_content_not_location(tmp_path, make_tasks):
    tasks = make_tasks(3)
    a = write_tasks(tasks, tmp_path / "a")
    b = write_tasks(tasks, tmp_path / "b")
    assert [r.config_hash for r in a] == [r.config_hash for r in b]
    assert a[0].data_files[0].read_bytes() == b[0].data_files[0].read_bytes()

    moved = tmp_path / "moved"
    shutil.copytree(tmp_path / "a" / "t_ll", moved / "t_ll")
    # a copied folder still points at its data by absolute path; the hash covers the bytes, not the path
    assert read_task_ref(moved / "t_ll" / "t_ll.yaml").config_hash == a[1].config_hash

    items = list(tasks[0].items)
    items[2] = {**items[2], "answer": 1 - items[2]["answer"]}
    changed = write_tasks([replace(tasks[0], items=tuple(items))], tmp_path / "c")[0]
    assert changed.config_hash != a[0].config_hash


@pytest.mark.parametrize(
    "task, message",
    [
        (BenchmarkTask("bad", "multiple_choice", "en", ({"id": "1", "context": "q", "choices": ["a", "b"], "answer": 2},)), "not an index"),
        (BenchmarkTask("bad", "multiple_choice", "en", ({"id": "1", "context": "q", "choices": ["a"], "answer": 0},)), "at least two"),
        (BenchmarkTask("bad", "loglikelihood", "en", ({"id": "1", "context": "q"},)), "'continuation' must be a str"),
        (BenchmarkTask("bad", "generate_until", "en", ({"id": "1", "prompt": "p", "target": "t"},) * 2), "duplicate item id"),
        (BenchmarkTask("bad", "ranking", "en", ({"id": "1"},)), "unknown output_type"),
        (BenchmarkTask("bad name", "loglikelihood", "en", ({"id": "1", "context": "q", "continuation": "c"},)), "name must be"),
        (BenchmarkTask("empty", "loglikelihood", "en", ()), "has no items"),
    ],
)
def test_malformed_items_are_refused_in_one_line(tmp_path, task, message):
    with pytest.raises(InputError) as info:
        write_tasks([task], tmp_path)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_offline_suite_covers_three_output_types_in_two_languages(tmp_path):
    suite = write_offline_suite(tmp_path, items_per_task=5, seed=3)
    types = {e.ref.output_type for e in suite.entries}
    assert types == {"multiple_choice", "loglikelihood", "generate_until"}
    assert {e.ref.lang for e in suite.entries} == {"ko", "en"}
    assert suite.effective_group_weights() == {"agency": 10.0, "common": 20.0, "individual": 10.0}
    # deterministic for a seed, different for another
    assert bilingual_tasks(items_per_task=5, seed=3) == bilingual_tasks(items_per_task=5, seed=3)
    assert bilingual_tasks(items_per_task=5, seed=3) != bilingual_tasks(items_per_task=5, seed=4)


def test_suite_file_with_groups_paths_and_builtin_names(tmp_path, make_tasks):
    write_tasks(make_tasks(2), tmp_path / "tasks")
    (tmp_path / "suite.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "round-1",
                "groups": {"agency": 10, "common": 20, "individual": 10},
                "entries": [
                    {"task": "tasks/t_mc/t_mc.yaml", "group": "common", "metric": "acc_norm", "weight": 2},
                    {"task": "tasks/t_ll", "group": "agency"},
                    {"task": "kmmlu", "group": "common"},
                    {"task": "tasks/t_gen/t_gen.yaml", "group": "individual", "target": "frontier"},
                ],
            }
        )
    )
    suite = load_suite(tmp_path / "suite.yaml")
    assert [e.task for e in suite.entries] == ["t_mc", "t_ll", "kmmlu", "t_gen"]
    assert suite.builtin_tasks == ["kmmlu"] and suite.targets == ["frontier"]
    assert suite.entries[0].scored_metric == "acc_norm" and suite.entries[0].weight == 2
    assert suite.entries[3].scored_metric == "exact_match,strip"
    assert suite_from_specs([str(tmp_path / "suite.yaml")]).to_dict() == suite.to_dict()


@pytest.mark.parametrize(
    "entry, groups, message",
    [
        ({"task": "tasks/t_mc/t_mc.yaml", "metric": "f1"}, {}, "unknown metric 'f1'"),
        ({"task": "tasks/t_ll/t_ll.yaml", "metric": "perplexity"}, {}, "not a 0-1 score"),
        ({"task": "tasks/t_mc/t_mc.yaml", "group": "agency"}, {"common": 1}, "group 'agency' has tasks but no weight"),
        ({"task": "tasks/t_mc/t_mc.yaml", "weight": 0}, {}, "weight must be positive"),
        ({"task": "tasks/nothing.yaml"}, {}, "not found"),
        ({"task": "tasks/t_mc/t_mc.yaml", "wieght": 2}, {}, "unknown key 'wieght'"),
    ],
)
def test_suite_errors_are_one_line(tmp_path, make_tasks, entry, groups, message):
    write_tasks(make_tasks(2), tmp_path / "tasks")
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump({"groups": groups, "entries": [entry]}))
    with pytest.raises(InputError) as info:
        load_suite(tmp_path / "suite.yaml")
    assert message in str(info.value) and "\n" not in str(info.value)


def test_private_draws_are_seeded_recorded_and_fresh_each_round(tmp_path):
    pool = bilingual_tasks(items_per_task=40, seed=0)[0]
    first = draw_private_subset(pool, size=10, seed=2026, round_name="round-1")
    assert first == draw_private_subset(pool, size=10, seed=2026, round_name="round-1")
    second = draw_private_subset(pool, size=10, seed=2027, round_name="round-2")
    assert {i["id"] for i in first.items} != {i["id"] for i in second.items}
    record = first.metadata["private_draw"]
    assert record["seed"] == 2026 and record["pool_size"] == 40 and record["round"] == "round-1"
    assert record["item_ids"] == [i["id"] for i in first.items]
    assert set(record["item_ids"]) <= {i["id"] for i in pool.items}

    ref = write_tasks([first], tmp_path / "private")[0]
    written = yaml.safe_load(ref.yaml_path.read_text())
    assert written["metadata"]["gauntlet"]["private_draw"]["pool_sha256"] == record["pool_sha256"]
    public = public_definition(ref)
    assert "data_files" not in public["dataset_kwargs"]
    assert public["metadata"]["gauntlet"]["items_withheld"] is True
    dumped = json.dumps(public, ensure_ascii=False)
    assert all(item["context"] not in dumped for item in first.items)

    with pytest.raises(InputError):
        draw_private_subset(pool, size=41, seed=1)


def test_suite_from_refs_and_targets(tmp_path, make_tasks):
    refs = write_tasks(make_tasks(2), tmp_path)
    suite = Suite.from_task_refs(refs, targets={"t_gen": "frontier"}, group_weights={"common": 2, "agency": 1, "individual": 1})
    assert {e.task: e.target for e in suite.entries} == {"t_mc": None, "t_ll": None, "t_gen": "frontier"}
    with pytest.raises(InputError):
        Suite.from_task_refs(refs, group_weights={"common": 1})
