"""Survival probabilities and "too close to call" on constructed cases."""

import math

import numpy as np

from gauntlet.domain.canonical import canonical_bytes
from gauntlet.domain.decision import decide


def scored(value, half_width, samples=None):
    doc = {"value": value, "lower": value - half_width, "upper": value + half_width}
    if samples is not None:
        doc["samples"] = list(samples)
    return doc


def one_component(teams, *, seed=7, draws=4000, **policy):
    """Documents with a single component so each total is that component."""
    return {
        "weights": {"score": 1},
        "monte_carlo": {"seed": seed, "draws": draws},
        "teams": [{"team": name, "score": score, "independence": "independent"} for name, score in teams],
        **policy,
    }


def test_a_clear_gap_gives_certain_outcomes_and_no_flag():
    out = decide(one_component([("a", scored(90, 2)), ("b", scored(80, 2)), ("c", scored(50, 2))], eliminate_lowest=1))
    u = out["uncertainty"]
    assert [u["teams"][t]["survival_probability"] for t in "abc"] == [1.0, 1.0, 0.0]
    assert u["too_close_to_call"] is False and u["close_calls"] == []
    assert u["margin"]["between"] == ["b", "c"] and u["margin"]["lower"] > 20


def test_overlapping_intervals_at_the_cut_are_too_close_to_call():
    out = decide(one_component([("a", scored(90, 2)), ("b", scored(70, 10)), ("c", scored(69, 10))], eliminate_lowest=1))
    u = out["uncertainty"]
    assert u["teams"]["a"]["survival_probability"] == 1.0 and not u["teams"]["a"]["too_close_to_call"]
    assert 0.3 < u["teams"]["b"]["survival_probability"] < 0.7
    assert u["too_close_to_call"] is True and u["close_calls"] == ["b", "c"]
    assert u["margin"]["lower"] < 0 < u["margin"]["upper"]
    assert {f["team"] for f in out["flags"] if f["flag"] == "too_close_to_call"} == {"b", "c"}


def test_normal_fit_matches_the_analytic_probability():
    # Two teams, 95% half-width h -> sd = h / 1.96; P(a beats b) = Phi(gap / (sd * sqrt 2)).
    sd = 3.0
    h = 1.959963984540054 * sd
    out = decide(one_component([("a", scored(61, h)), ("b", scored(59, h))], eliminate_lowest=1, draws=20000))
    expected = 0.5 * (1 + math.erf(2 / (sd * math.sqrt(2)) / math.sqrt(2)))
    got = out["uncertainty"]["teams"]["a"]["survival_probability"]
    standard_error = math.sqrt(expected * (1 - expected) / 20000)
    assert abs(got - expected) < 4 * standard_error


def test_joint_bootstrap_samples_keep_the_correlation_between_teams():
    # Replicates of one shared resampling: b is always exactly 1 point below a,
    # even though each team's own spread is wide. Resampled jointly, a always
    # survives; a normal fitted to the same intervals would call it a coin toss.
    base = np.random.default_rng(0).normal(60, 8, size=500).clip(1, 99)
    a = scored(60, 15, base)
    b = scored(59, 15, base - 1)
    joint = decide(one_component([("a", a), ("b", b)], eliminate_lowest=1))["uncertainty"]
    assert joint["teams"]["a"]["survival_probability"] == 1.0 and not joint["too_close_to_call"]
    fitted = decide(one_component([("a", scored(60, 15)), ("b", scored(59, 15))], eliminate_lowest=1))["uncertainty"]
    assert fitted["too_close_to_call"]


def test_the_seed_is_part_of_the_inputs_and_the_result_is_reproducible():
    teams = [("a", scored(70, 10)), ("b", scored(69, 10)), ("c", scored(50, 1))]
    first = decide(one_component(teams, seed=1, eliminate_lowest=1))
    assert first["uncertainty"]["seed"] == 1
    assert canonical_bytes(decide(one_component(teams, seed=1, eliminate_lowest=1))) == canonical_bytes(first)
    reordered = decide(one_component(list(reversed(teams)), seed=1, eliminate_lowest=1))
    assert canonical_bytes(reordered) == canonical_bytes(first)
    other = decide(one_component(teams, seed=2, eliminate_lowest=1))
    assert other["uncertainty"]["teams"]["a"] != first["uncertainty"]["teams"]["a"]


def test_disqualified_teams_never_survive_and_exact_scores_skip_the_simulation():
    doc = one_component([("a", scored(70, 5)), ("b", scored(69, 5))], eliminate_lowest=0)
    doc["teams"][0]["independence"] = "derived"
    u = decide(doc)["uncertainty"]
    assert u["teams"]["a"]["survival_probability"] == 0.0 and u["teams"]["b"]["survival_probability"] == 1.0
    assert "uncertainty" not in decide(one_component([("a", 70), ("b", 60)], eliminate_lowest=1))


def test_threshold_survival_follows_the_interval():
    out = decide(one_component([("a", scored(60, 5))], min_total=60))
    p = out["uncertainty"]["teams"]["a"]["survival_probability"]
    assert 0.45 < p < 0.55 and out["uncertainty"]["too_close_to_call"]
