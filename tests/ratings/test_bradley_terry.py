"""Bradley-Terry fit: recovers known strengths, agrees with independent fits,
ties are half wins, bootstrap intervals are reproducible and cover the truth."""

from __future__ import annotations

import math

import numpy as np
import pytest


from gauntlet.errors import InputError
from gauntlet.ratings.bradley_terry import (
    ELO_PER_UNIT, fit_leaderboard, ranks_from_intervals,
)
from gauntlet.ratings.synthetic import generate_votes
from gauntlet.ratings.votes import PairwiseVotes


def _elo_truth(strength, models):
    centred = strength - strength.mean()
    return {f"m{k}": 1000 + ELO_PER_UNIT * centred[k] for k in range(len(strength)) if f"m{k}" in models}


def test_recovers_known_strengths(known_strengths):
    votes = PairwiseVotes.from_records(*generate_votes(known_strengths, 40_000, seed=1, tie_rate=0.0))
    board = fit_leaderboard(votes, bootstrap=0)
    truth = _elo_truth(known_strengths, board.models)
    # ~10k votes per model: standard error about 4 Elo; allow five of them.
    for model, rating in zip(board.models, board.ratings):
        assert abs(rating - truth[model]) < 20
    assert [e.model for e in board.entries()] == [f"m{k}" for k in range(8)]
    assert board.ratings.mean() == pytest.approx(1000.0, abs=1e-6)


def _mm_reference(model_a, model_b, winner, models):
    """Hunter's (2004) MM iteration on per-vote data, ties as half wins: an
    independent route to the same maximum-likelihood strengths."""
    index = {m: k for k, m in enumerate(models)}
    n = len(models)
    wins = np.zeros(n)
    games = np.zeros((n, n))
    for a, b, w in zip(model_a, model_b, winner):
        i, j = index[a], index[b]
        s = {"model_a": 1.0, "model_b": 0.0}.get(w, 0.5)
        wins[i] += s
        wins[j] += 1.0 - s
        games[i, j] += 1
        games[j, i] += 1
    pi = np.ones(n)
    for _ in range(20_000):
        new = wins / (games / (pi[:, None] + pi[None, :])).sum(axis=1)
        new /= np.exp(np.log(new).mean())
        if np.max(np.abs(new - pi)) < 1e-14:
            break
        pi = new
    theta = np.log(pi)
    return 1000 + ELO_PER_UNIT * (theta - theta.mean())


def test_matches_independent_mm_iteration(known_strengths):
    records = generate_votes(known_strengths, 20_000, seed=2)
    board = fit_leaderboard(PairwiseVotes.from_records(*records), bootstrap=0)
    reference = _mm_reference(*records, board.models)
    assert np.max(np.abs(board.ratings - reference)) < 0.01


def test_matches_per_vote_likelihood_without_collapsing():
    from scipy.optimize import minimize

    strength = np.array([0.6, 0.0, -0.3, -0.8])
    model_a, model_b, winner = generate_votes(strength, 1500, seed=3)
    board = fit_leaderboard(PairwiseVotes.from_records(model_a, model_b, winner), bootstrap=0)
    index = {m: k for k, m in enumerate(board.models)}
    a = np.array([index[x] for x in model_a])
    b = np.array([index[x] for x in model_b])
    s = np.array([{"model_a": 1.0, "model_b": 0.0}.get(w, 0.5) for w in winner])

    def nll(free):
        theta = np.concatenate([[0.0], free])
        d = theta[a] - theta[b]
        return float(np.sum(s * np.logaddexp(0, -d) + (1 - s) * np.logaddexp(0, d)))

    free = minimize(nll, np.zeros(3), method="Nelder-Mead",
                    options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 20_000}).x
    theta = np.concatenate([[0.0], free])
    reference = 1000 + ELO_PER_UNIT * (theta - theta.mean())
    assert np.max(np.abs(board.ratings - reference)) < 0.05


@pytest.mark.parametrize("tie", ["tie", "tie (bothbad)"])
def test_ties_count_as_half_wins(tie):
    # 6 wins for A and 4 ties: A scored 8 of 10, so P(A beats B) = 0.8 at the MLE.
    votes = PairwiseVotes.from_records(["A"] * 10, ["B"] * 10, ["model_a"] * 6 + [tie] * 4)
    board = fit_leaderboard(votes, bootstrap=0)
    assert board.rating_of("A") - board.rating_of("B") == pytest.approx(400 * math.log10(4), abs=1e-4)
    halves = PairwiseVotes.from_records(["A"] * 10, ["B"] * 10, ["model_a"] * 8 + ["model_b"] * 2)
    assert fit_leaderboard(halves, bootstrap=0).ratings == pytest.approx(board.ratings, abs=1e-4)


def test_bootstrap_is_reproducible_with_a_seed(known_strengths):
    votes = PairwiseVotes.from_records(*generate_votes(known_strengths, 3000, seed=4))
    first = fit_leaderboard(votes, bootstrap=30, seed=11)
    again = fit_leaderboard(votes, bootstrap=30, seed=11)
    other = fit_leaderboard(votes, bootstrap=30, seed=12)
    assert np.array_equal(first.replicates, again.replicates)
    assert not np.array_equal(first.replicates, other.replicates)
    assert first.replicates.shape == (30, 8)
    assert np.all(first.lower <= first.ratings) and np.all(first.ratings <= first.upper)


def test_bootstrap_intervals_cover_the_truth():
    strength = np.array([0.8, 0.3, 0.0, -0.2, -0.9])
    covered = total = 0
    for seed in range(12):
        records = generate_votes(strength, 1500, seed=100 + seed, tie_rate=0.0)
        board = fit_leaderboard(PairwiseVotes.from_records(*records), bootstrap=100, seed=seed)
        truth = _elo_truth(strength, board.models)
        for k, model in enumerate(board.models):
            covered += board.lower[k] <= truth[model] <= board.upper[k]
            total += 1
    # Nominal 95%; 60 intervals, so anything under 85% would be a real miss.
    assert covered / total >= 0.85


def test_rank_is_one_plus_models_clearly_above():
    lower = np.array([1100.0, 1090.0, 1000.0, 900.0])
    upper = np.array([1200.0, 1150.0, 1095.0, 1010.0])
    # Model 2's upper bound (1095) is below model 0's lower (1100) only;
    # model 3 is clearly below 0 and 1 (lower 1100, 1090 > 1010) but overlaps 2.
    assert ranks_from_intervals(lower, upper).tolist() == [1, 1, 2, 3]


def test_unbounded_ratings_are_refused():
    votes = PairwiseVotes.from_records(["A", "A", "B"], ["B", "C", "C"], ["model_a", "model_a", "tie"])
    with pytest.raises(InputError, match="never lose"):
        fit_leaderboard(votes, bootstrap=0)


def test_anchor_pins_a_model():
    votes = PairwiseVotes.from_records(["A", "A", "B", "B", "C"], ["B", "B", "C", "A", "A"],
                                       ["model_a", "tie", "model_b", "model_a", "model_b"])
    board = fit_leaderboard(votes, bootstrap=10, anchor=("B", 1114.0))
    assert board.rating_of("B") == pytest.approx(1114.0)
    assert board.anchor == "B = 1114"
