"""Component scores: weights, groups, relative-to-target, item-level bootstrap intervals."""

from __future__ import annotations

import numpy as np
import pytest

from gauntlet.domain.components import ComponentScore
from gauntlet.errors import InputError
from gauntlet.evaluation import ModelEvaluation, Suite, SuiteEntry, TaskResult, benchmark_score, task_score


def result(task: str, values, metric: str = "acc", aggregation: str = "mean", ids=None) -> TaskResult:
    values = [float(v) for v in values]
    return TaskResult(
        task=task,
        config_hash=f"hash-{task}",
        metrics={f"{metric},none": float(np.mean(values)), f"{metric}_stderr,none": 0.0},
        item_ids=tuple(ids or (f"{task}-{i}" for i in range(len(values)))),
        item_scores={f"{metric},none": tuple(values)},
        aggregations={metric: aggregation},
    )


def evaluation(model: str, *results: TaskResult) -> ModelEvaluation:
    return ModelEvaluation(model, "sha", "0.4.13", {"backend": "hf"}, {"random_seed": 0}, {r.task: r for r in results})


def test_task_score_is_the_metric_out_of_100_with_an_interval_of_replicates():
    rng = np.random.default_rng(0)
    small = result("small", rng.integers(0, 2, 50))
    large = result("large", rng.integers(0, 2, 2000))
    s, l = task_score(small, n_boot=500), task_score(large, n_boot=500)
    assert isinstance(s, ComponentScore)
    assert s.value == pytest.approx(100 * small.value("acc"))
    assert len(s.samples) == 500 and s.lower <= s.value <= s.upper
    assert (l.upper - l.lower) < (s.upper - s.lower)  # more items, tighter interval
    # the bootstrap's 95% interval of a mean matches the normal approximation on many items
    p = large.value("acc")
    assert (l.upper - l.lower) == pytest.approx(2 * 1.96 * 100 * np.sqrt(p * (1 - p) / 2000), rel=0.15)
    assert task_score(small, n_boot=500) == s  # seeded: same interval every time


def test_groups_are_weighted_as_declared():
    team = evaluation("team", result("a", [1, 1, 1, 0]), result("b", [1, 0]), result("c", [0, 0, 0, 1]))
    suite = Suite(
        "s",
        (SuiteEntry("a", group="agency"), SuiteEntry("b", group="common", weight=3), SuiteEntry("c", group="common")),
        group_weights={"agency": 10, "common": 30},
    )
    score = benchmark_score(team, suite, n_boot=200)
    agency, common = 75.0, (3 * 50.0 + 25.0) / 4
    assert score.groups["agency"].value == pytest.approx(agency)
    assert score.groups["common"].value == pytest.approx(common)
    assert score.component.value == pytest.approx((10 * agency + 30 * common) / 40)
    assert score.component.lower <= score.component.value <= score.component.upper
    # every replicate of the component is the same weighting of the task replicates
    reps = {e.task: np.array(e.score.samples) for e in score.entries}
    expected = (10 * reps["a"] + 30 * (3 * reps["b"] + reps["c"]) / 4) / 40
    assert np.allclose(score.component.samples, expected)


def test_without_declared_groups_entries_are_weighted_flat():
    team = evaluation("team", result("a", [1, 0]), result("b", [1, 1]))
    suite = Suite("s", (SuiteEntry("a", group="x", weight=1), SuiteEntry("b", group="y", weight=3)))
    assert benchmark_score(team, suite, n_boot=50).component.value == pytest.approx((50 + 3 * 100) / 4)


def test_relative_to_target_is_a_capped_percentage_of_the_target():
    suite = Suite("s", (SuiteEntry("a", target="frontier"), SuiteEntry("b", target="frontier")))
    team = evaluation("team", result("a", [1, 1, 0, 0, 1, 0, 1, 1]), result("b", [1, 1, 1, 1]))
    frontier = evaluation("frontier", result("a", [1, 1, 1, 1, 1, 0, 1, 1]), result("b", [1, 0, 1, 1]))
    score = benchmark_score(team, suite, targets={"frontier": frontier}, n_boot=300)
    a, b = score.entries
    assert a.score.value == pytest.approx(100 * (5 / 8) / (7 / 8)) and a.target_raw == pytest.approx(7 / 8)
    assert b.score.value == 100.0  # above the target: full marks, not 133
    assert max(b.score.samples) <= 100.0
    assert score.component.value == pytest.approx((a.score.value + 100.0) / 2)


def test_paired_bootstrap_when_team_and_target_answered_the_same_items():
    same = [1, 0, 1, 1, 0, 1, 0, 1, 1, 1]
    suite = Suite("s", (SuiteEntry("a", target="frontier"),))
    team = evaluation("team", result("a", same))
    frontier = evaluation("frontier", result("a", same))
    score = benchmark_score(team, suite, targets={"frontier": frontier}, n_boot=200)
    # identical answers on identical items: every resample agrees, no spurious spread
    assert set(score.component.samples) == {100.0} and score.component.lower == score.component.upper == 100.0


@pytest.mark.parametrize(
    "targets, message",
    [
        (None, "no evaluation of 'frontier'"),
        ({"frontier": evaluation("frontier", result("a", [0, 0]))}, "scores 0"),
        ({"frontier": evaluation("frontier", result("z", [1]))}, "not evaluated on task 'a'"),
    ],
)
def test_relative_scoring_errors(targets, message):
    suite = Suite("s", (SuiteEntry("a", target="frontier"),))
    with pytest.raises(InputError) as info:
        benchmark_score(evaluation("team", result("a", [1, 0])), suite, targets=targets)
    assert message in str(info.value)


def test_metrics_that_are_not_0_1_means_are_refused():
    with pytest.raises(InputError, match="not a mean"):
        task_score(result("ppl", [3.0, 5.0], metric="acc", aggregation="perplexity"))
    with pytest.raises(InputError, match="not a 0-1 score"):
        task_score(result("big", [3.0, 5.0]))
    with pytest.raises(InputError, match="has no metric 'bleu'"):
        task_score(result("a", [1.0]), "bleu")
    suite = Suite("s", (SuiteEntry("missing"),))
    with pytest.raises(InputError, match="no result for suite task 'missing'"):
        benchmark_score(evaluation("team", result("a", [1])), suite)
