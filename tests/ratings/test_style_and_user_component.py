"""Style control separates substance from length; the user component maps ratings to 0-100."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gauntlet.domain.components import ComponentScore
from gauntlet.errors import InputError
from gauntlet.ratings.bradley_terry import Leaderboard, fit_leaderboard
from gauntlet.ratings.style import style_counts
from gauntlet.ratings.user_component import user_component_scores
from gauntlet.ratings.votes import PairwiseVotes


def test_style_counts_reads_markdown():
    answer = "# Title\n\nSome **bold** words and __more__.\n\n- one\n- two\n1. three\n"
    tokens, headers, items, bold = style_counts(answer)
    assert (headers, items, bold) == (1, 3, 2)
    assert tokens == len(answer.split())


def test_style_control_removes_a_length_advantage():
    # Equal substance; "verbose" writes long answers and voters favour length.
    rng = np.random.default_rng(0)
    models = ["verbose", "terse", "plain"]
    length = {"verbose": 400, "terse": 60, "plain": 150}
    a_list, b_list, winners, style = [], [], [], []
    for _ in range(6000):
        a, b = rng.choice(models, size=2, replace=False)
        la = length[a] * rng.uniform(0.5, 1.5)
        lb = length[b] * rng.uniform(0.5, 1.5)
        p = 1 / (1 + math.exp(-2.0 * (la - lb) / (la + lb + 1)))
        winners.append("model_a" if rng.random() < p else "model_b")
        a_list.append(a)
        b_list.append(b)
        style.append([la, 0, 0, 0, lb, 0, 0, 0])
    votes = PairwiseVotes.from_records(a_list, b_list, winners, style=np.array(style))
    plain = fit_leaderboard(votes, bootstrap=0)
    controlled = fit_leaderboard(votes, bootstrap=10, style_control=True)
    spread = lambda board: board.rating_of("verbose") - board.rating_of("terse")  # noqa: E731
    assert spread(plain) > 100
    assert abs(spread(controlled)) < 25
    assert controlled.style_coefficients["sum_assistant_tokens"] > 0.3


def _board(ratings, replicates=None):
    models = tuple(f"m{k}" for k in range(len(ratings)))
    r = np.array(ratings, dtype=float)
    reps = np.empty((0, len(r))) if replicates is None else np.array(replicates, dtype=float)
    return Leaderboard(models, r, r, r, np.ones(len(r), int), reps, 10, "mean rating = 1000")


def test_win_rate_is_expected_score_against_the_field():
    scores = user_component_scores(_board([1000.0, 1000.0, 1000.0]))
    assert all(s.value == pytest.approx(50.0) for s in scores.values())
    scores = user_component_scores(_board([1200.0, 1000.0]))
    p = 1 / (1 + 10 ** (-200 / 400))
    assert scores["m0"].value == pytest.approx(100 * p)
    assert scores["m1"].value == pytest.approx(100 * (1 - p))


def test_relative_to_best_gives_the_best_full_marks():
    scores = user_component_scores(_board([1300.0, 900.0, 1100.0]), "relative_to_best")
    assert scores["m0"].value == pytest.approx(100.0)
    assert scores["m1"].value == pytest.approx(10.0)
    assert 10.0 < scores["m2"].value < 100.0


def test_component_interval_and_samples_come_from_the_bootstrap():
    reps = [[1010, 990, 1000], [1050, 960, 990], [980, 1000, 1020], [1030, 1000, 970]]
    scores = user_component_scores(_board([1020.0, 985.0, 995.0], reps))
    assert all(isinstance(s, ComponentScore) for s in scores.values())
    assert len(scores["m0"].samples) == 4
    for s in scores.values():
        assert 0.0 <= s.lower <= s.value <= s.upper <= 100.0


def test_unknown_conversion_is_refused():
    with pytest.raises(InputError, match="win_rate"):
        user_component_scores(_board([1000.0, 1000.0]), "borda")
