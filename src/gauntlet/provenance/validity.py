"""Which tensor axes may carry evidence: units that independent training makes exchangeable.

Every test of the audit rests on one symmetry: under independent training the
labels of a width axis's units are arbitrary. That holds for weights drawn at
random and trained, and fails for tensors the configuration fixes: formula
tables (sinusoidal positions), saved buffers, constant or repeated rows and
columns (Mamba's `A_log` repeats one row; zero- or constant-initialised
matrices). Two independent models then share those tensors unit for unit, and a
matching of their units finds "copies" that are only the formula. Before any
axis contributes, its units are checked on each model by what they look like,
never by name:

- `constant`: the tensor has a single value (zero variance).
- `repeated units`: some units of the other axis repeat one non-constant
  pattern; the pattern is fixed by something other than the random draw, and its
  value at each index labels this axis's units.
- `tied units`: half or more of the kept units are constant along their
  features or exact duplicates of another unit. Their similarities tie, and a
  linear assignment resolves ties to the identity, which the tests would count
  as units in place. (Fewer ties are harmless: `statistics.assignment` breaks
  ties at random, which keeps the null exact.)
- `ordered units`: neighbouring units are more alike than units drawn at
  random, far beyond chance (z > ORDER_Z of a permutation statistic whose
  exact mean and variance are known). Exchangeable units have no order; a
  formula table or a positional axis has one (sinusoids of adjacent frequencies,
  adjacent positions, ramps).

Validity. A check reads one model's unit labels, so conditioning on passing it
could in principle change the null law; for exchangeable units the check fails
with probability epsilon (measured: `benchmarks/calibration_families.py`), and a
p-value conditioned on passing is at most p / (1 - epsilon). Excluding an axis
otherwise only removes evidence: it can hide a copy's formula tables (which are
no evidence of copying) but never accuse anyone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gauntlet.provenance.sketch import TensorSketch

VERSION = 1  # of these checks: results saved in a fingerprint file under another version are redone
ORDER_Z = 6.0
ORDER_LAGS = 3  # neighbours up to this distance count, weighted 1 / distance
TIED_SHARE = 0.5
MIN_CHECKED = 8
CHECKED_UNITS = 64  # the tests match at most the first 64 units of an axis (align.UNITS)


@dataclass(frozen=True)
class Exclusion:
    tensor: str
    shape: tuple[int, ...]
    axis: str  # "rows", "columns" or "all"
    reason: str  # "constant", "tied units", "ordered units", "rotary/position order"
    detail: str

    def to_dict(self) -> dict:
        return {"tensor": self.tensor, "shape": list(self.shape), "axis": self.axis, "reason": self.reason,
                "detail": self.detail}


def _qap_moments(weights: np.ndarray, sim: np.ndarray) -> tuple[float, float]:
    """Exact mean and sd of sum_ij W_ij S_pi(i)pi(j) over uniform relabellings pi
    (Hubert's quadratic-assignment moments; W, S symmetric with zero diagonals)."""
    n = weights.shape[0]
    a1, a2, a3 = weights.sum(), (weights * weights).sum(), (weights.sum(1) ** 2).sum()
    b1, b2, b3 = sim.sum(), (sim * sim).sum(), (sim.sum(1) ** 2).sum()
    n2, n3, n4 = n * (n - 1), n * (n - 1) * (n - 2), n * (n - 1) * (n - 2) * (n - 3)
    mean = a1 * b1 / n2
    second = (2 * a2 * b2 / n2 + 4 * (a3 - a2) * (b3 - b2) / n3
              + (a1 ** 2 + 2 * a2 - 4 * a3) * (b1 ** 2 + 2 * b2 - 4 * b3) / n4)
    return float(mean), float(np.sqrt(max(second - mean * mean, 0.0)))


_WEIGHTS: dict[int, np.ndarray] = {}


def _neighbour_weights(n: int) -> np.ndarray:
    w = _WEIGHTS.get(n)
    if w is None:
        i = np.arange(n)
        dist = np.abs(i[:, None] - i[None, :])
        w = np.where((dist > 0) & (dist <= ORDER_LAGS), 1.0 / np.maximum(dist, 1), 0.0)
        _WEIGHTS[n] = w
    return w


def order_z(units: np.ndarray) -> float:
    """How far neighbouring units (rows of `units`) are more alike than random pairs, in
    permutation standard deviations. Similarity: |correlation| of the units' features."""
    f = units[:CHECKED_UNITS].astype(np.float32)
    f = f - f.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(f, axis=1, keepdims=True)
    f = np.divide(f, norm, out=np.zeros_like(f), where=norm > 0)
    sim = np.abs(f @ f.T).astype(np.float64)
    np.fill_diagonal(sim, 0.0)
    w = _neighbour_weights(f.shape[0])
    mean, sd = _qap_moments(w, sim)
    if sd <= 1e-12:
        return 0.0
    return float(((w * sim).sum() - mean) / sd)


_HASH = np.random.default_rng(20260101).integers(1, 2**63, size=4096, dtype=np.uint64) | np.uint64(1)


def _duplicated(units: np.ndarray) -> np.ndarray:
    """Which units (rows) are bit-identical to another. An exact integer hash of each row's
    bits (wrapping sums do not depend on the order of summation), then an exact comparison
    of the few rows whose hashes collide: far cheaper than np.unique(axis=0), which sorts."""
    bits = np.ascontiguousarray(units, dtype=np.float32).view(np.uint32).astype(np.uint64)
    with np.errstate(over="ignore"):
        keys = (bits * _HASH[: bits.shape[1]]).sum(axis=1)
    order = np.argsort(keys, kind="stable")
    same = keys[order][1:] == keys[order][:-1]
    out = np.zeros(units.shape[0], bool)
    for i in np.flatnonzero(same):
        a, b = order[i], order[i + 1]
        if np.array_equal(units[a], units[b]):
            out[a] = out[b] = True
    return out


def tied_share(units: np.ndarray, duplicated: np.ndarray | None = None) -> float:
    """Share of units that are constant along their features or duplicate another unit."""
    constant = np.ptp(units, axis=1) == 0
    return float((constant | (_duplicated(units) if duplicated is None else duplicated)).mean())


def repeated_patterns(units: np.ndarray, duplicated: np.ndarray | None = None) -> int:
    """Units that repeat a non-constant pattern another unit also has. Random draws never
    repeat; a repeated pattern is fixed by something other than the draw, and it labels the
    *other* axis's units (each of them holds the pattern's value at its index)."""
    varying = np.ptp(units, axis=1) > 0
    return int(((_duplicated(units) if duplicated is None else duplicated) & varying).sum())


def check_axis(units: np.ndarray, duplicated: np.ndarray | None = None) -> tuple[str, str] | None:
    """(reason, detail) when these units (rows: one per unit, features along the other axis)
    must not carry evidence, else None."""
    if units.shape[0] < MIN_CHECKED or units.shape[1] < 2:
        return None
    tied = tied_share(units, duplicated)
    if tied >= TIED_SHARE:
        return "tied units", f"{tied:.0%} of the units checked are constant or repeated"
    z = order_z(units)
    if z > ORDER_Z:
        return "ordered units", f"neighbouring units alike at z = {z:.1f} (exchangeable units: z ~ 0)"
    return None


def check_tensor(t: TensorSketch) -> dict[str, tuple[str, str]]:
    """{"rows"|"columns": (reason, detail)} for a matrix sketch's axes that must not carry evidence.

    Each axis is checked as the tests see its units: by their values along the other axis
    (the kept block) and by their cosines with other units over the whole tensor (the
    cross sketch, which keeps components common to all units that centring removes)."""
    out: dict[str, tuple[str, str]] = {}
    if not t.is_matrix:
        return out
    block = np.asarray(t.block, dtype=np.float32)
    if t.std == 0 or np.ptp(block) == 0:
        return {"rows": ("constant", "a single value"), "columns": ("constant", "a single value")}
    views = {"rows": (block, t.cross_out), "columns": (block.T, t.cross_in)}
    duplicated = {axis: _duplicated(units) for axis, (units, _) in views.items()}
    for axis, (units, cross) in views.items():
        found = check_axis(units, duplicated[axis])
        if found is None and cross is not None and cross.ndim == 2 and cross.shape[0] >= MIN_CHECKED:
            z = order_z(np.asarray(cross, dtype=np.float32))
            if z > ORDER_Z:
                found = ("ordered units", f"neighbouring units' cosines alike at z = {z:.1f} "
                                          "(exchangeable units: z ~ 0)")
        if found:
            out[axis] = found
    for axis, other in (("rows", "columns"), ("columns", "rows")):
        repeated = repeated_patterns(views[axis][0], duplicated[axis])
        if repeated and other not in out:
            out[other] = ("repeated units", f"{repeated} {axis} repeat a pattern, which labels the {other}")
    return out


def checked(t: TensorSketch) -> dict[str, tuple[str, str]]:
    """`check_tensor(t)`, computed once per sketch (and saved with a fingerprint file, so a
    library's references are not checked again at every audit)."""
    if t.unusable is None:
        t.unusable = check_tensor(t)
    return t.unusable
