"""From an arena leaderboard to the 0-100 user-evaluation component.

Two conversions, chosen by name (a challenge spec names one):

``win_rate`` (default)
    100 x the model's mean predicted probability of beating each other model
    in the round (ties as half wins), from the Bradley-Terry ratings.  It is
    the expected score of the model in a battle against an opponent drawn
    uniformly from the round, so 50 is "as good as the field", it does not
    depend on the arbitrary Elo anchor, and it stays in 0-100 by
    construction.

``relative_to_best``
    100 x the model's odds of beating the round's best model,
    exp((R - R_best) ln 10 / 400): the best model scores 100 (as the
    programme's top team received the full 25 user points), a model 400
    Elo below the best scores 10.

The interval and the samples come from the same conversion applied to each
bootstrap replicate of the ratings (each replicate's own best for
``relative_to_best``).  The interval is widened to contain the point value
when the bootstrap distribution is skewed past it, as `ComponentScore`
requires.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from gauntlet.domain.components import ComponentScore
from gauntlet.errors import InputError
from gauntlet.ratings.bradley_terry import ELO_PER_UNIT, Leaderboard


def _win_rate(elo: np.ndarray) -> np.ndarray:
    diff = (elo[..., :, None] - elo[..., None, :]) / ELO_PER_UNIT
    p = 1.0 / (1.0 + np.exp(-diff))
    n = elo.shape[-1]
    # The diagonal contributes exactly 0.5 per model; remove it.
    return 100.0 * (p.sum(axis=-1) - 0.5) / (n - 1)


def _relative_to_best(elo: np.ndarray) -> np.ndarray:
    best = elo.max(axis=-1, keepdims=True)
    return 100.0 * np.exp((elo - best) / ELO_PER_UNIT)


USER_COMPONENT_METHODS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "win_rate": _win_rate,
    "relative_to_best": _relative_to_best,
}


def user_component_scores(leaderboard: Leaderboard, method: str = "win_rate") -> dict[str, ComponentScore]:
    """0-100 user-component scores per model, with 95% interval and bootstrap samples."""
    try:
        convert = USER_COMPONENT_METHODS[method]
    except KeyError:
        raise InputError(
            f"unknown user-component method {method!r}; choose one of {', '.join(USER_COMPONENT_METHODS)}"
        ) from None
    if len(leaderboard.models) < 2:
        raise InputError("the user component needs at least two models in the arena")
    value = convert(np.asarray(leaderboard.ratings, dtype=np.float64))
    samples = convert(leaderboard.replicates) if len(leaderboard.replicates) else np.empty((0, len(value)))
    scores = {}
    for k, model in enumerate(leaderboard.models):
        v = float(value[k])
        if len(samples):
            column = samples[:, k]
            lower = min(float(np.quantile(column, 0.025)), v)
            upper = max(float(np.quantile(column, 0.975)), v)
            scores[model] = ComponentScore(v, lower, upper, tuple(float(x) for x in column))
        else:
            scores[model] = ComponentScore.exact(v)
    return scores
