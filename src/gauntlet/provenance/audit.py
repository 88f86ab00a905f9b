"""The independence audit: candidate vs references -> verdicts with localised evidence.

Verdict rule (documented, not tuned per case), applied to p-values that are
already corrected for the number of references (Holm) and, for modules, for
the number of modules compared (Bonferroni):
- `derived`      p < alpha (default 1e-4: at most one false accusation in
                 10,000 independent comparisons);
- `independent`  p >= 1e-3 (the evidence is what independent training
                 produces 999 times in 1,000);
- `inconclusive` in between (flagged for people to look at). The reference-level
                 p-value is calibrated (uniform under the null), so an honest pair
                 lands here about once in a thousand comparisons: a round with
                 dozens of team-vs-team comparisons should not flag someone by
                 chance alone, as a 1% band would in one round out of three.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from gauntlet.errors import InputError
from gauntlet.i18n import N_
from gauntlet.provenance import invariants
from gauntlet.provenance.align import excluded_axes, match_tensors
from gauntlet.provenance.fingerprint import Fingerprint, load_any
from gauntlet.provenance.shared_axes import (
    MAX_PERMUTATIONS,
    TRACE_SCREEN_Z,
    PooledResult,
    SharedAxisResult,
    SharedEvidence,
    pooled_result,
    shared_evidence,
    width_tests,
)
from gauntlet.provenance.statistics import bonferroni, holm, merge
from gauntlet.provenance.tokenizer import compare_tokenizers

DEFAULT_ALPHA = 1e-4
INDEPENDENT_ABOVE = 1e-3
# Shares of alpha (weighted Bonferroni) of the two summaries a reference-level p-value
# takes the better of: the calibrated whole-model test, and the dependence-safe bound.
CALIBRATED_WEIGHT = 0.99
BOUND_WEIGHT = 0.01

ASSUMPTIONS = [
    N_("Null hypothesis: the two models' weights were initialised and trained independently. Under it, "
       "the order of units along a width axis (residual coordinates, MLP neurons, attention channels) of "
       "one model says nothing about the other, because initialisation and optimisers treat those units "
       "symmetrically. Each test matches the two models' units one-to-one by content (ties broken at random) "
       "and counts how many land on the unit with the same index; under the null that count has an exactly "
       "known distribution (the fixed points of a random permutation), so each p-value is exact for every axis "
       "whose units are exchangeable."),
    N_("Units are exchangeable only where initialisation drew them at random. What the configuration fixes "
       "is checked on each model, by content and never by name, and left out of the evidence: constant "
       "tensors, axes whose units are mostly constant or repeated (Mamba's A_log at initialisation), and axes "
       "whose neighbouring units are alike far beyond chance (formula tables such as sinusoidal positions, "
       "position axes). The report lists every axis left out and why; a left-out tensor that is identical in "
       "both models is reported, like norm gains, as separate evidence that never makes a model derived. "
       "Exchangeable units fail these checks rarely (measured: 0 of 16,376 axes of independently initialised "
       "models of twelve families and of randomly drawn and trained test models, the largest order statistic "
       "4.7 against a bar of 6; benchmarks/validity_checks.py), and conditioning on passing them raises a "
       "p-value's false-positive rate by at most the factor 1 / (1 - that rate)."),
    N_("The model's p-value is the smaller of two, each charged its share of the significance level. (1) A "
       "whole-model test pooling every tensor the two models share by name and shape: relabelling units the "
       "same way on every width is a symmetry of independent training, which calibrates it exactly, so for "
       "independent models its p-value is spread evenly between 0 and 1. (2) A bound merging the per-tensor "
       "tests by a rule that stays valid however they depend on each other; it sees copies whose tensors were "
       "renamed or rearranged. Both are corrected for every counterpart and reference searched."),
    N_("The per-tensor tests match tensors by content, never by name or storage order: every candidate tensor is "
       "compared with every reference tensor of compatible shape, as stored and transposed (GPT-2's Conv1D "
       "layout), and the best match is corrected for how many were tried. Fused tensors (q/k/v, gate/up) are "
       "compared through the units they share with the split ones."),
    N_("Norm gains, biases and the tokenizer are reported but never make a model derived on their own."),
    N_("Faint traces (heavy further training) are pooled along the widths tensors share (residual stream, MLP) "
       "over tensors with the same name and shape; that pooled test uses a Monte Carlo p-value whose floor is "
       "one in a million. Names only choose what is pooled; they cannot make a p-value invalid."),
    N_("Query/key output rows are never treated as interchangeable units: rotary position encodings tie them to "
       "frequencies, so independently trained models share structure in their order."),
]
BLIND_SPOTS = [
    N_("Distillation or training on another model's outputs without copying weights leaves no trace here."),
    N_("A copy disguised by every function-preserving transform at once (residual stream rotated, neurons "
       "and heads permuted, in the same layers) cannot be proven derived by any test calibrated by relabelling "
       "units: a random relabelling is itself such a transform, so against it these tests have power equal to "
       "their level (measured by benchmarks/bench_limits.py on 40 such copies: raw p median 0.94; the 4 found "
       "`derived` were copies whose random head permutation left a head in place). What no such transform "
       "changes is the token structure of the embeddings (cosines between tokens); when it matches, the reference "
       "is flagged `inconclusive` with the embeddings named, never `derived`, because models trained on the same "
       "tokenizer and similar text share token structure too. Measured on 300-token, 48-wide generated models: a "
       "rotated copy of an embedding is flagged while it still correlates 0.55 or more with the original (57% of "
       "them at 0.45, none at 0.32); independent pairs are never flagged (0 of 200), but when their embeddings "
       "share a fifth of their variance in common token structure 3% of pairs are, and all when they share two fifths. "
       "A model whose every tensor was re-initialised cannot be linked by weights."),
    N_("Weights reused only after heavy compression of both axes (e.g. low-rank re-factorisation) may "
       "fall below detection; the verdict is then `independent` or `inconclusive`, not proof of independence."),
    N_("Only the weights in safetensors files are examined; code, data and training logs are not."),
    N_("Expert weights stored stacked in one tensor per layer ([experts, rows, columns], transformers' fused "
       "Mixtral layout) are sketched as one matrix whose rows are the experts, too few to be units: they carry "
       "no evidence, so reuse confined to experts stored that way is not seen (experts stored one matrix each are)."),
    N_("Copies stored in another family's layout AND under other names (GPT-2's transposed Conv1D with fused "
       "c_attn, NeoX's interleaved query_key_value, Phi-3's fused qkv_proj and gate_up_proj) are found by the "
       "per-tensor tests, which pair tensors by content: on a 2-layer, 48-wide test model, while the copy's "
       "weights still correlate about 0.19 with the original (p <= 1e-18), not at 0.10 (p = 1) unless some "
       "tensors kept their names (p ~ 1e-6). With names kept, a copy stored transposed is found down to "
       "correlation 0.05 (p = 7e-5), as one stored as is (p = 1e-6): the pooled test that sees faint traces "
       "pairs tensors by name (benchmarks/layout_power.py)."),
    N_("Formula tables and other tensors fixed by the configuration are left out (listed in the report), "
       "so a copy is found from its learned weights only; a model that shares nothing but such tables with "
       "a reference is, correctly, independent."),
    N_("Every p-value is corrected for the number of references searched. The pooled Monte Carlo tests that find "
       "faint traces of heavy further training cannot go below one in a million, so against a library of 100 or "
       "more references they alone can no longer make a model derived (1e-6 x 100 = 1e-4); such a copy is found "
       "when the reference it came from is audited on its own or in a small set, as a round's named references are."),
    N_("The tests relabel the first 64 channels of an attention projection. Channels are interchangeable only "
       "within a head, so the null distribution is exact when heads have at least 64 channels (as in today's "
       "large models: 64-128) and a small approximation for narrower heads."),
    N_("Further training erases the trace in the end: on a 2-layer, 48-wide test model, copies whose weights "
       "still correlate 0.04 with the original are found (and their layer named), copies at 0.01 are not. "
       "Larger models keep more units and tensors to pool, so more power. Very heavy further training may be "
       "detected for the model as a whole without any single layer being localised (the report then lists "
       "'weights' as the reused part)."),
]


def verdict_for(p: float, alpha: float) -> str:
    if p < alpha:
        return "derived"
    if p >= INDEPENDENT_ABOVE:
        return "independent"
    return "inconclusive"


def module_of(name: str) -> str:
    """Group a tensor under its layer (`...layers.3`) or its parent (`model.embed_tokens`)."""
    match = re.match(r"^(.*\.\d+)\.", name)
    if match:
        return match.group(1)
    return name.rsplit(".", 1)[0] if "." in name else name


def module_kind(name: str) -> str:
    low = name.lower()
    for words, kind in (
        (("vision", "visual", "vit", "image", "patch", "pixel"), "vision encoder"),
        (("audio", "whisper", "speech", "mel"), "audio encoder"),
        (("embed", "wte", "wpe", "tok_"), "embeddings"),
        (("lm_head", "output", "classifier", "pooler"), "output head"),
        (("expert", "moe", "router"), "mixture-of-experts layer"),
        (("layer", ".h.", "block", "encoder", "decoder"), "transformer layer"),
    ):
        if any(w in low for w in words):
            return kind
    return "other"


@dataclass
class ModuleEvidence:
    name: str
    kind: str
    counterpart: str | None
    verdict: str
    p_value: float
    p_value_raw: float
    statistic: float  # units matched to the same index in its strongest tensor
    test: str
    tensors: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "counterpart": self.counterpart,
            "verdict": self.verdict,
            "p_value": self.p_value,
            "p_value_raw": self.p_value_raw,
            "statistic": self.statistic,
            "test": self.test,
            "tensors": self.tensors,
        }


@dataclass
class ReferenceResult:
    reference: str
    verdict: str
    p_value: float  # Holm-corrected across references
    p_value_raw: float
    modules: list[ModuleEvidence]
    origin: dict
    tokenizer: dict | None
    tensors_compared: int
    shared_axes: list[SharedAxisResult] = field(default_factory=list)
    whole_model: PooledResult | None = None
    p_value_bound: float = 1.0
    # axes left out of the evidence (`validity`), on either model: side, tensor, axis, reason,
    # detail, and whether the tensor is identical in both (separate, non-decisive evidence)
    excluded: list[dict] = field(default_factory=list)
    screened_out: bool = False  # ruled out by `screening` (p = 1), full tests not run
    invariant: dict | None = None  # `invariants`: evidence no disguise removes, never decisive

    def to_dict(self) -> dict:
        return {
            "reference": self.reference,
            "verdict": self.verdict,
            "screened_out": self.screened_out,
            "invariant": self.invariant,
            "p_value": self.p_value,
            "p_value_raw": self.p_value_raw,
            "p_value_calibrated": self.whole_model.p_value if self.whole_model else 1.0,
            "p_value_bound": self.p_value_bound,
            "origin": self.origin,
            "tensors_compared": self.tensors_compared,
            "whole_model": self.whole_model.to_dict() if self.whole_model else None,
            "shared_axes": [a.to_dict() for a in self.shared_axes],
            "modules": [m.to_dict() for m in self.modules],
            "tokenizer": self.tokenizer,
            "excluded": self.excluded,
        }


@dataclass
class AuditReport:
    candidate: str
    verdict: str
    alpha: float
    references: list[ReferenceResult]

    def to_dict(self) -> dict:
        return {
            "candidate": self.candidate,
            "verdict": self.verdict,
            "alpha": self.alpha,
            "independent_above": INDEPENDENT_ABOVE,
            "null_hypothesis": "the weights were initialised and trained independently",
            "references": [r.to_dict() for r in self.references],
            "assumptions": ASSUMPTIONS,
            "cannot_see": BLIND_SPOTS,
        }

    def write_html(self, path, language: str | None = None) -> None:
        from gauntlet.provenance.report import write_html

        write_html(self, path, language)


def _calibrated(bound: float, evidence: SharedEvidence | None,
                screen_z: float | None = None) -> tuple[float, PooledResult | None]:
    """min(calibrated / 0.99, bound / 0.01) and the pooled test behind it."""
    # When the bound alone is decisive the Monte Carlo could not lower the result (its
    # floor is 1 / (permutations + 1)); a short run still reports the statistic.
    decisive = bound / BOUND_WEIGHT <= 1 / ((MAX_PERMUTATIONS + 1) * CALIBRATED_WEIGHT)
    pooled = pooled_result(evidence, max_permutations=10_000 if decisive else MAX_PERMUTATIONS, screen_z=screen_z)
    calibrated = pooled.p_value if pooled else 1.0
    return min(1.0, calibrated / CALIBRATED_WEIGHT, bound / BOUND_WEIGHT), pooled


def _compare(candidate: Fingerprint, reference: Fingerprint, evidence: SharedEvidence | None):
    """Reference-level raw p, per-tensor evidence, the per-width tests and the whole-model
    test. The p-value is the calibrated one (`shared_axes.pooled_result`: uniform under the
    null) or the dependence-safe bound over everything else, whichever is smaller, each
    charged its share of alpha (weighted Bonferroni, weights 0.99 and 0.01): valid whatever
    the dependence, uniform under the null, and still 1e-55 or less for plain copies that
    the name-paired tests cannot see (renamed, re-sharded, re-ordered layers)."""
    rows = []
    for m in match_tensors(candidate, reference):
        cand = candidate.tensors[m.index]
        ref = reference.tensors[m.counterpart] if m.counterpart is not None else None
        rows.append(
            {
                "name": cand.name,
                "shape": list(cand.shape),
                "counterpart": ref.name if ref else None,
                "counterpart_shape": list(ref.shape) if ref else None,
                "test": m.test,
                "statistic": m.fixed_points,
                "units": m.units,
                "p_value_test": m.p_raw,
                "comparisons": m.comparisons,
                "p_value": m.p_value,
            }
        )
    compared = [r for r in rows if r["comparisons"]]
    shared = width_tests(evidence)
    # The bound, Bonferroni x 2: everything merged (many tensors each showing reuse), or the
    # best per-width test alone (faint evidence pooled over every tensor of one width).
    merged = merge([*(r["p_value"] for r in compared), *(a.p_value for a in shared)])
    per_width = bonferroni(min((a.p_value for a in shared), default=1.0), len(shared))
    bound = min(1.0, 2 * min(merged, per_width))
    p, pooled = _calibrated(bound, evidence)
    return p, rows, shared, pooled, bound


def _modules(rows: list[dict], n_refs: int, alpha: float, evidence: SharedEvidence | None) -> list[ModuleEvidence]:
    """One row per candidate module: its p-value is, like the model's, the better of the
    calibrated test over the module's name-paired tensors and the bound over its
    per-tensor tests, then Bonferroni over every module and reference."""
    by_module: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_module[module_of(r["name"])].append(r)
    paired = evidence.by_group(module_of) if evidence else {}
    n_modules = max(1, sum(1 for name, rs in by_module.items() if any(r["comparisons"] for r in rs) or name in paired))
    out = []
    for name, rs in by_module.items():
        compared = [r for r in rs if r["comparisons"]]
        bound = merge([r["p_value"] for r in compared]) if compared else 1.0
        # A module's p-value only matters far in the tail (it is corrected for every module
        # and reference), so its Monte Carlo runs only above TRACE_SCREEN_Z.
        p_raw, pooled = _calibrated(bound, paired.get(name), screen_z=TRACE_SCREEN_Z)
        p_adj = bonferroni(p_raw, n_modules * n_refs)
        strong = [r for r in compared if r["p_value"] < 0.01]
        counterpart = None
        if strong:
            counterpart = Counter(module_of(r["counterpart"]) for r in strong).most_common(1)[0][0]
        elif pooled and pooled.p_value < 0.01:
            counterpart = name  # the pooled test pairs modules by name
        elif any(r["counterpart"] for r in compared):
            counterpart = Counter(module_of(r["counterpart"]) for r in compared if r["counterpart"]).most_common(1)[0][0]
        best = min(compared, key=lambda r: (r["p_value"], -r["statistic"]), default=None)
        test = best["test"] if best else ""
        statistic = best["statistic"] if best else 0.0
        if pooled and pooled.p_value / CALIBRATED_WEIGHT <= p_raw * (1 + 1e-12):
            test, statistic = f"module pooled ({pooled.tensors} tensor axes)", pooled.fixed_points
        out.append(
            ModuleEvidence(
                name=name,
                kind=module_kind(name),
                counterpart=counterpart if p_adj < INDEPENDENT_ABOVE else None,
                verdict=verdict_for(p_adj, alpha),
                p_value=p_adj,
                p_value_raw=p_raw,
                statistic=statistic,
                test=test,
                tensors=rs,
            )
        )
    return out


def _pooled_module(p_model: float, pooled: PooledResult | None, modules: list[ModuleEvidence], n_refs: int,
                   alpha: float) -> list[ModuleEvidence]:
    """Heavy further training can leave no single layer with enough evidence while every
    layer's faint trace, pooled over the whole model, is conclusive. Then the finding is
    the weights as a whole, listed as one more module so that a report (and a round's
    policy) never shows a derived model without a derived part."""
    if any(m.verdict == "derived" for m in modules):
        return []
    p = min(1.0, p_model * n_refs)
    if p >= INDEPENDENT_ABOVE:
        return []
    test = "whole model pooled" if pooled else "all tensors"
    return [ModuleEvidence(
        name="weights", kind="weights", counterpart="weights", verdict=verdict_for(p, alpha), p_value=p,
        p_value_raw=p_model, statistic=pooled.fixed_points if pooled else 0, test=test,
        tensors=[pooled.to_dict()] if pooled else [])]


def _readable(fingerprint: Fingerprint, role: str) -> Fingerprint:
    """Refuse to judge weights that carry no evidence: no tensors, NaN/Inf in a
    fingerprint file, or nothing but constant matrices (the sketch reads NaN/Inf as
    zeros, so an all-NaN model arrives here as constants). A comparison of such
    weights finds nothing shared, and "nothing shared" must never read as `independent`."""
    sketches = fingerprint.tensors
    if not sketches:
        raise InputError(f"{role} {fingerprint.name}: no tensors to compare; it cannot be audited")

    def finite(s) -> bool:
        arrays = [a for a in (s.block, s.cross_in, s.cross_out, s.vector) if a is not None]
        return math.isfinite(s.mean) and math.isfinite(s.std) and all(np.isfinite(a).all() for a in arrays)

    broken = [s.name for s in sketches if not finite(s)]
    if broken:
        raise InputError(f"{role} {fingerprint.name}: {len(broken)} of {len(sketches)} tensors hold NaN/Inf "
                         f"(first: {broken[0]!r}); weights that are not numbers cannot be audited")
    matrices = [s for s in sketches if s.is_matrix]
    if matrices and all(s.std == 0 for s in matrices):
        raise InputError(f"{role} {fingerprint.name}: every weight matrix is constant or NaN/Inf; there is "
                         "nothing to compare, so it cannot be audited")
    return fingerprint


def audit(candidate, references, *, alpha: float = DEFAULT_ALPHA, progress: bool = True,
          library_size: int | None = None) -> AuditReport:
    """Audit a candidate (folder, fingerprint file or Fingerprint) against references.
    `progress`: bars for model folders being fingerprinted and for a library's references.
    `library_size`: when these references are what a screen left of a larger library
    (`screening.audit_library`), every correction still counts the whole library."""
    from contextlib import nullcontext

    from gauntlet.console import progress_bar

    if not isinstance(references, (list, tuple)):
        references = [references]
    cand = _readable(load_any(candidate, progress=progress), "candidate")
    refs = [_readable(load_any(r, progress=progress), "reference") for r in references]
    n_refs = max(len(refs), library_size or 0)
    raw, details = [], []
    bar = progress_bar(transient=True) if progress and len(refs) > 1 else None
    # The products here are small (<= 128 x 128): BLAS threads only add hand-offs, which on
    # busy shared cores made an audit several times slower.
    with threadpool_limits(1, user_api="blas"), (bar or nullcontext()):
        task = bar.add_task(f"audit {cand.name}", total=len(refs)) if bar is not None else None
        for ref in refs:
            if task is not None:
                bar.update(task, description=f"audit {cand.name} vs {ref.name}")
            evidence = shared_evidence(cand, ref)
            p, rows, shared, pooled, bound = _compare(cand, ref, evidence)
            modules = _modules(rows, n_refs, alpha, evidence)
            modules += _pooled_module(p, pooled, modules, n_refs, alpha)
            excluded = excluded_axes(cand, ref)
            if ref is not cand:  # one reference's working arrays at a time, however large the library
                ref.__dict__.pop("_align_side", None)
            raw.append(p)
            details.append((rows, shared, modules, pooled, bound, excluded))
            if task is not None:
                bar.advance(task)
    # references screened out count with p = 1: Holm's factors stay those of the whole library
    adjusted = holm(raw + [1.0] * (n_refs - len(raw)))[: len(raw)] if raw else []
    results = []
    for ref, p_raw, p_adj, (rows, shared, modules, pooled, bound, excluded) in zip(refs, raw, adjusted, details):
        results.append(
            ReferenceResult(
                reference=ref.name,
                verdict=verdict_for(p_adj, alpha),
                p_value=p_adj,
                p_value_raw=p_raw,
                modules=modules,
                origin=ref.origin,
                tokenizer=compare_tokenizers(cand.tokenizer, ref.tokenizer),
                tensors_compared=sum(1 for r in rows if r["comparisons"]),
                shared_axes=shared,
                whole_model=pooled,
                p_value_bound=bound,
                excluded=excluded,
            )
        )
        invariants.apply_to(results[-1], cand, ref, n_refs=n_refs, alpha=alpha)
    verdicts = {r.verdict for r in results}
    overall = "derived" if "derived" in verdicts else "inconclusive" if "inconclusive" in verdicts else "independent"
    return AuditReport(candidate=cand.name, verdict=overall, alpha=alpha, references=results)
