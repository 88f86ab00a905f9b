"""Expert panel: recusal is never violated, k reviews are guaranteed (or refused
clearly), reviews are blind, aggregation resists one extreme reviewer, and
Krippendorff's alpha flags a criterion the experts disagree on."""

from __future__ import annotations

import numpy as np
import pytest

from gauntlet.errors import InputError, SpecError
from gauntlet.ratings.panel import (
    Criterion, Expert, Rubric, Submission, assign_experts, default_rubric, rubric_from_dict,
)
from gauntlet.ratings.panel_scoring import Review, default_experts, score_panel, simulate_panel

TEAMS = [Submission("lg", "LG AI Research"), Submission("skt", "SK Telecom"), Submission("upstage", "Upstage"),
         Submission("naver", "Naver Cloud"), Submission("nc", "NC AI")]


@pytest.mark.parametrize("seed", range(25))
def test_recusal_is_never_violated_and_every_team_gets_k_reviews(seed):
    rng = np.random.default_rng(seed)
    experts = []
    for e in range(int(rng.integers(5, 10))):
        ties = {t.organisation if rng.random() < 0.5 else t.team for t in TEAMS if rng.random() < 0.25}
        conflicts = {t.team.upper() for t in TEAMS if rng.random() < 0.15}  # case must not matter
        experts.append(Expert(f"e{e}", f"Expert {e}", frozenset(ties), frozenset(conflicts)))
    k = int(rng.integers(1, 4))
    try:
        assignment = assign_experts(TEAMS, experts, k, seed=seed)
    except InputError as exc:
        eligible = {t.team: sum(e.may_review(t) for e in experts) for t in TEAMS}
        assert min(eligible.values()) < k, exc
        return
    by_id = {e.id: e for e in experts}
    for team in TEAMS:
        reviewers = assignment.reviewers[assignment.codes[team.team]]
        assert len(reviewers) == len(set(reviewers)) == k
        for r in reviewers:
            barred = {x.casefold() for x in by_id[r].affiliations | by_id[r].conflicts}
            assert team.team.casefold() not in barred and team.organisation.casefold() not in barred


def test_impossible_requests_fail_with_the_reason():
    experts = [Expert("a", "A", frozenset({"LG AI Research"})), Expert("b", "B", conflicts=frozenset({"lg"})),
               Expert("c", "C")]
    with pytest.raises(InputError, match="team 'lg' needs 2 independent reviews but only 1"):
        assign_experts(TEAMS, experts, k=2)
    free = [Expert(f"e{i}", f"E{i}") for i in range(3)]
    with pytest.raises(InputError, match="cannot give every submission 2 reviews with at most 3"):
        assign_experts(TEAMS, free, k=2, max_load=3)
    assert assign_experts(TEAMS, free, k=2, max_load=4).max_load == 4


def test_load_is_spread_and_reviewers_only_see_codes():
    experts = [Expert(f"e{i}", f"E{i}") for i in range(5)]
    assignment = assign_experts(TEAMS, experts, k=3, seed=1)
    loads = [len(assignment.assignments_of(e.id)) for e in experts]
    assert sorted(loads) == [3, 3, 3, 3, 3]
    codes = list(assignment.codes.values())
    assert len(set(codes)) == len(codes)
    for team in TEAMS:
        code = assignment.codes[team.team]
        assert team.team.lower() not in code.lower() and assignment.team_of(code) == team.team
    assert assign_experts(TEAMS, experts, k=3, seed=1) == assignment


def _reviews(assignment, table):
    """table[expert_id] -> dict criterion -> score, the same for every assigned submission offset by quality."""
    return [Review(e, code, table(e, assignment.team_of(code))) for code, ids in assignment.reviewers.items()
            for e in ids]


def test_median_and_trimmed_mean_resist_one_extreme_reviewer():
    rubric = Rubric((Criterion("q", "품질", "Quality", "평가", "Judge", 1, 10, 1.0),))
    experts = [Expert(f"e{i}", f"E{i}") for i in range(5)]
    assignment = assign_experts(TEAMS[:1], experts, k=5)
    honest = _reviews(assignment, lambda e, t: {"q": {"e0": 8, "e1": 7, "e2": 8, "e3": 9}.get(e, 8)})
    extreme = _reviews(assignment, lambda e, t: {"q": {"e0": 8, "e1": 7, "e2": 8, "e3": 9}.get(e, 1)})
    for method in ("median", "trimmed_mean"):
        calm = score_panel(rubric, assignment, honest, aggregation=method, bootstrap=0).scores["lg"].value
        hit = score_panel(rubric, assignment, extreme, aggregation=method, bootstrap=0).scores["lg"].value
        assert abs(calm - hit) <= 100 / 9 / 3 + 1e-9  # at most a third of one scale step
    mean_calm = score_panel(rubric, assignment, honest, aggregation="mean", bootstrap=0).scores["lg"].value
    mean_hit = score_panel(rubric, assignment, extreme, aggregation="mean", bootstrap=0).scores["lg"].value
    assert mean_calm - mean_hit > 100 / 9  # the plain mean is dragged down by more than a step


def test_krippendorff_alpha_flags_the_criterion_experts_disagree_on():
    rubric = Rubric((
        Criterion("agreed", "합의", "Agreed", "평가", "Judge", 1, 5, 1.0),
        Criterion("disputed", "이견", "Disputed", "평가", "Judge", 1, 5, 1.0),
    ))
    experts = [Expert(f"e{i}", f"E{i}") for i in range(4)]
    assignment = assign_experts(TEAMS, experts, k=4)
    quality = {"lg": 5, "skt": 4, "upstage": 3, "naver": 2, "nc": 1}
    rng = np.random.default_rng(0)
    reviews = _reviews(assignment, lambda e, t: {"agreed": quality[t], "disputed": int(rng.integers(1, 6))})
    result = score_panel(rubric, assignment, reviews, bootstrap=0)
    alphas = {r.key: r for r in result.reliability}
    assert alphas["agreed"].alpha == pytest.approx(1.0) and not alphas["agreed"].flagged
    assert alphas["disputed"].alpha < 0.667 and alphas["disputed"].flagged
    assert result.flagged_criteria == ("disputed",)


def test_reviews_must_match_the_assignment_and_the_scale():
    rubric = default_rubric()
    experts = [Expert(f"e{i}", f"E{i}") for i in range(3)]
    assignment = assign_experts(TEAMS[:2], experts, k=2, seed=0)
    code = assignment.codes["lg"]
    outsider = next(e.id for e in experts if e.id not in assignment.reviewers[code])
    full = {c.key: 3 for c in rubric.criteria}
    with pytest.raises(InputError, match="was not assigned"):
        score_panel(rubric, assignment, [Review(outsider, code, full)])
    insider = assignment.reviewers[code][0]
    with pytest.raises(InputError, match=r"must be a number in \[1, 5\]"):
        score_panel(rubric, assignment, [Review(insider, code, {**full, "safety": 9})])
    with pytest.raises(InputError, match="2 are required"):
        score_panel(rubric, assignment, [Review(insider, code, full)])


def test_simulated_panel_gives_component_scores_with_intervals():
    teams = {"lg": 90.0, "skt": 75.0, "upstage": 70.0, "naver": 60.0, "nc": 35.0}
    orgs = {t.team: t.organisation for t in TEAMS}
    experts = default_experts(TEAMS, n=9, seed=2)
    result = simulate_panel(teams, default_rubric(), experts, k=3, seed=4, organisations=orgs, bootstrap=200)
    assert set(result.scores) == set(teams)
    for team, score in result.scores.items():
        assert 0 <= score.lower <= score.value <= score.upper <= 100
        assert len(score.samples) == 200
    assert result.scores["lg"].value > result.scores["nc"].value
    by_id = {e.id: e for e in experts}
    for team in TEAMS:
        for r in result.assignment.reviewers[result.assignment.codes[team.team]]:
            assert by_id[r].may_review(team)


def test_rubric_from_spec_table():
    rubric = rubric_from_dict({"criteria": [{"key": "korean", "name": {"ko": "한국어", "en": "Korean"},
                                              "instructions": {"ko": "평가하십시오", "en": "Judge it"},
                                              "scale": [0, 10], "weight": 2}]})
    assert rubric.criteria[0].scale_max == 10 and rubric.weights.tolist() == [1.0]
    with pytest.raises(SpecError, match=r"rubric.criteria\[0\]: missing key 'instructions'"):
        rubric_from_dict({"criteria": [{"key": "x", "name": {"ko": "a", "en": "b"}}]})
    with pytest.raises(SpecError, match="unique"):
        Rubric(rubric.criteria * 2)


def test_review_materials_are_blinded_to_the_team():
    experts = [Expert(f"e{i}", f"E{i}") for i in range(3)]
    assignment = assign_experts(TEAMS[:2], experts, k=2, seed=0)
    text = assignment.blind("lg", "Model card: trained by LG AI Research (team lg) on 2T tokens.")
    code = assignment.codes["lg"]
    assert "LG" not in text and "lg" not in text.replace(code, "")
    assert text.count(code) == 2
