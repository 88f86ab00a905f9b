"""One exact test per width of the model, pooling the evidence of every tensor that shares it.

After heavy continued pre-training each tensor keeps only a faint trace of its
origin: a unit's correlation with its original might be 0.1, too weak to be
matched inside one tensor. But a residual coordinate (or an MLP neuron) is one
unit of *every* tensor that touches it, and the traces add up across tensors.

Under the null the model's symmetries act on whole axes at once: relabelling
the residual stream permutes the columns of every q/k/v/gate/up/embedding
matrix and the rows of every o/down matrix together. So we sum, over paired
tensors, the unit-similarity matrices of every exchangeable axis of a given
length, match units once on the sum (linear assignment) and count fixed
points; the sum turns equivariantly under that joint relabelling, so the
fixed-point count again has the exact rencontres distribution.

Two details keep it exact. (1) Only the first u = min(64, length/2) units of
each axis are relabelled, and a feature axis that the same relabelling could
touch (an exchangeable axis of the same length) contributes only its
coordinates [u, K), which never move. (2) Tensors are paired by identical name
and shape. Names are not trusted for *validity*: the pairing does not look at
B's unit labels, so any pairing keeps the test exact; a renamed model only
loses this extra test (the per-tensor search in `align` still runs).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.optimize import linear_sum_assignment

from gauntlet.provenance.align import MIN_FEATURES, MIN_UNITS, UNITS, _cache
from gauntlet.provenance.statistics import _standardise, diagonal_permutation_p, fixed_point_tail

MAX_PERMUTATIONS = 1_000_000
# Monte Carlo runs only when the trace is this many permutation standard deviations above
# its permutation mean; below that it could not reach a small p-value, and skipping
# reports p = 1 (valid). Keeps an audit against a large library fast.
TRACE_SCREEN_Z = 2.0


@dataclass
class SharedAxisResult:
    length: int  # the width tested (e.g. hidden size, MLP size)
    units: int
    fixed_points: int
    tensors: int  # tensor axes pooled
    p_fixed_points: float  # exact
    p_trace: float  # sequential Monte Carlo (floor 1e-6); 1.0 when not needed
    p_value: float  # the better of the two, Bonferroni x 2

    def to_dict(self) -> dict:
        return {"length": self.length, "units": self.units, "fixed_points": self.fixed_points,
                "tensors": self.tensors, "p_fixed_points": self.p_fixed_points, "p_trace": self.p_trace,
                "p_value": self.p_value}


def _features(side, j: int, axis: str, u: int, start: int) -> np.ndarray:
    """Standardised unit features of tensor j along `axis`, cached on the fingerprint's side."""
    cache = side.__dict__.setdefault("_shared_features", {})
    key = (j, axis, u, start)
    if key not in cache:
        blk = side.sk[j].block if axis == "rows" else side.sk[j].block.T
        cache[key] = _standardise(blk[:u, start:])
    return cache[key]


def _paired(A, B):
    """(ja, jb) of tensors with the same name and shape in both models."""
    by_name = {t.name: j for j, t in enumerate(B.sk)}
    for ja, ta in enumerate(A.sk):
        jb = by_name.get(ta.name)
        if jb is not None and B.sk[jb].shape == ta.shape and B.sk[jb].block.shape == ta.block.shape:
            yield ja, jb


def _axes(A, B, ja: int, jb: int):
    """(axis, length, other length, other axis exchangeable) for the exchangeable axes of a pair."""
    ta = A.sk[ja]
    for axis in ("cols", "rows"):
        ex_a = A.ex_cols[ja] if axis == "cols" else A.ex_rows[ja]
        ex_b = B.ex_cols[jb] if axis == "cols" else B.ex_rows[jb]
        if not (ex_a and ex_b):
            continue
        length, other = (ta.cols, ta.rows) if axis == "cols" else (ta.rows, ta.cols)
        other_ex = (A.ex_rows[ja] or B.ex_rows[jb]) if axis == "cols" else (A.ex_cols[ja] or B.ex_cols[jb])
        yield axis, length, other, other_ex


def _contributions(A, B, units: int | None = None) -> list[tuple[str, int, np.ndarray]]:
    """(candidate tensor name, axis length, unit-similarity matrix) for every exchangeable
    axis of every name-paired tensor.

    units=None: one test per length; the first min(64, length/2) units are relabelled, and
    a feature axis of the *same* length contributes only coordinates the relabelling cannot
    touch. units=u: the whole-model test; the same u units of *every* exchangeable axis are
    relabelled by one permutation, so every exchangeable feature axis gives up its first u."""
    out = []
    for ja, jb in _paired(A, B):
        for axis, length, other, other_ex in _axes(A, B, ja, jb):
            if units is None:
                u = min(UNITS, length // 2)
                start = u if (other == length and other_ex) else 0
            else:
                u = units if length >= 2 * units else 0
                start = units if other_ex else 0
            kept = A.sk[ja].block.shape[0 if axis == "cols" else 1]  # feature coordinates kept
            if u < MIN_UNITS or kept - start < MIN_FEATURES:
                continue
            fa, fb = _features(A, ja, axis, u, start), _features(B, jb, axis, u, start)
            if fa.shape[1] < MIN_FEATURES:
                continue
            out.append((A.sk[ja].name, length, fa @ fb.T))
    return out


def _test(contributions) -> list[SharedAxisResult]:
    sums: dict[int, np.ndarray] = {}
    counts: dict[int, int] = defaultdict(int)
    for _, length, sim in contributions:
        prev = sums.get(length)
        sums[length] = sim if prev is None else prev + sim
        counts[length] += 1
    results = []
    for length, total in sorted(sums.items()):
        rows, cols = linear_sum_assignment(np.abs(total), maximize=True)
        f = int((rows == cols).sum())
        p_fixed = fixed_point_tail(total.shape[0], f)
        # Monte Carlo only where it could say more than the exact test already does
        p_trace = (diagonal_permutation_p(total, max_permutations=MAX_PERMUTATIONS, screen_z=TRACE_SCREEN_Z)
                   if p_fixed * MAX_PERMUTATIONS > 1 else 1.0)
        results.append(SharedAxisResult(length, total.shape[0], f, counts[length], p_fixed, p_trace,
                                        min(1.0, 2 * min(p_fixed, p_trace))))
    return results


def shared_axis_tests(candidate, reference, group: Callable[[str], str] | None = None):
    """One exact test per exchangeable axis length over name-paired tensors: a list for the
    whole model, or with `group` (tensor name -> module) a dict of lists per module."""
    contributions = _contributions(_cache(candidate), _cache(reference))
    if group is None:
        return _test(contributions)
    by_group: dict[str, list] = defaultdict(list)
    for c in contributions:
        by_group[group(c[0])].append(c)
    return {g: _test(cs) for g, cs in by_group.items()}


@dataclass
class PooledResult:
    """All widths at once: one relabelling of the first `units` units of every exchangeable
    axis. Its p-value is the audit's calibrated one (see `pooled_test`)."""

    widths: list[int]
    units: int
    tensors: int
    fixed_points: int
    z: float  # the pooled trace, in permutation standard deviations above its mean
    p_value: float  # sequential Monte Carlo of the trace: valid, and uniform under the null

    def to_dict(self) -> dict:
        return {"widths": self.widths, "units": self.units, "tensors": self.tensors,
                "fixed_points": self.fixed_points, "z": self.z, "p_value": self.p_value}


def _trace_moments(s: np.ndarray) -> tuple[float, float]:
    """Exact mean and standard deviation of trace(S[:, s]) over uniform permutations s."""
    n = s.shape[0]
    centred = s - s.mean(axis=0) - s.mean(axis=1, keepdims=True) + s.mean()
    return float(s.sum() / n), float(np.sqrt((centred ** 2).sum() / max(1, n - 1)))


def pooled_test(candidate, reference, *, max_permutations: int = MAX_PERMUTATIONS) -> PooledResult | None:
    """The whole model's faint and strong evidence in one exactly calibrated p-value.

    Initialisation and training treat the units of every width axis symmetrically, and
    relabelling the first u units of *every* axis instance by the same permutation is one
    of those symmetries (it stays one for fused tensors such as gate_up: their first u
    units belong to one instance). Under it each name-paired similarity matrix, built on
    features that permutation never touches, turns as S -> S[:, s] with the same s. So
    M = sum over widths of S_width / sd(trace S_width) turns the same way, and the
    Monte Carlo p-value of trace(M) is valid and, being of a near-continuous statistic,
    uniform under the null: unlike a bound that merges many dependent p-values, it says
    how unusual the pair is on the same scale for every pair.

    u is the residual width's (the most common exchangeable length): min(64, width / 2);
    widths shorter than 2u are left out. None when the models share no such tensor."""
    A, B = _cache(candidate), _cache(reference)
    lengths = Counter(length for ja, jb in _paired(A, B) for _, length, _, _ in _axes(A, B, ja, jb))
    if not lengths:
        return None
    units = min(UNITS, lengths.most_common(1)[0][0] // 2)
    if units < MIN_UNITS:
        return None
    contributions = _contributions(A, B, units)
    sums: dict[int, np.ndarray] = {}
    for _, length, sim in contributions:
        sums[length] = sim if length not in sums else sums[length] + sim
    pooled = np.zeros((units, units))
    for total in sums.values():
        sd = _trace_moments(total)[1]
        if sd > 0:
            pooled += total / sd
    mean, sd = _trace_moments(pooled)
    if sd == 0:
        return None
    rows, cols = linear_sum_assignment(np.abs(pooled), maximize=True)
    # 100 exceedances before stopping (not 20): p-values in steps of 1% near 1, so that
    # they read as the smooth uniform they are under the null; null pairs stop early.
    p = diagonal_permutation_p(pooled, max_permutations=max_permutations, exceedances=100)
    return PooledResult(sorted(sums), units, len(contributions), int((rows == cols).sum()),
                        float((np.trace(pooled) - mean) / sd), p)
