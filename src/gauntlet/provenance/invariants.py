"""Evidence that survives every function-preserving transform at once, and why it cannot be decisive.

A limit first (it decides what this module may claim). Every exact test of the
audit relabels the units of some width axis of the reference (residual
coordinates, MLP neurons, attention heads or channels): under independent
training that is a symmetry, so the relabelled statistics are the null
distribution. Each such relabelling is itself a function-preserving transform.
An adversary who applies a uniformly random one on every axis (a Haar-random
rotation of the residual stream contains a uniformly random permutation of it;
neurons and heads are permuted uniformly) makes the observed pair (A, B) and any
relabelled pair (A, hB) equally likely to be the one it built: the observed
statistic's rank among the relabelled ones is then uniform, so *every*
relabelling-calibrated test has power equal to its level against an exact copy.
No choice of statistic escapes this; only the null's symmetry was used.

What is left are statistics invariant to the whole group, whose units are tied
to something the adversary cannot move without changing the function: the
vocabulary. Rows of an embedding (or output head) are tokens; a rotation of the
residual stream turns E into E R and leaves every cosine between two tokens
unchanged, and so do neuron and head permutations and rescaling, which do not
touch E at all. The sketch already holds those cosines for the first K tokens
(`cross_out`: tokens [0, K/2) against [K/2, K) over all residual coordinates), so
old fingerprints carry this evidence too. Here each candidate token is described
by its cosines with the other half, matched one-to-one to the reference's tokens,
and the tokens landing on their own id are counted, as in `statistics`.

Why it is never decisive: that count's null law (fixed points of a random
permutation) holds when token order is exchangeable between the two models.
It is for independently initialised models with unrelated data, but not for
models trained on the same tokenizer and similar text: their tokens acquire
similar neighbourhoods (digits near digits), which looks like reuse to this test.
So a significant match raises an otherwise `independent` reference to
`inconclusive` ("flagged for people to look at") and names the module; it never
makes a model `derived`. `benchmarks/bench_limits.py` measures both sides:
all-at-once disguised copies, independent pairs, and independent pairs that share
token structure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gauntlet.provenance.align import FIXED_ORDER_ROWS, MIN_FEATURES, MIN_UNITS, exchangeable_lengths
from gauntlet.provenance.sketch import TensorSketch
from gauntlet.provenance.statistics import bonferroni, matched_units

TEST = "rotation-invariant token structure"
NOTE = ("Tokens matched by their cosines with other tokens, which no rotation of the residual stream, "
        "permutation or rescaling changes. The p-value assumes token order is exchangeable between the two "
        "models; models trained on the same tokenizer and similar text share token structure, so this "
        "evidence can flag a model for people to look at but never makes it derived.")


@dataclass
class TokenMatch:
    name: str
    counterpart: str
    fixed_points: int
    units: int
    correlation: float  # of the two token-cosine matrices, entry by entry
    p_value: float  # exact if token order were exchangeable; Bonferroni over pairs tried

    def to_dict(self) -> dict:
        return {"name": self.name, "counterpart": self.counterpart, "test": TEST, "statistic": self.fixed_points,
                "units": self.units, "correlation": self.correlation, "p_value": self.p_value}


@dataclass
class InvariantEvidence:
    best: TokenMatch | None
    pairs: int  # candidate x reference token tensors compared
    p_value: float  # the best pair's, Bonferroni over pairs (not over references)

    def to_dict(self) -> dict:
        return {"test": TEST, "pairs": self.pairs, "p_value_if_tokens_exchangeable": self.p_value,
                "best": self.best.to_dict() if self.best else None, "decisive": False, "note": NOTE}


def token_tensors(tensors: list[TensorSketch]) -> list[TensorSketch]:
    """Matrices whose rows are an external basis other than positions (vocabulary rows of
    embeddings and output heads) and whose columns are a width: the rows stay in place
    under every function-preserving transform, the columns are what a disguise turns."""
    ex = exchangeable_lengths(tensors)
    out = []
    for t in tensors:
        if not t.is_matrix or t.cross_out is None or len(t.shape) != 2:
            continue
        if t.rows in ex or t.cols not in ex or FIXED_ORDER_ROWS.search(t.name):
            continue
        if t.cross_out.shape[0] >= MIN_UNITS and t.cross_out.shape[1] >= MIN_FEATURES:
            out.append(t)
    return out


def _distinct(cross: np.ndarray) -> bool:
    """Rows identical up to rounding (a formula or constant table) carry no unit identity."""
    f = cross.astype(np.float32)
    # rows compared through one fixed random projection: a 1-D unique instead of a row-wise one
    key = f.round(3).astype(np.float64) @ np.random.default_rng(0).standard_normal(f.shape[1])
    return bool(np.ptp(f, axis=1).min() > 0 and np.unique(key).size == f.shape[0])


def invariant_evidence(candidate, reference) -> InvariantEvidence | None:
    """The best token-structure match between the candidate's and the reference's token
    tensors of the same vocabulary size; None when either has none."""
    ca, cb = token_tensors(candidate.tensors), token_tensors(reference.tensors)
    # A bit-identical table is a formula or a plain copy: the exact tests see a copy (its
    # columns are units), and a formula table says nothing about lineage.
    pairs = [(a, b) for a in ca for b in cb
             if a.rows == b.rows and a.cross_out.shape == b.cross_out.shape
             and _distinct(a.cross_out) and _distinct(b.cross_out) and not np.array_equal(a.block, b.block)]
    if not pairs:
        return None
    best = None
    for a, b in pairs:
        fa, fb = a.cross_out.astype(np.float32), b.cross_out.astype(np.float32)
        f, p = matched_units(fa, fb)
        r = float(np.corrcoef(fa.ravel(), fb.ravel())[0, 1]) if fa.std() > 0 and fb.std() > 0 else 0.0
        if best is None or p < best.p_value or (p == best.p_value and r > best.correlation):
            best = TokenMatch(a.name, b.name, f, fa.shape[0], r, p)
    p = bonferroni(best.p_value, len(pairs))
    best.p_value = p
    return InvariantEvidence(best, len(pairs), p)


def apply_to(result, candidate, reference, *, n_refs: int, alpha: float) -> None:
    """Attach the evidence to an audit's ReferenceResult; when the exact tests left the
    reference `independent` and the token structure matches beyond alpha (corrected for
    every reference), flag it `inconclusive` and name the module. Never `derived`."""
    from gauntlet.provenance.audit import ModuleEvidence, module_kind, module_of

    if result.verdict == "derived":
        return
    evidence = invariant_evidence(candidate, reference)
    if evidence is None:
        return
    result.invariant = evidence.to_dict()
    p = bonferroni(evidence.p_value, n_refs)
    if p >= alpha or result.verdict != "independent":
        return
    result.verdict = "inconclusive"
    best = evidence.best
    name = module_of(best.name)
    result.modules = [m for m in result.modules if m.name != name]
    result.modules.append(ModuleEvidence(
        name=name, kind=module_kind(best.name), counterpart=module_of(best.counterpart), verdict="inconclusive",
        p_value=p, p_value_raw=evidence.p_value, statistic=best.fixed_points, test=TEST, tensors=[best.to_dict()]))
