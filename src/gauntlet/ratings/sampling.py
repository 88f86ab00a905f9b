"""Which two models meet in the next battle.

`UniformPairSampler` draws every pair equally often.  `ActivePairSampler`
spends votes where the ranking is still uncertain: every `refit_every` votes
(or every `refit_share` of the votes so far, when that is more: an estimate
from 20,000 votes hardly moves with 25 more, and every server process refits
on every vote it learns of) it refits Bradley-Terry on the votes so far,
takes the covariance of the log-strengths from the Fisher information, and
draws pair (i, j) with probability proportional to the chance that their current order is wrong,
Phi(-|theta_i - theta_j| / sd(theta_i - theta_j)), mixed with a uniform
share (`exploration`) so that no pair is ever starved.  Pairs that are
clearly ordered stop consuming votes; close pairs get them.  This follows
the Chatbot Arena paper's idea of sampling to shrink uncertainty fastest,
aimed at the ranking (what a cut decides) rather than at the win matrix.
benchmarks/bench_ratings_sampling.py compares the two.
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import combinations
from typing import Sequence

import numpy as np

from gauntlet.errors import InputError


class UniformPairSampler:
    name = "uniform"

    def __init__(self, models: Sequence[str]) -> None:
        if len(models) < 2:
            raise InputError("an arena needs at least two models")
        self.models = tuple(models)
        self.pairs = list(combinations(range(len(models)), 2))

    def observe(self, model_a: str, model_b: str, score_a: float) -> None:
        """Record a vote's outcome (model_a's score: 1, 0.5 or 0)."""

    def pair_probabilities(self) -> np.ndarray:
        return np.full(len(self.pairs), 1.0 / len(self.pairs))

    def _draw(self, rng: np.random.Generator) -> int:
        return int(rng.integers(len(self.pairs)))

    def __call__(self, rng: np.random.Generator) -> tuple[str, str]:
        i, j = self.pairs[self._draw(rng)]
        return self.models[i], self.models[j]


class ActivePairSampler(UniformPairSampler):
    name = "active"

    def __init__(self, models: Sequence[str], *, refit_every: int = 25, refit_share: float = 0.02,
                 exploration: float = 0.2, prior: float = 1.0) -> None:
        super().__init__(models)
        if not 0.0 < exploration <= 1.0:
            raise InputError("exploration must be in (0, 1]")
        self.refit_every = refit_every
        self.refit_share = refit_share
        self.exploration = exploration
        # A weak Gaussian prior (in votes' worth) keeps early fits finite.
        self.prior = prior
        self._index = {m: k for k, m in enumerate(self.models)}
        self._pair_index = {p: k for k, p in enumerate(self.pairs)}
        self.w = np.zeros(len(self.pairs))
        self.s = np.zeros(len(self.pairs))
        self._since_refit = 0
        self._set(super().pair_probabilities())

    def _set(self, probabilities: np.ndarray) -> None:
        self._probabilities = probabilities
        # Drawn by inverting the cumulative sum: the arena draws a pair per battle served, and
        # Generator.choice(p=...) checks p again on every call (most of a draw's cost).
        self._cumulative = np.cumsum(probabilities).tolist()

    def _draw(self, rng: np.random.Generator) -> int:
        u = rng.random() * self._cumulative[-1]
        return min(bisect_right(self._cumulative, u), len(self._cumulative) - 1)

    def observe(self, model_a: str, model_b: str, score_a: float) -> None:
        i, j = self._index[model_a], self._index[model_b]
        if i > j:
            i, j, score_a = j, i, 1.0 - score_a
        k = self._pair_index[(i, j)]
        self.w[k] += 1.0
        self.s[k] += score_a
        self._since_refit += 1
        if self._since_refit >= max(self.refit_every, self.refit_share * self.w.sum()):
            self._since_refit = 0
            self._set(self._misorder_probabilities())

    def _misorder_probabilities(self) -> np.ndarray:
        from scipy.special import ndtr

        from gauntlet.ratings.bradley_terry import fit_log_strengths

        n = len(self.models)
        i = np.array([p[0] for p in self.pairs])
        j = np.array([p[1] for p in self.pairs])
        theta = fit_log_strengths(i, j, self.w, self.s, n, l2=self.prior)
        p = 1.0 / (1.0 + np.exp(-(theta[i] - theta[j])))
        info = np.zeros((n, n))
        v = self.w * p * (1.0 - p)
        np.add.at(info, (i, i), v)
        np.add.at(info, (j, j), v)
        np.add.at(info, (i, j), -v)
        np.add.at(info, (j, i), -v)
        info += self.prior * np.eye(n)
        cov = np.linalg.inv(info)
        sd = np.sqrt(np.maximum(cov[i, i] + cov[j, j] - 2.0 * cov[i, j], 1e-12))
        wrong = ndtr(-np.abs(theta[i] - theta[j]) / sd)
        if wrong.sum() <= 0:
            return super().pair_probabilities()
        return (1.0 - self.exploration) * wrong / wrong.sum() + self.exploration / len(self.pairs)

    def pair_probabilities(self) -> np.ndarray:
        return self._probabilities


SAMPLERS = {"uniform": UniformPairSampler, "active": ActivePairSampler}


def make_sampler(policy: str, models: Sequence[str]) -> UniformPairSampler:
    try:
        return SAMPLERS[policy](models)
    except KeyError:
        raise InputError(f"unknown sampling policy {policy!r}; choose one of {', '.join(SAMPLERS)}") from None
