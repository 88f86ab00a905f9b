"""Permutation-null tests between two models' weight sketches, and their combination.

Null hypothesis: the two models were initialised and trained independently.
Initialisation and optimisers (SGD, Adam) treat the units of a width axis
(residual coordinates, MLP neurons, attention channels) symmetrically, so under
the null the *order* of model B's units along such an axis carries no
information about model A. Every statistic below is a sum of products between
A's and B's numbers, and its null mean and variance are the exact moments over
uniformly random relabellings of B's exchangeable axis (Mantel 1967 for
symmetric matrices; Hoeffding's combinatorial CLT for linear statistics).
The z-score is turned into a one-sided p-value with the normal tail.
Axes tied to an external basis (tokens, positions, pixels) are never permuted.

Evidence is combined with Fisher's method (across tensors/modules) and
Sidak's correction (taking the best of several comparisons); references are
corrected with Holm's step-down procedure.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

# ---------------------------------------------------------------- Mantel test


def mantel_summaries(grams: np.ndarray) -> np.ndarray:
    """Per-matrix sums the Mantel null moments need: (S1, S2, S3) for each zero-diagonal
    symmetric matrix in a stack of shape (N, k, k)."""
    s1 = grams.sum(axis=(1, 2))
    s2 = (grams**2).sum(axis=(1, 2))
    s3 = (grams.sum(axis=2) ** 2).sum(axis=1)
    return np.stack([s1, s2, s3], axis=1)


def mantel_z(observed: np.ndarray, sa: np.ndarray, sb: np.ndarray, k: int) -> np.ndarray:
    """z-scores of Z = sum_{i!=j} a_ij b_ij against random simultaneous relabelling of
    B's rows and columns. `observed` is (NA, NB); sa/sb are `mantel_summaries`."""
    n2 = k * (k - 1)
    n3 = n2 * (k - 2)
    n4 = n3 * (k - 3)
    a1, a2, a3 = (sa[:, i][:, None] for i in range(3))
    b1, b2, b3 = (sb[:, i][None, :] for i in range(3))
    mean = a1 * b1 / n2
    second = 2 * a2 * b2 / n2 + 4 * (a3 - a2) * (b3 - b2) / n3 + (a1**2 + 2 * a2 - 4 * a3) * (b1**2 + 2 * b2 - 4 * b3) / n4
    var = np.maximum(second - mean**2, 1e-30)
    return (observed - mean) / np.sqrt(var)


# ------------------------------------------------------- direct block test


def double_centre(block: np.ndarray) -> np.ndarray:
    block = block - block.mean(axis=1, keepdims=True)
    return block - block.mean(axis=0, keepdims=True)


def direct_z(observed: np.ndarray, var_rows: np.ndarray, var_cols: np.ndarray) -> np.ndarray:
    """z-score of <A, B> for double-centred blocks. Under a random relabelling of B's
    columns, E=0 and Var = ||A^T B||_F^2/(m-1) = <AA^T, BB^T>/(m-1); likewise for rows.
    `var_rows`/`var_cols` hold those variances (NaN where the axis is not exchangeable);
    we use the larger one, which is valid whenever either axis is exchangeable."""
    var = np.fmax(var_rows, var_cols)
    var = np.where(np.isnan(var), np.inf, np.maximum(var, 1e-30))
    return observed / np.sqrt(var)


# ---------------------------------------------------------- p-value algebra


def p_from_z(z: np.ndarray | float) -> np.ndarray:
    return stats.norm.sf(z)


def sidak(p: float, m: int) -> float:
    """Probability that the best of m independent null comparisons is at least this good."""
    if m <= 1:
        return float(p)
    return float(-np.expm1(m * np.log1p(-min(p, 1.0 - 1e-16)))) if p > 1e-12 else float(min(1.0, m * p))


def fisher(ps) -> float:
    ps = np.clip(np.asarray(list(ps), dtype=float), 1e-300, 1.0)
    if ps.size == 0:
        return 1.0
    if ps.size == 1:
        return float(ps[0])
    return float(stats.chi2.sf(-2.0 * np.log(ps).sum(), 2 * ps.size))


def holm(ps: list[float]) -> list[float]:
    """Holm step-down adjusted p-values (monotone, capped at 1)."""
    order = np.argsort(ps)
    m = len(ps)
    adjusted = [1.0] * m
    running = 0.0
    for rank, idx in enumerate(order):
        running = max(running, min(1.0, (m - rank) * ps[idx]))
        adjusted[idx] = running
    return adjusted


def pearson_permutation_p(a: np.ndarray, b: np.ndarray) -> float:
    """Centred correlation of two vectors under random relabelling of b (norm gains etc.).
    Constant vectors (e.g. norms all exactly 1.0) carry no information: p = 1."""
    a = a - a.mean()
    b = b - b.mean()
    denom = np.sqrt((a @ a) * (b @ b))
    if a.size < 4 or denom < 1e-12 * max(1.0, a.size):
        return 1.0
    r = float(a @ b / denom)
    return float(p_from_z(r * np.sqrt(a.size - 1)))
