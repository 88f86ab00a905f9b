"""A cheap first stage for auditing one candidate against a large library of references.

An organiser screens every submission against every open model family on the hub:
a thousand references or more. The full tests (`audit`) cost tens of milliseconds
per reference, most of it in Monte Carlo runs and exact assignments that only
matter for the few references a candidate could derive from. This stage looks at
every reference once, at lower resolution and without any assignment or Monte
Carlo, and rules out the ones that show nothing; the full tests then run on the
rest, with every correction still counting the whole library.

Validity. A reference the screen rules out gets p = 1 and the verdict
`independent`. Raising a p-value can never make a valid p-value invalid, so every
p-value the audit reports stays valid (and the Holm correction still counts every
reference of the library, screened or not). The screen can only cost recall, never
create an accusation.

Recall. The screen looks for the three kinds of evidence the full tests use, with
looser thresholds than the full tests need to reach anything but `independent`:
- the per-tensor search (`align`): every candidate tensor against every compatible
  reference tensor, scored by the summed correlation of same-index units (here on
  the first `SCREEN_FEATURES` coordinates of each unit's features, re-standardised);
  a reference passes when its best score is SEARCH_MARGIN null standard deviations
  above the chance maximum over all M comparisons of the search (sqrt(2 ln 2M));
- the invariant token-structure evidence (`invariants`), computed as in the full audit;
- the name-paired pooled trace (`shared_axes`), for faint traces of heavy further
  training: the same-index similarity summed over every tensor the two share by
  name, with the first POOLED_FEATURES of the full tests' features, in exact permutation
  standard deviations
  (Hoeffding's moments); a reference passes when the whole-model z, or any width's,
  reaches `pooled_threshold(library size)`.
A true derivative is lost only if it shows none of them; `tests/provenance/
test_library_scale.py` checks, on a library with planted copies of the disguises the
audit detects, that the screened audit gives every reference the full scan's verdict,
and `benchmarks/bench_audit.py` does so at hub scale.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from gauntlet.provenance.align import FIXED_ORDER_ROWS, MIN_FEATURES, MIN_UNITS, TESTS, UNITS, _features, \
    _same_axis, exchangeable_lengths
from gauntlet.provenance.fingerprint import Fingerprint, load_any
from gauntlet.provenance.invariants import invariant_evidence, token_tensors
from gauntlet.provenance.statistics import trace_moments

SCREEN_FEATURES = 16  # feature coordinates per unit in the per-tensor screen
# The per-tensor screen's z is about sqrt(16 / 64..128) of the full test's (z grows with
# sqrt(units x features)); a reference passes when its best score is SEARCH_MARGIN above
# the chance maximum over *every* comparison of the search, which independent references
# rarely reach, while the full tests need far more for a per-tensor p-value to count
# after their corrections (about 1e-10 in a library of 1,000).
SEARCH_MARGIN = 1.0
# The pooled traces are the full tests' own, on the first POOLED_FEATURES of each unit's
# 64-128 feature coordinates (reading and converting all of them was most of the screen's
# cost), in exact permutation sds: about sqrt(32 / 64..128) of the full tests' z. The full
# tests can call a reference anything but independent only when its corrected p-value is
# below 1e-3, i.e. its raw p below 1e-3 / (library size); a trace at z needs about the
# normal tail at z for that. The screen passes from `pooled_threshold`: that z scaled by
# the smaller ratio (1/2), POOLED_MARGIN sds lower still, never below MIN_SCREEN_Z.
POOLED_FEATURES = 32
POOLED_MARGIN = 0.0
MIN_SCREEN_Z = 1.5
WORKERS = 2  # the audit's target machine: two cores
# Below this many references the full tests on all of them take a few seconds, and every
# reference keeps its full report (modules and all); from here on the screen runs first.
SCREEN_FROM = 50
TOKEN_SCREEN_R = 0.05


def _standardise(features: np.ndarray) -> np.ndarray:
    """`statistics._standardise` (centre and scale each unit's features), with one copy
    instead of three: the screen standardises a whole library."""
    f = np.array(features, dtype=np.float32)
    f -= f.mean(axis=-1, keepdims=True)
    norm = np.sqrt(np.einsum("...i,...i->...", f, f))[..., None]
    np.divide(f, norm, out=f, where=norm > 0)
    f[np.broadcast_to(norm == 0, f.shape)] = 0.0
    return f


def pooled_threshold(library_size: int) -> float:
    from statistics import NormalDist

    return max(MIN_SCREEN_Z, 0.5 * NormalDist().inv_cdf(1 - 1e-3 / max(1, library_size)) - POOLED_MARGIN)


@dataclass
class ScreenResult:
    index: int  # position in the library
    name: str
    passed: bool
    search_z: float  # best per-tensor score, in null sds above the chance maximum of its search
    pooled_z: float  # whole-model name-paired trace, in permutation sds
    width_z: float  # best single width's trace, in permutation sds
    origin: dict = field(default_factory=dict)
    tokenizer: dict | None = None  # `compare_tokenizers` with the candidate's


class ScreenSide:
    """What the screen needs of one fingerprint, stacked so that each test is one product."""

    def __init__(self, fp: Fingerprint):
        self.tensors = fp.tensors  # for `invariants`
        self.token_tensors = token_tensors(fp.tensors)
        self.sk = [t for t in fp.tensors if t.is_matrix]
        ex = exchangeable_lengths(fp.tensors)
        self.ex_cols = np.array([t.cols in ex and len(t.shape) == 2 for t in self.sk], bool)
        self.ex_rows = np.array([t.rows in ex and not FIXED_ORDER_ROWS.search(t.name) for t in self.sk], bool)
        self.rows = np.array([t.rows for t in self.sk])
        self.cols = np.array([t.cols for t in self.sk])
        self.by_name = {t.name: j for j, t in enumerate(self.sk)}
        # test -> align's group key -> (tensor positions, standardised low-resolution features)
        self.groups: dict[str, dict[tuple, tuple[np.ndarray, np.ndarray]]] = {}
        for test in TESTS:
            members: dict[tuple, list[int]] = defaultdict(list)
            feats: dict[tuple, list[np.ndarray]] = defaultdict(list)
            units_ok = self.ex_cols if test in ("direct-columns", "rows-changed") else self.ex_rows
            for j, t in enumerate(self.sk):
                f = _features(t, test) if units_ok[j] else None
                if f is None:
                    continue
                ko, ki = t.block.shape
                key = (f.shape, None if test == "rows-changed" else ko, None if test == "columns-rotated" else ki)
                members[key].append(j)
                feats[key].append(f[:, :SCREEN_FEATURES])
            self.groups[test] = {k: (np.array(v), _standardise(np.stack(feats[k])).reshape(len(v), -1))
                                 for k, v in members.items()}
        self._pooled: dict[tuple, np.ndarray] = {}

    def pooled_stack(self, shape: tuple, axis: str, units: int, start: int) -> tuple[dict[int, int], np.ndarray]:
        """Standardised features of the first `units` units along `axis` (as `shared_axes`
        builds them, but only their first POOLED_FEATURES coordinates) of every tensor with
        this block shape, in one array."""
        key = (axis, units, start, shape)
        if key not in self._pooled:
            members = [i for i, t in enumerate(self.sk) if t.block.shape == shape]
            if axis == "rows":
                parts = [self.sk[i].block[:units, start:start + POOLED_FEATURES] for i in members]
            else:
                parts = [self.sk[i].block[start:start + POOLED_FEATURES, :units].T for i in members]
            self._pooled[key] = ({i: n for n, i in enumerate(members)}, _standardise(np.stack(parts)))
        return self._pooled[key]


def _search_z(A: ScreenSide, B: ScreenSide) -> float:
    """Best |score| / null sd over every compared pair, minus sqrt(2 ln 2M) for the M
    pairs compared (the expected maximum of M unrelated |z|)."""
    best, compared = -np.inf, 0
    for test in TESTS:
        for key, (ia, FA) in A.groups[test].items():
            hit = B.groups[test].get(key)
            if hit is None:
                continue
            ib, FB = hit
            ok = np.ones((len(ia), len(ib)), bool)
            if key[1] is not None:
                ok &= _same_axis(A.rows[ia], B.rows[ib], key[1])
            if key[2] is not None:
                ok &= _same_axis(A.cols[ia], B.cols[ib], key[2])
            m = ok.sum(axis=1)
            if not m.any():
                continue
            units = key[0][0]
            null_sd = np.sqrt(units / min(SCREEN_FEATURES, key[0][1]))
            compared += int(m.sum())
            best = max(best, float(np.where(ok, np.abs(FA @ FB.T), -np.inf).max()) / null_sd)
    return best - np.sqrt(2 * np.log(2 * max(1, compared)))


def _pooled_z(A: ScreenSide, B: ScreenSide) -> tuple[float, float]:
    """(whole-model z, best width z) of the name-paired same-index trace (as `shared_axes`)."""
    pairs = []
    for ja, ta in enumerate(A.sk):
        jb = B.by_name.get(ta.name)
        if jb is None or B.sk[jb].shape != ta.shape or B.sk[jb].block.shape != ta.block.shape:
            continue
        for axis in ("cols", "rows"):
            ex_a, ex_b = (A.ex_cols, B.ex_cols) if axis == "cols" else (A.ex_rows, B.ex_rows)
            if not (ex_a[ja] and ex_b[jb]):
                continue
            other = (A.ex_rows[ja] or B.ex_rows[jb]) if axis == "cols" else (A.ex_cols[ja] or B.ex_cols[jb])
            pairs.append((ja, jb, axis, ta.cols if axis == "cols" else ta.rows, other))
    if not pairs:
        return -np.inf, -np.inf
    units = min(UNITS, Counter(p[3] for p in pairs).most_common(1)[0][0] // 2)
    if units < MIN_UNITS:
        return -np.inf, -np.inf
    groups: dict[tuple, list[tuple[int, int]]] = defaultdict(list)  # (width, block shape, axis, start)
    for ja, jb, axis, length, other in pairs:
        start = units if other else 0
        shape = A.sk[ja].block.shape
        if length < 2 * units or shape[0 if axis == "cols" else 1] - start < MIN_FEATURES:
            continue
        groups[(length, shape, axis, start)].append((ja, jb))
    widths: dict[int, np.ndarray] = {}
    for (length, shape, axis, start), members in groups.items():
        where_a, fa = A.pooled_stack(shape, axis, units, start)
        where_b, fb = B.pooled_stack(shape, axis, units, start)
        if fa.shape[2] < MIN_FEATURES:
            continue
        fa = fa[[where_a[ja] for ja, _ in members]]
        fb = fb[[where_b[jb] for _, jb in members]]
        n, u, f = fa.shape
        sim = fa.transpose(1, 0, 2).reshape(u, n * f) @ fb.transpose(1, 0, 2).reshape(u, n * f).T
        widths[length] = sim if length not in widths else widths[length] + sim
    if not widths:
        return -np.inf, -np.inf
    return _z(sum(widths.values())), max(_z(sim) for sim in widths.values())


def _z(sim: np.ndarray) -> float:
    mean, sd = trace_moments(sim)
    return float((np.trace(sim) - mean) / sd) if sd > 0 else -np.inf


def _token_correlation(A: ScreenSide, B: ScreenSide) -> float:
    """Largest entrywise correlation of two token tensors' token-cosine matrices."""
    best = -np.inf
    for a in A.token_tensors:
        for b in B.token_tensors:
            if a.rows == b.rows and a.cross_out.shape == b.cross_out.shape:
                fa, fb = a.cross_out.astype(np.float32).ravel(), b.cross_out.astype(np.float32).ravel()
                fa, fb = fa - fa.mean(), fb - fb.mean()
                denom = float(np.sqrt((fa @ fa) * (fb @ fb)))
                if denom > 0:
                    best = max(best, abs(float(fa @ fb)) / denom)
    return best


def screen_pair(candidate: ScreenSide, reference: ScreenSide, library_size: int) -> tuple[bool, float, float, float]:
    search = _search_z(candidate, reference)
    pooled, width = _pooled_z(candidate, reference)
    z = pooled_threshold(library_size)
    # the invariant token-structure test, as in the full audit at its level, where the token
    # cosines correlate at all: measured, the weakest flagged copies correlate 0.18, unrelated
    # tables 0.02 (at most 0.06 in 400 pairs), so TOKEN_SCREEN_R costs no flag
    flagged = False
    if _token_correlation(candidate, reference) >= TOKEN_SCREEN_R:
        tokens = invariant_evidence(candidate, reference)
        flagged = tokens is not None and tokens.p_value * library_size < 1e-3
    return bool(search >= SEARCH_MARGIN or pooled >= z or width >= z or flagged), search, pooled, width


# ---------------------------------------------------------------- library runs

_CANDIDATE: tuple | None = None  # (side, tokenizer summary, library size, BLAS limit)


def _init_worker(candidate: Fingerprint, library_size: int) -> None:
    global _CANDIDATE
    # one BLAS thread per worker for the worker's life: the products are small
    limit = threadpool_limits(1, user_api="blas")
    _CANDIDATE = (ScreenSide(candidate), candidate.tokenizer, library_size, limit)


def _screen_one(item: tuple[int, object, bool]) -> ScreenResult:
    """Load one reference (a library file, or an in-memory fingerprint), screen it, drop it."""
    from gauntlet.provenance.library import check_origin
    from gauntlet.provenance.tokenizer import compare_tokenizers

    index, source, library_entry = item
    ref = load_any(source)
    if library_entry:
        check_origin(ref, Path(source).name)
    side, tokenizer, library_size, _ = _CANDIDATE
    passed, search, pooled, width = screen_pair(side, ScreenSide(ref), library_size)
    return ScreenResult(index, ref.name, passed, search, pooled, width, ref.origin,
                        compare_tokenizers(tokenizer, ref.tokenizer))


def screen(candidate: Fingerprint, references: list, library: list | None = None, *, workers: int = WORKERS,
           progress=None) -> list[ScreenResult]:
    """Screen every reference: `references` (Fingerprints, files or folders) here, then the
    `library` files (origin metadata required), read by `workers` processes that each hold
    one reference at a time. `progress(n)` is called as references are done."""
    items = [(i, r, False) for i, r in enumerate(references)]
    items += [(len(items) + i, r, True) for i, r in enumerate(library or [])]
    size = len(items)
    out = []
    _init_worker(candidate, size)
    try:
        pooled = [it for it in items if it[2]] if workers > 1 and len(library or []) >= 4 * workers else []
        for item in items[: len(items) - len(pooled)]:
            out.append(_screen_one(item))
            if progress:
                progress(1)
    finally:
        _CANDIDATE[3].restore_original_limits()
    if pooled:
        import multiprocessing

        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                 initializer=_init_worker, initargs=(candidate, size)) as pool:
            for r in pool.map(_screen_one, pooled, chunksize=max(1, min(64, len(pooled) // (8 * workers)))):
                out.append(r)
                if progress:
                    progress(1)
    return out


def audit_library(candidate, references=(), library=None, *, alpha: float | None = None, progress: bool = True,
                  workers: int = WORKERS, screened: bool | None = None):
    """Audit a candidate against references (Fingerprints, files or model folders) and a
    library (a folder, or a list of its fingerprint files; a folder given as `references`
    is taken as the library): the screen over every reference, then the full tests
    (`audit`) on those it could not rule out, corrected for all of them. `screened`: None
    screens from SCREEN_FROM references on; False runs the full tests on every reference
    (what the screen is measured against)."""
    from contextlib import nullcontext

    from gauntlet.console import progress_bar
    from gauntlet.provenance.audit import DEFAULT_ALPHA, AuditReport, ReferenceResult, audit
    from gauntlet.provenance.library import library_files

    alpha = DEFAULT_ALPHA if alpha is None else alpha
    if isinstance(references, (str, os.PathLike)):
        references, library = [], references
    if isinstance(library, (str, os.PathLike)):
        library = library_files(library)
    references, library = list(references), list(library or [])
    cand = load_any(candidate, progress=progress)
    if screened is None:
        screened = len(references) + len(library) >= SCREEN_FROM
    if not screened:
        from gauntlet.provenance.library import check_origin

        entries = []
        for path in library:
            entries.append(load_any(path))
            check_origin(entries[-1], Path(path).name)
        return audit(cand, references + entries, alpha=alpha, progress=progress)
    bar = progress_bar(transient=True) if progress and len(references) + len(library) > 1 else None
    with bar or nullcontext():
        task = bar.add_task(f"screen {cand.name}", total=len(references) + len(library)) if bar is not None else None
        results = screen(cand, references, library, workers=workers,
                         progress=(lambda n: bar.advance(task, n)) if bar is not None else None)
    results.sort(key=lambda r: r.index)
    references = references + library
    survivors = [r.index for r in results if r.passed]
    full = audit(cand, [references[i] for i in survivors], alpha=alpha, progress=progress,
                 library_size=len(references)) if survivors else None
    tested = dict(zip(survivors, full.references)) if full else {}
    out = []
    for r in results:
        if r.index in tested:
            out.append(tested[r.index])
            continue
        out.append(ReferenceResult(reference=r.name, verdict="independent", p_value=1.0, p_value_raw=1.0,
                                   modules=[], origin=r.origin, tokenizer=r.tokenizer, tensors_compared=0,
                                   screened_out=True))
    verdicts = {r.verdict for r in out}
    overall = "derived" if "derived" in verdicts else "inconclusive" if "inconclusive" in verdicts else "independent"
    return AuditReport(candidate=cand.name, verdict=overall, alpha=alpha, references=out)
