"""Match every candidate tensor against every compatible reference tensor by content.

Names are not trusted, so nothing here reads them: a candidate tensor is
compared with *all* reference tensors whose sketch has a compatible shape, with
three tests (see `sketch` and `statistics`), and keeps its best comparison. The
best of m comparisons is corrected with Sidak, so searching many places for a
counterpart cannot manufacture evidence. That search is also what survives
renamed, re-sharded, re-ordered, dropped, duplicated, interleaved, fused/split
or upcycled tensors.

Which axes may be permuted in the null is decided from shapes alone: an axis
length that recurs in at least three matrix axes of a model is one of its widths
(residual stream, MLP, attention), whose unit order is arbitrary under
independent training. Lengths that occur once or twice are tied to an external
basis (vocabulary, positions, pixels) and are never permuted.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np

from gauntlet.provenance.sketch import SKETCH_SIZE, TensorSketch
from gauntlet.provenance.statistics import (
    direct_z,
    double_centre,
    mantel_summaries,
    mantel_z,
    p_from_z,
    sidak,
)

MIN_GRAM = 8  # Gram tests on fewer units have too coarse a null distribution
TESTS = ("rows-matched", "columns-rotated", "direct")
# rows-matched: gram over columns (robust to permuted/pruned/added rows)
# columns-rotated: gram over rows (robust to rotated/permuted columns)
# direct: the corner block itself (most power after long training, needs kept order)


@dataclass
class TensorMatch:
    index: int  # candidate tensor index
    counterpart: int | None  # reference tensor index
    test: str
    z: float
    p_raw: float
    comparisons: int
    p_value: float  # Sidak-corrected over `comparisons`


def exchangeable_lengths(tensors: list[TensorSketch]) -> set[int]:
    counts = Counter()
    for t in tensors:
        if t.is_matrix:
            counts[t.rows] += 1
            counts[t.cols] += 1
    return {length for length, c in counts.items() if c >= 3}


def _compatible(len_a: int, len_b: int, k_a: int, k_b: int) -> bool:
    # Corners line up when the axes have the same length, or when both are at least
    # the sketch size (a fused q/k/v still starts with q's rows).
    return k_a == k_b and (len_a == len_b or (k_a == SKETCH_SIZE and len_a >= SKETCH_SIZE and len_b >= SKETCH_SIZE))


class _Side:
    """Per-model stacks the vectorised tests need, computed once per fingerprint."""

    def __init__(self, tensors: list[TensorSketch]):
        self.index = [i for i, t in enumerate(tensors) if t.is_matrix]
        self.sk = [tensors[i] for i in self.index]
        ex = exchangeable_lengths(tensors)
        self.ex_rows = np.array([t.rows in ex for t in self.sk], bool)
        self.ex_cols = np.array([t.cols in ex for t in self.sk], bool)
        self.blocks = [double_centre(t.block.astype(np.float64)) for t in self.sk]


def _cache(fp) -> _Side:
    side = getattr(fp, "_align_side", None)
    if side is None:
        side = _Side(fp.tensors)
        try:
            fp._align_side = side
        except AttributeError:
            pass
    return side


def _gram_z(A: _Side, B: _Side, part: str, axis_len: str, ex_attr: str) -> np.ndarray:
    na, nb = len(A.sk), len(B.sk)
    z = np.full((na, nb), -np.inf)
    groups_a: dict[int, list[int]] = defaultdict(list)
    groups_b: dict[int, list[int]] = defaultdict(list)
    for side, groups in ((A, groups_a), (B, groups_b)):
        ex = getattr(side, ex_attr)
        for j, t in enumerate(side.sk):
            g = getattr(t, part)
            if g is not None and g.shape[0] >= MIN_GRAM and ex[j]:
                groups[g.shape[0]].append(j)
    for k, ia in groups_a.items():
        ib = groups_b.get(k)
        if not ib:
            continue
        GA = np.stack([getattr(A.sk[i], part).astype(np.float64) for i in ia])
        GB = np.stack([getattr(B.sk[i], part).astype(np.float64) for i in ib])
        obs = GA.reshape(len(ia), -1) @ GB.reshape(len(ib), -1).T
        zz = mantel_z(obs, mantel_summaries(GA), mantel_summaries(GB), k)
        la = np.array([getattr(A.sk[i], axis_len) for i in ia])
        lb = np.array([getattr(B.sk[i], axis_len) for i in ib])
        ok = (la[:, None] == lb[None, :]) | ((k == SKETCH_SIZE) & (la[:, None] >= k) & (lb[None, :] >= k))
        zz = np.where(ok, zz, -np.inf)
        z[np.ix_(ia, ib)] = zz
    return z


def _direct_z(A: _Side, B: _Side) -> np.ndarray:
    na, nb = len(A.sk), len(B.sk)
    z = np.full((na, nb), -np.inf)
    groups_a: dict[tuple, list[int]] = defaultdict(list)
    groups_b: dict[tuple, list[int]] = defaultdict(list)
    for side, groups in ((A, groups_a), (B, groups_b)):
        for j, blk in enumerate(side.blocks):
            if min(blk.shape) >= 2 and (side.ex_rows[j] or side.ex_cols[j]):
                groups[blk.shape].append(j)
    for shape, ia in groups_a.items():
        ib = groups_b.get(shape)
        if not ib:
            continue
        BA = np.stack([A.blocks[i] for i in ia])
        BB = np.stack([B.blocks[i] for i in ib])
        obs = BA.reshape(len(ia), -1) @ BB.reshape(len(ib), -1).T
        rowg_a = np.einsum("nij,nkj->nik", BA, BA).reshape(len(ia), -1)
        rowg_b = np.einsum("nij,nkj->nik", BB, BB).reshape(len(ib), -1)
        colg_a = np.einsum("nji,njk->nik", BA, BA).reshape(len(ia), -1)
        colg_b = np.einsum("nji,njk->nik", BB, BB).reshape(len(ib), -1)
        ko, ki = shape
        var_cols = rowg_a @ rowg_b.T / (ki - 1)  # relabelling columns
        var_rows = colg_a @ colg_b.T / (ko - 1)  # relabelling rows
        ex_c = A.ex_cols[ia][:, None] & B.ex_cols[ib][None, :]
        ex_r = A.ex_rows[ia][:, None] & B.ex_rows[ib][None, :]
        zz = direct_z(obs, np.where(ex_r, var_rows, np.nan), np.where(ex_c, var_cols, np.nan))
        la = np.array([(A.sk[i].rows, A.sk[i].cols) for i in ia])
        lb = np.array([(B.sk[i].rows, B.sk[i].cols) for i in ib])
        ok = np.ones(zz.shape, bool)
        for axis, k in ((0, ko), (1, ki)):
            a_len, b_len = la[:, axis][:, None], lb[:, axis][None, :]
            ok &= (a_len == b_len) | ((k == SKETCH_SIZE) & (a_len >= k) & (b_len >= k))
        ok &= ex_c | ex_r
        z[np.ix_(ia, ib)] = np.where(ok, zz, -np.inf)
    return z


def match_tensors(candidate, reference) -> list[TensorMatch]:
    """Best counterpart (and its corrected p-value) for every candidate matrix tensor."""
    A, B = _cache(candidate), _cache(reference)
    if not A.sk or not B.sk:
        return []
    zs = np.stack(
        [
            _gram_z(A, B, "gram_in", "cols", "ex_cols"),
            _gram_z(A, B, "gram_out", "rows", "ex_rows"),
            _direct_z(A, B),
        ]
    )  # (test, NA, NB)
    matches = []
    for a in range(len(A.sk)):
        za = zs[:, a, :]
        valid = np.isfinite(za)
        m = int(valid.sum())
        if m == 0:
            matches.append(TensorMatch(A.index[a], None, "", float("nan"), 1.0, 0, 1.0))
            continue
        t, b = np.unravel_index(np.argmax(np.where(valid, za, -np.inf)), za.shape)
        z = float(za[t, b])
        p_raw = float(p_from_z(z))
        matches.append(TensorMatch(A.index[a], B.index[b], TESTS[t], z, p_raw, m, sidak(p_raw, m)))
    return matches
