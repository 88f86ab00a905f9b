"""Exact permutation tests between two models' units, and combinations valid under any dependence.

Null hypothesis: the two models were initialised and trained independently.
Initialisation and optimisers (SGD, Adam) treat the units of a width axis
(residual coordinates, MLP neurons, attention channels) symmetrically, so under
the null the labels of model B's units along such an axis are exchangeable:
relabelling them leaves B's distribution unchanged, whatever A is.

The matched-units test. Each unit of A and of B is described by a feature
vector whose coordinates do not move when B's units are relabelled (its values
along another axis, or its cosines with a disjoint set of units). A's units are
matched one-to-one to B's by a linear assignment on |correlation| of the
features; the statistic is F, the number of units matched to the unit with the
same index. Relabelling B by a permutation s turns the matching m into
s^-1 . m (exactly where the optimum is unique, in distribution where it ties:
ties are broken at random, `assignment_fixed_points`), so under the null the
matching is a uniformly random permutation and F has exactly the distribution
of the fixed points of one (rencontres numbers, about Poisson(1)): P(F >= 8) ~
1e-5 however the weights are distributed, provided the units are exchangeable;
`validity` keeps out the axes where they are not (formula tables, constant or
repeated units). That
exactness is the point: an earlier version used normal approximations to
Mantel / cross-product statistics, whose tails are heavier than normal for
trained weights (few dominant directions), and Fisher's method then compounded
many slightly-too-small p-values into a false accusation between two BERTs
trained from scratch (p = 5e-9).

Combination. Statistics of different tensors share the models' bases, so their
p-values are dependent; Fisher's method assumes independence and is
anti-conservative under positive dependence. We merge with a rule that is valid
under *any* dependence (derived below at `merge`), search over counterparts
with Bonferroni, and correct across references with Holm.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.special import gammaln

P_FLOOR = 1e-300

# -------------------------------------------------- the fixed-point null


def _log_fixed_point_pmf(n: int) -> np.ndarray:
    """log P(F = k), k = 0..n, for the fixed points of a uniform random permutation of n:
    P(F = k) = (1/k!) * sum_{i=0}^{n-k} (-1)^i / i!."""
    i = np.arange(n + 1)
    alternating = np.cumsum((-1.0) ** i * np.exp(-gammaln(i + 1)))  # s(j) for j = 0..n
    k = np.arange(n + 1)
    s = alternating[n - k]
    with np.errstate(divide="ignore"):
        return np.where(s > 0, np.log(np.clip(s, 1e-300, None)), -np.inf) - gammaln(k + 1)


_TAILS: dict[int, np.ndarray] = {}


def fixed_point_tail(n: int, f: int) -> float:
    """P(F >= f) for the number of fixed points F of a uniform random permutation of n."""
    if f <= 0:
        return 1.0
    if f > n:
        return 0.0
    tail = _TAILS.get(n)
    if tail is None:
        logp = _log_fixed_point_pmf(n)
        # tail[k] = P(F >= k), summed from the top so tiny tails keep their precision
        tail = np.exp(np.logaddexp.accumulate(logp[::-1])[::-1])
        _TAILS[n] = tail
    return float(min(1.0, max(tail[f], 0.0)))


def _standardise(features: np.ndarray) -> np.ndarray:
    """Centre and scale each unit's feature vector (rows), so dot products are correlations.
    float32 is ample for the matching and halves what a library audit holds."""
    f = features.astype(np.float32)
    f = f - f.mean(axis=-1, keepdims=True)
    norm = np.linalg.norm(f, axis=-1, keepdims=True)
    return np.divide(f, norm, out=np.zeros_like(f), where=norm > 0)


def matched_units(features_a: np.ndarray, features_b: np.ndarray, *, standardised: bool = False) -> tuple[int, float]:
    """(F, p): fixed points of the optimal one-to-one matching of A's units to B's
    (rows of the feature matrices), and P(F_null >= F) under exchangeable units."""
    n = features_a.shape[0]
    if features_b.shape[0] != n or features_a.shape[1] != features_b.shape[1]:
        raise ValueError("matched_units needs the same number of units and feature coordinates")
    if not standardised:
        features_a, features_b = _standardise(features_a), _standardise(features_b)
    f = assignment_fixed_points(np.abs(features_a @ features_b.T))
    return f, fixed_point_tail(n, f)


def assignment_fixed_points(similarity: np.ndarray) -> int:
    """Fixed points of the one-to-one matching of rows to columns that maximises total similarity.

    Ties are broken at random: the solver resolves a tie to the identity, which would count
    tied units (constant or repeated ones, all similarities equal) as units in place. Solving
    on randomly relabelled columns and mapping back makes the matching equivariant in
    distribution, m(S[:, s]) ~ s^-1 . m(S), which is all the fixed-point null needs, ties or
    not. The relabelling is seeded by the matrix's bytes, so an audit is reproducible."""
    import hashlib

    s = np.ascontiguousarray(similarity)
    seed = int.from_bytes(hashlib.sha256(s.tobytes()).digest()[:8], "little")
    shuffle = np.random.default_rng(seed).permutation(s.shape[1])
    rows, cols = linear_sum_assignment(s[:, shuffle], maximize=True)
    return int((rows == shuffle[cols]).sum())


# ---------------------------------------------------------- p-value algebra


def bonferroni(p: float, m: int) -> float:
    """Valid for the best of m comparisons however they depend on each other."""
    return float(min(1.0, max(p, 0.0) * max(1, m)))


def merge(ps) -> float:
    """Merge p-values that may depend on each other in any way into one valid p-value.

    With H the harmonic mean of the L p-values and t = L / H = sum 1/p_i, for any
    super-uniform p_i: P(sum 1/p_i >= t) <= P(max 1/p_i >= t) + E[sum min(1/p_i, t)] / t
    <= L/t + L(1 + ln t)/t = H (2 + ln(L/H)). So H (2 + ln(L/H)) is a valid p-value
    under arbitrary dependence (a cousin of Vovk & Wang's harmonic-mean merging,
    Biometrika 2020). One strong p among many weak ones survives (about L x p, like
    Bonferroni); many moderately small ones reinforce each other.
    """
    ps = np.clip(np.asarray(list(ps), dtype=float), P_FLOOR, 1.0)
    if ps.size == 0:
        return 1.0
    if ps.size == 1:
        return float(ps[0])
    h = ps.size / np.sum(1.0 / ps)
    return float(min(1.0, h * (2.0 + math.log(ps.size / h))))


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


# ------------------------------------------- Monte Carlo for weak, pooled evidence


def trace_moments(similarity: np.ndarray) -> tuple[float, float]:
    """Exact mean and standard deviation of trace(S[:, s]) over uniform permutations s of
    S's columns (Hoeffding's combinatorial statistic)."""
    s = np.asarray(similarity, dtype=np.float64)
    n = s.shape[0]
    centred = s - s.mean(axis=0) - s.mean(axis=1, keepdims=True) + s.mean()
    return float(s.sum() / n), float(np.sqrt((centred ** 2).sum() / max(1, n - 1)))


class _TraceDraws:
    """Traces of one similarity matrix under random relabelling of its columns, drawn
    reproducibly (the generator is seeded by the matrix's bytes and a salt)."""

    def __init__(self, similarity: np.ndarray, salt: bytes = b""):
        import hashlib

        self.s = np.asarray(similarity, dtype=np.float64)
        self.observed = float(np.trace(self.s))
        seed = int.from_bytes(hashlib.sha256(salt + self.s.tobytes()).digest()[:8], "little")
        self._rng = np.random.default_rng(seed)
        self._rows = np.arange(self.s.shape[0])

    def exceed(self, size: int) -> np.ndarray:
        """For `size` fresh permutations: does the permuted trace reach the observed one?"""
        n = self._rows.size
        perms = self._rng.permuted(np.broadcast_to(self._rows, (size, n)), axis=1)
        totals = self.s[self._rows, perms].sum(axis=1)
        # a tolerance so that float reordering never counts the observed value as below itself
        return totals >= self.observed - 1e-9 * max(1.0, abs(self.observed))


def diagonal_permutation_p(similarity: np.ndarray, *, max_permutations: int = 1_000_000,
                           exceedances: int = 20, screen_z: float | None = None) -> float:
    """P-value of T = trace(S) against T under random relabelling of S's columns,
    by sequential Monte Carlo (Besag & Clifford 1991): sampling stops after
    `exceedances` permutations reach T, so null cases cost a few hundred
    permutations and only strong evidence pays for the full run. The p-value is
    exactly valid (never below the true permutation p-value in distribution); its
    floor is 1 / (max_permutations + 1).

    Where fixed points need each unit to be recognisable on its own, the trace
    adds up weak evidence over all units (heavy continued training), at the cost
    of a Monte Carlo floor instead of an exact tail."""
    draws = _TraceDraws(similarity)
    if screen_z is not None:
        # Used only to skip hopeless cases: a skipped test reports p = 1.
        mean, sd = trace_moments(draws.s)
        if sd > 0 and (draws.observed - mean) / sd < screen_z:
            return 1.0
    done = hits = 0
    batch = 256
    while done < max_permutations:
        exceed = draws.exceed(min(batch, max_permutations - done))
        if hits + int(exceed.sum()) >= exceedances:
            need = exceedances - hits
            stop = int(np.flatnonzero(exceed)[need - 1]) + 1
            return float(exceedances / (done + stop))
        hits += int(exceed.sum())
        done += exceed.size
        batch = min(batch * 4, 65536)
    return float((hits + 1) / (max_permutations + 1))


def calibrated_trace_p(similarity: np.ndarray, *, fixed: int = 4000, switch: float = 0.01,
                       max_permutations: int = 1_000_000) -> float:
    """A trace permutation p-value that is uniform under the null above `switch` and can still
    reach 1 / (max_permutations + 1) below it.

    Stage 1 draws `fixed` permutations and gives the plain Monte Carlo p-value
    p1 = (1 + exceedances) / (fixed + 1), valid and uniform in steps of 1 / (fixed + 1).
    When p1 > switch it is the answer; otherwise stage 2 answers with the sequential
    p-value of *fresh* permutations (`diagonal_permutation_p`). Valid: for a level
    a >= switch, p <= a needs p1 <= a; for a < switch, p <= a needs stage 2's own valid
    p-value <= a. A sequential p-value alone (h / k) leans up near 1 (measured 1.08x the
    top decile's share at h = 100), which is why stage 1 uses a fixed number."""
    draws = _TraceDraws(similarity, salt=b"fixed")
    hits = sum(int(draws.exceed(min(2048, fixed - start)).sum()) for start in range(0, fixed, 2048))
    p1 = (hits + 1) / (fixed + 1)
    if p1 > switch:
        return float(p1)
    return diagonal_permutation_p(draws.s, max_permutations=max_permutations)
