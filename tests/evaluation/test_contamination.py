"""The published-vs-held-out permutation test: exact, super-uniform under the null, Holm across tasks."""

import itertools
import json

import numpy as np
import pytest

from gauntlet.errors import InputError
from gauntlet.evaluation import BenchmarkTask, write_tasks
from gauntlet.evaluation.contamination import (
    SplitScores,
    gap_interval,
    gap_p_value,
    gap_tests,
    overall_verdict,
    published_split,
    read_published_flags,
)


@pytest.mark.parametrize("scores", [
    [1, 1, 1, 0, 0, 1, 0, 1, 0, 0],   # binary with ties
    [1] * 10,                          # constant: nothing can differ
    [0] * 9 + [1],
])
def test_p_value_is_exactly_super_uniform_over_every_split(scores):
    """Enumerate every assignment of 5 of 10 items to 'published': P(p <= a) <= a for all a."""
    scores = np.array(scores, float)
    ps = []
    for chosen in itertools.combinations(range(10), 5):
        mask = np.zeros(10, bool)
        mask[list(chosen)] = True
        ps.append(gap_p_value(scores[mask], scores[~mask])[0])
    ps = np.array(ps)
    for a in sorted(set(ps)):
        assert (ps <= a + 1e-12).mean() <= a + 1e-9
    if len(set(scores)) == 1:
        assert set(ps) == {1.0}


def test_non_binary_scores_use_a_valid_monte_carlo_p_value():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=30).round(1)  # ties too
    p, method = gap_p_value(scores[:15], scores[15:])
    assert method.startswith("Monte Carlo") and 0 < p <= 1
    strong, _ = gap_p_value(scores[:15] + 10, scores[15:])
    assert strong == pytest.approx(1 / 100_000)


def test_random_splits_of_real_scores_reject_at_most_at_the_level():
    """A cheap null: a model's real per-item scores (here 0/1, 60% right) under 2,000 random
    published/held-out splits are flagged at most at the level."""
    rng = np.random.default_rng(1)
    scores = (rng.random(80) < 0.6).astype(float)
    ps = []
    for _ in range(2000):
        mask = np.zeros(80, bool)
        mask[rng.choice(80, 40, replace=False)] = True
        ps.append(gap_p_value(scores[mask], scores[~mask])[0])
    ps = np.array(ps)
    for level in (0.01, 0.05, 0.2):
        assert (ps < level).mean() <= level + 3 * np.sqrt(level / 2000)


def test_interval_contains_the_gap_and_shrinks_with_more_items():
    lo, hi = gap_interval([1, 1, 0, 1], [0, 0, 1, 0])
    assert lo < 0.5 < hi
    lo2, hi2 = gap_interval([1, 1, 0, 1] * 25, [0, 0, 1, 0] * 25)
    assert lo < lo2 < 0.5 < hi2 < hi
    lo3, hi3 = gap_interval([1.0, 0.5, 0.25], [0.0, 0.5, 0.25])
    assert lo3 < hi3


def test_holm_across_tasks_and_skipped_tasks():
    strong = SplitScores("a", "acc", (1.0,) * 20, (0.0,) * 15 + (1.0,) * 5)
    weak = SplitScores("b", "acc", (1.0,) * 6 + (0.0,) * 4, (1.0,) * 5 + (0.0,) * 5)
    skipped = SplitScores("c", "acc", (1.0, 0.0), ())
    rows = gap_tests({"team": [strong, weak, skipped]})["team"]
    a, b, c = rows
    assert a.verdict == "contaminated" and a.p_value == pytest.approx(2 * a.p_value_raw)
    assert b.verdict == "clean" and b.p_value >= b.p_value_raw
    assert c.p_value is None and c.verdict == "inconclusive" and "every item is published" in c.note
    assert overall_verdict(rows) == "contaminated"
    assert overall_verdict([b, c]) == "clean"
    assert overall_verdict([c]) == "inconclusive"


def _task(n=10, **split):
    items = tuple({"id": f"i{k}", "context": f"Item {k}:", "choices": [" a", " b"], "answer": k % 2} for k in range(n))
    task = BenchmarkTask("t", "multiple_choice", "en", items)
    return published_split(task, **split) if split else task


def test_published_split_is_seeded_recorded_and_written_to_the_item_files(tmp_path):
    one, two = _task(fraction=0.5, seed=3), _task(fraction=0.5, seed=3)
    assert one.items == two.items and sum(i["published"] for i in one.items) == 5
    assert one.metadata["published_split"]["seed"] == 3
    ref = write_tasks([one], tmp_path)[0]
    flags = read_published_flags(ref)
    assert flags == {i["id"]: i["published"] for i in one.items}
    rows = [json.loads(line) for line in ref.data_files[0].read_text().splitlines()]
    assert all(isinstance(r["published"], bool) for r in rows)


def test_items_without_the_field_are_bad_input(tmp_path):
    ref = write_tasks([_task()], tmp_path)[0]
    with pytest.raises(InputError, match="no \"published\": true/false field"):
        read_published_flags(ref)
    with pytest.raises(InputError, match="'published' must be true or false"):
        write_tasks([BenchmarkTask("u", "multiple_choice", "en", ({"id": "x", "context": "c", "choices": ["a", "b"],
                                                                    "answer": 0, "published": "yes"},))], tmp_path)


def test_a_task_on_which_every_item_scores_the_same_costs_the_others_no_power():
    strong = SplitScores("a", "acc", (1.0,) * 9 + (0.0,), (0.0,) * 8 + (1.0,) * 2)
    flat = [SplitScores(f"z{i}", "acc", (0.0,) * 10, (0.0,) * 10) for i in range(5)]
    alone = gap_tests({"team": [strong]})["team"][0]
    rows = gap_tests({"team": [strong, *flat]})["team"]
    assert rows[0].p_value == alone.p_value
    assert all(r.p_value == 1.0 and r.verdict == "clean" and "left out" in r.note for r in rows[1:])
