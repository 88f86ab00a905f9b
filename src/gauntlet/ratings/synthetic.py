"""Votes drawn from a known Bradley-Terry model, for tests, benchmarks and demos."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np


def generate_votes(
    strength: Sequence[float], n_votes: int, seed: int, tie_rate: float = 0.15, names: Sequence[str] | None = None,
) -> tuple[list[str], list[str], list[str]]:
    """Per-vote (model_a, model_b, winner) lists: pairs uniform, a tie (half of
    them "tie (bothbad)") with probability `tie_rate`, otherwise model_a wins
    with P = 1 / (1 + exp(-(s_a - s_b))).  Ties being independent of the gap,
    the maximum-likelihood strengths are shrunk towards each other by the tie
    share; callers that compare with the truth use `tie_rate=0` or allow for it."""
    strength = np.asarray(strength, dtype=np.float64)
    rng = np.random.default_rng(seed)
    m = len(strength)
    names = list(names) if names is not None else [f"m{k}" for k in range(m)]
    a = rng.integers(0, m, n_votes)
    b = (a + rng.integers(1, m, n_votes)) % m
    p = 1.0 / (1.0 + np.exp(-(strength[a] - strength[b])))
    tie = rng.random(n_votes) < tie_rate
    both_bad = rng.random(n_votes) < 0.5
    a_wins = rng.random(n_votes) < p
    winner = np.where(tie, np.where(both_bad, "tie (bothbad)", "tie"), np.where(a_wins, "model_a", "model_b"))
    return [names[i] for i in a], [names[j] for j in b], winner.tolist()


def write_vote_csv(path: Path, model_a, model_b, winner) -> Path:
    """FastChat's three columns, no quoting."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("model_a,model_b,winner\n")
        f.write("".join(f"{x},{y},{w}\n" for x, y, w in zip(model_a, model_b, winner)))
    return path
