"""Match every candidate tensor against every compatible reference tensor by content.

Names are not trusted for alignment: a candidate tensor is compared with *all*
reference tensors whose sketch has a compatible shape, with four matched-units
tests (see `sketch` and `statistics`), and keeps its best comparison, corrected
with Bonferroni for every (counterpart, test) it could have picked. Searching
many places for a counterpart therefore cannot manufacture evidence, and the
search is what survives renamed, re-sharded, re-ordered, dropped, duplicated,
interleaved, fused/split or upcycled tensors. Storage order is not trusted either:
each reference matrix is also compared as if stored transposed (GPT-2's Conv1D
keeps [in, out]); a transposed sketch is the same sketch with its axes' parts
swapped, so this costs no pass over the weights.

To keep an audit against a large library fast, every compatible pair is first
scored cheaply (the mean correlation of same-index units: one matrix product
per shape group) and the exact test runs on the best-scored counterpart per
test. The Bonferroni factor still counts every compatible pair, so the choice
of which pair to test exactly cannot make the p-value invalid.

Which axes are exchangeable under the null is decided from shapes: an axis
length that recurs in at least three matrix axes of a model is one of its
widths (residual stream, MLP, attention), whose unit order is arbitrary under
independent training. Lengths that occur once or twice are tied to an external
basis (vocabulary, positions, pixels) and are never relabelled. Two exceptions
are read from names, because shapes cannot show them: the output rows of query/key
projections are tied to rotary-position frequencies (RoPE; fused q/k/v too, Qwen-1's
c_attn, and DeepSeek's latent-attention projections that carry the rotary part), and the rows of a
position-embedding table are positions even when their count happens to equal a
width (512 positions in a 512-wide model); independently trained models share
structure in that order, so those rows are never used as units. Beyond shapes and
names, every axis is checked by content on each model (`validity`): constant,
tied, repeated-pattern or ordered units never carry evidence.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np

from gauntlet.provenance.sketch import SKETCH_SIZE, TensorSketch
from gauntlet.provenance.statistics import _standardise, bonferroni, matched_units
from gauntlet.provenance.validity import Exclusion, checked

UNITS = SKETCH_SIZE // 2  # units matched per test (LAP on 64 x 64: ~0.05 ms)
MIN_UNITS = 8  # fewer units cannot reach a small p-value (P(F = n) = 1/n!)
MIN_FEATURES = 4
# The exact test (a linear assignment) runs only where the cheap screen sees same-index
# units agreeing: |z| of their summed correlations above what the best of m unrelated
# counterparts reaches by chance (sqrt(2 ln 2m), the expected maximum of m |normals|) plus
# SCREEN_MARGIN. Copied units that could matter after the Bonferroni factor (a dozen or
# more of 64 matched in place) lift this z far higher. Skipping a test only ever raises a
# p-value to 1, so this saves time without touching validity: the Bonferroni factor
# still counts every compatible pair.
SCREEN_MARGIN = 1.0
TESTS = ("direct-columns", "direct-rows", "rows-changed", "columns-rotated")
# direct-columns: column units described by their values in the first K rows (order kept)
# direct-rows:    row units described by their values in the first K columns (order kept)
# rows-changed:   column units described by cosines with other columns over all rows
#                 (robust to permuted/pruned/added/rotated rows)
# columns-rotated: row units described by cosines with other rows over all columns
#                 (robust to permuted/rotated columns: a rotated residual stream)
FIXED_ORDER_ROWS = re.compile(
    r"(^|[._])(q|k|wq|wk|q_proj|k_proj|query|key|qkv|wqkv|query_key_value|c_attn"
    r"|q_b_proj|kv_a_proj_with_mqa|wq_b|wkv_a)([._]|$)"
    r"|position|positional|pos_emb|pos_embed|wpe|rel_pos|relative_attention",
    re.IGNORECASE,
)


@dataclass
class TensorMatch:
    index: int  # candidate tensor index
    counterpart: int | None  # reference tensor index
    test: str
    fixed_points: int
    units: int
    p_raw: float
    comparisons: int
    p_value: float  # Bonferroni-corrected over `comparisons`


def exchangeable_lengths(tensors: list[TensorSketch]) -> set[int]:
    counts: Counter = Counter()
    for t in tensors:
        if t.is_matrix:
            counts[t.rows] += 1
            counts[t.cols] += 1
    return {length for length, c in counts.items() if c >= 3}


def _same_axis(len_a: np.ndarray, len_b: np.ndarray, kept: int) -> np.ndarray:
    # Kept units line up when the axes have the same length, or when both are at least
    # the sketch size (a fused q/k/v still starts with q's rows).
    return (len_a[:, None] == len_b[None, :]) | ((kept >= SKETCH_SIZE) & (len_a[:, None] >= kept) & (len_b[None, :] >= kept))


def _features(t: TensorSketch, test: str) -> np.ndarray | None:
    """(units, features) for one test, or None when the sketch is too small for it."""
    if test == "direct-columns":
        f = t.block[:, :UNITS].T
    elif test == "direct-rows":
        f = t.block[:UNITS, :]
    elif test == "rows-changed":
        f = t.cross_in
    else:
        f = t.cross_out
    if f is None or f.ndim != 2 or f.shape[0] < MIN_UNITS or f.shape[1] < MIN_FEATURES:
        return None
    return f[:UNITS]


def transposed(t: TensorSketch) -> TensorSketch:
    """The sketch the same matrix would have if stored transposed ([in, out], as GPT-2's
    Conv1D stores it): every part of the sketch is the other axis's (see `sketch`)."""
    view = TensorSketch(t.name, t.dtype, (t.shape[1], t.shape[0]), t.mean, t.std)
    view.block = t.block.T
    view.cross_in, view.cross_out = t.cross_out, t.cross_in
    return view


def _validity(fp) -> list:
    """Per tensor, its axes that may not carry evidence (`validity.checked`)."""
    return [checked(t) for t in fp.tensors]


class _Side:
    """Per-model, per-test stacks the tests need, computed once per fingerprint.

    Entries are the model's matrices as stored and, for 2-D ones, as if stored transposed
    (`transposed`): names and storage order are never trusted, so a reference's
    tensor is compared in both orientations."""

    def __init__(self, fp):
        tensors = fp.tensors
        flags = _validity(fp)
        ex = exchangeable_lengths(tensors)
        self.index, self.sk, self.transposed = [], [], []
        ex_cols, ex_rows, unit_cols, unit_rows = [], [], [], []
        self.exclusions: list[Exclusion] = []
        for i, t in enumerate(tensors):
            if not t.is_matrix:
                continue
            # A kernel's flattened columns mix input channels with spatial positions (pixels,
            # time steps), an external basis: never units, whatever their count.
            cols_ex = t.cols in ex and len(t.shape) == 2
            rows_ex = t.rows in ex
            rows_fixed = bool(FIXED_ORDER_ROWS.search(t.name))
            bad = flags[i]
            for axis, (reason, detail) in bad.items():
                if (rows_ex if axis == "rows" else cols_ex):
                    self.exclusions.append(Exclusion(t.name, t.shape, axis, reason, detail))
            if rows_ex and rows_fixed:
                self.exclusions.append(Exclusion(t.name, t.shape, "rows", "rotary/position order",
                                                 "query/key outputs or positions, by name"))
            rows_ok = rows_ex and not rows_fixed and "rows" not in bad
            cols_ok = cols_ex and "columns" not in bad
            self.index.append(i), self.sk.append(t), self.transposed.append(False)
            ex_rows.append(rows_ex), ex_cols.append(cols_ex), unit_rows.append(rows_ok), unit_cols.append(cols_ok)
            if len(t.shape) == 2:
                self.index.append(i), self.sk.append(transposed(t)), self.transposed.append(True)
                ex_rows.append(cols_ex), ex_cols.append(rows_ex), unit_rows.append(cols_ok), unit_cols.append(rows_ok)
        self.transposed = np.array(self.transposed, bool)
        self.ex_cols, self.ex_rows = np.array(ex_cols, bool), np.array(ex_rows, bool)
        # units that may carry evidence: an exchangeable axis that passed `validity`
        self.unit_cols, self.unit_rows = np.array(unit_cols, bool), np.array(unit_rows, bool)
        self.rows = np.array([t.rows for t in self.sk])
        self.cols = np.array([t.cols for t in self.sk])
        # per test and shape key: (entries as stored, their features) and (all entries, features)
        self.groups: dict[str, dict[tuple, tuple[list[int], np.ndarray]]] = {}
        self.groups_all: dict[str, dict[tuple, tuple[list[int], np.ndarray]]] = {}
        for test in TESTS:
            by_shape: dict[tuple, list[int]] = defaultdict(list)
            feats: dict[tuple, list[np.ndarray]] = defaultdict(list)
            units_ok = self.unit_cols if test in ("direct-columns", "rows-changed") else self.unit_rows
            for j, t in enumerate(self.sk):
                f = _features(t, test) if units_ok[j] else None
                if f is not None:
                    ko, ki = t.block.shape
                    key = (f.shape, None if test == "rows-changed" else ko, None if test == "columns-rotated" else ki)
                    by_shape[key].append(j)
                    feats[key].append(f)
            full = {k: (v, _standardise(np.stack(feats[k]))) for k, v in by_shape.items()}
            self.groups_all[test] = full
            stored = {}
            for k, (v, f) in full.items():
                keep = [r for r, j in enumerate(v) if not self.transposed[j]]
                if keep:
                    stored[k] = ([v[r] for r in keep], f[keep])
            self.groups[test] = stored


def _cache(fp) -> _Side:
    side = getattr(fp, "_align_side", None)
    if side is None:
        side = _Side(fp)
        try:
            fp._align_side = side
        except AttributeError:
            pass
    return side


def _compatible(A: _Side, B: _Side, ia: list[int], ib: list[int], ko: int | None, ki: int | None) -> np.ndarray:
    """Kept units line up on every axis the test relies on (None: an axis it does not)."""
    ok = np.ones((len(ia), len(ib)), bool)
    if ko is not None:
        ok &= _same_axis(A.rows[ia], B.rows[ib], ko)
    if ki is not None:
        ok &= _same_axis(A.cols[ia], B.cols[ib], ki)
    return ok


def match_tensors(candidate, reference) -> list[TensorMatch]:
    """Best counterpart (and its corrected p-value) for every candidate matrix tensor."""
    A, B = _cache(candidate), _cache(reference)
    na = len(A.sk)
    comparisons = np.zeros(na, int)
    # per candidate tensor: the best-scored (score, test, b) for each test
    chosen: list[list[tuple[float, str, int, np.ndarray, np.ndarray]]] = [[] for _ in range(na)]
    for test in TESTS:
        for key, (ia, FA) in A.groups[test].items():
            hit = B.groups_all[test].get(key)
            if hit is None:
                continue
            ib, FB = hit
            ok = _compatible(A, B, ia, ib, key[1], key[2])
            if not ok.any():
                continue
            # cheap screen: mean correlation of same-index units for every pair at once
            score = FA.reshape(len(ia), -1) @ FB.reshape(len(ib), -1).T
            units, features = key[0]
            null_sd = np.sqrt(units / features)  # of a sum of `units` correlations over `features` values
            for r, a in enumerate(ia):
                m = int(ok[r].sum())
                if m == 0:
                    continue
                comparisons[a] += m
                top = int(np.argmax(np.where(ok[r], np.abs(score[r]), -np.inf)))
                if abs(score[r, top]) >= (np.sqrt(2 * np.log(2 * m)) + SCREEN_MARGIN) * null_sd:
                    chosen[a].append((float(score[r, top]), test, ib[top], FA[r], FB[top]))
    matches = []
    for a in np.flatnonzero(~A.transposed):
        best = None
        for _, test, b, fa, fb in chosen[a]:
            f, p = matched_units(fa, fb, standardised=True)
            if best is None or p < best[3] or (p == best[3] and f > best[2]):
                best = (f"{test} (transposed)" if B.transposed[b] else test, b, f, p, fa.shape[0])
        if best is None:  # nothing compatible, or nothing the screen found worth an exact test
            matches.append(TensorMatch(A.index[a], None, "", 0, 0, 1.0, int(comparisons[a]), 1.0))
            continue
        test, b, f, p, units = best
        matches.append(TensorMatch(A.index[a], B.index[b], test, f, units, p, int(comparisons[a]),
                                   bonferroni(p, int(comparisons[a]))))
    return matches


def excluded_axes(candidate, reference) -> list[dict]:
    """Every axis of either model left out of the evidence (see `validity`), with whether the
    tensor is identical in both models: separate evidence, never decisive (a formula table
    is identical in every model of its configuration). Axes left out by name (rotary and
    position rows, one rule for every layer) are summarised in one entry per model."""
    A, B = _cache(candidate), _cache(reference)
    out = []
    for side, own, other in (("candidate", A, B), ("reference", B, A)):
        stored = {t.name: t for t, tr in zip(own.sk, own.transposed) if not tr}
        same_shape: dict[tuple, list] = defaultdict(list)
        for t, tr in zip(other.sk, other.transposed):
            if not tr:
                same_shape[t.shape].append(t)
        by_name = [e for e in own.exclusions if e.reason == "rotary/position order"]
        for e in own.exclusions:
            if e.reason == "rotary/position order":
                continue
            t = stored[e.tensor]
            identical = any(np.array_equal(t.block, u.block) and t.mean == u.mean and t.std == u.std
                            for u in same_shape.get(t.shape, ()))
            out.append({"side": side, **e.to_dict(), "identical_in_both": identical})
        if by_name:
            out.append({"side": side, "tensor": f"{len(by_name)} query/key or position tensors, e.g. "
                        f"{by_name[0].tensor}", "shape": [], "axis": "rows", "reason": by_name[0].reason,
                        "detail": by_name[0].detail, "identical_in_both": False})
    return out
