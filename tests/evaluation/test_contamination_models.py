"""Tiny models trained on CPU: one that read the published items is flagged, one that read
only the corpus is not; `gauntlet contamination` keeps its contract and its bad input."""

import json

import pytest
from typer.testing import CliRunner

pytest.importorskip("torch")

from gauntlet.cli import app  # noqa: E402
from gauntlet.evaluation import BenchmarkTask, write_tasks  # noqa: E402
from gauntlet.evaluation.contamination import published_split  # noqa: E402
from gauntlet.synth.contamination import code_task, train_model  # noqa: E402

runner = CliRunner()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("contamination")
    task = code_task(0)
    all_published = published_split(code_task(1, name="sample"), fraction=1.0, seed=1)
    write_tasks([task, all_published], root / "tasks")
    return {"root": root, "tasks": root / "tasks", "cache": root / "cache",
            "leaky": train_model(root / "leaky", seed=1, task=task),
            "clean": train_model(root / "clean", seed=2, steps=150)}


def _run(setup, model, *extra):
    return runner.invoke(app, ["contamination", str(model), "--tasks", str(setup["tasks"]),
                               "--cache", str(setup["cache"]), "--json", *extra])


def test_a_model_trained_on_the_published_items_is_flagged(setup):
    result = _run(setup, setup["leaky"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["verdict"] == "contaminated"
    codes = next(t for t in doc["tasks"] if t["task"] == "codes")
    assert set(codes) >= {"task", "published", "held_out", "gap", "lower", "upper", "p_value", "verdict"}
    assert codes["verdict"] == "contaminated" and codes["p_value"] < 0.01
    assert codes["published"]["n"] == codes["held_out"]["n"] == 20
    assert codes["lower"] > 0 and codes["lower"] <= codes["gap"] <= codes["upper"]
    assert codes["membership"]["decisive"] is False and codes["membership"]["gap"] > 0
    sample = next(t for t in doc["tasks"] if t["task"] == "sample")
    assert sample["p_value"] is None and sample["verdict"] == "inconclusive" and "skipped" in sample["note"]


def test_a_model_trained_only_on_the_corpus_is_not_flagged(setup):
    doc = json.loads(_run(setup, setup["clean"], "--no-membership").stdout)
    assert doc["verdict"] == "clean"
    codes = next(t for t in doc["tasks"] if t["task"] == "codes")
    assert codes["p_value"] >= 0.01 and codes["membership"] is None


def test_a_missing_model_or_unmarked_items_are_one_line_and_exit_2(setup, tmp_path):
    result = _run(setup, tmp_path / "nope")
    assert result.exit_code == 2 and "model folder not found" in result.stderr
    unmarked = tmp_path / "unmarked"
    items = ({"id": "a", "context": "x", "choices": [" y", " z"], "answer": 0},)
    write_tasks([BenchmarkTask("plain", "multiple_choice", "en", items)], unmarked)
    result = runner.invoke(app, ["contamination", str(setup["clean"]), "--tasks", str(unmarked)])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and "\"published\"" in result.stderr


def test_random_splits_of_a_corpus_only_models_real_scores_are_flagged_at_most_at_the_level(setup):
    """The cheap null over many seeds: the corpus-only model's real per-item scores under 500
    random published/held-out splits (the benchmark trains 100 such models instead)."""
    import numpy as np

    from gauntlet.evaluation import evaluate_model, find_task_refs
    from gauntlet.evaluation.contamination import gap_p_value

    evaluation = evaluate_model(setup["clean"], find_task_refs(setup["tasks"]), cache_dir=setup["cache"], progress=False)
    result = evaluation.results["codes"]
    scores = np.array(result.item_scores[result.metric_key("acc")], float)
    assert 0 < scores.mean() < 1  # real, non-degenerate scores
    rng = np.random.default_rng(0)
    ps = []
    for _ in range(500):
        mask = np.zeros(scores.size, bool)
        mask[rng.choice(scores.size, scores.size // 2, replace=False)] = True
        ps.append(gap_p_value(scores[mask], scores[~mask])[0])
    ps = np.array(ps)
    assert (ps < 0.01).mean() <= 0.01 + 3 * np.sqrt(0.01 / 500)
    assert (ps < 0.2).mean() <= 0.2 + 3 * np.sqrt(0.2 / 500)
