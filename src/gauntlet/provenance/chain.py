"""Verify a training run from its checkpoints: "trained here", or where it breaks.

What is established, and by which test (each one the independence audit's
calibrated test, whose p-value is uniform when two weight sets were made
independently):
- links: each checkpoint against its predecessor, the final model against the
  last checkpoint. A link is `derived` when p < alpha. A chain passes only if
  every link does, so a forger who puts in one foreign model must win that one
  test, which happens with probability at most alpha; no correction over links
  is needed (an intersection-union test), and a failed link is named.
- origin: step 0 replayed bit for bit from its recipe, or tested against the
  declared initialisation scheme (`chain_origin`), and independent of every
  reference.
- references: every model of the chain AND every update between two
  checkpoints (the difference of their weights) against every reference. An
  honest update is made by the team's own optimiser from the team's own weights,
  so it is independent of a foreign model; an update that points towards one (a
  run "trained" by interpolating from noise towards a foreign model, or a
  foreign model spliced in) is derived from it even when every link is. All
  these p-values are Holm-corrected together, so an honest chain is accused with
  probability at most alpha whatever its length and the number of references.
- drift: how far each link moves (relative to the weights' size), per declared
  step. Not a p-value: a plausibility check with stated rules (`DRIFT_RULES`).

Fingerprints stream (the audit's), and updates are sketched one tensor pair at a
time, so memory is bounded by the largest tensor whatever the model's size.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np

from gauntlet.artifacts.layout import open_model_folder
from gauntlet.artifacts.safetensors_io import read_header, read_tensor
from gauntlet.i18n import N_
from gauntlet.provenance import DEFAULT_ALPHA, Fingerprint, audit, fingerprint_arrays, fingerprint_model, load_any
from gauntlet.provenance.chain_file import Chain, Checkpoint, read_chain
from gauntlet.provenance.chain_origin import OriginResult, replay_recipe, scheme_test
from gauntlet.provenance.statistics import holm

INDEPENDENT_ABOVE = 1e-3
# A stretch of one run moving far more per step than the rest is not one run. Only the
# upper side is a rule: schedules decay the learning rate to nearly zero (cosine), and
# warm-up starts from it, so a stretch may legitimately move almost nothing per step.
DRIFT_FACTOR = 100.0
DRIFT_RULE_MESSAGES = [  # the reports translate these; the JSON carries DRIFT_RULES, in English
    N_("every weight of every checkpoint is a finite number (no NaN, no infinity)"),
    N_("the weights move whenever the declared step advances"),
    N_("no stretch of the run moves more per declared step than %(factor)sx the run's median"),
    N_("tokens seen advance whenever the declared step advances, at a rate per step within "
       "%(factor)sx of the run's median (batch sizes change, not by that much)"),
]
DRIFT_RULES = [message % {"factor": f"{DRIFT_FACTOR:g}"} for message in DRIFT_RULE_MESSAGES]


@dataclass
class Link:
    source: Checkpoint
    target: Checkpoint
    verdict: str
    p_value: float
    drift: float  # |target - source| / |source| over every shared tensor
    steps: int | None
    tokens: int | None
    drift_per_step: float | None = None
    plausible: bool = True
    non_finite: tuple = ()  # the keys of the link's ends whose weights hold a NaN or an infinity

    def to_dict(self) -> dict:
        return {"from": self.source.key, "to": self.target.key, "verdict": self.verdict, "p_value": self.p_value,
                "drift": self.drift if math.isfinite(self.drift) else None, "steps": self.steps, "tokens": self.tokens,
                "drift_per_step": self.drift_per_step, "drift_plausible": self.plausible}


@dataclass
class ReferenceFinding:
    reference: str
    verdict: str
    first_step: int | str | None
    p_value: float  # the smallest corrected p-value over the chain's models and updates
    tests: list[dict] = field(default_factory=list)  # [{"what": "model"|"update", "step", "p_value", "verdict"}]

    def to_dict(self) -> dict:
        return {"reference": self.reference, "verdict": self.verdict, "first_step": self.first_step,
                "p_value": self.p_value, "tests": self.tests}


@dataclass
class ChainReport:
    chain: str
    verdict: str
    alpha: float
    links: list[Link]
    origin: OriginResult
    references: list[ReferenceFinding]
    findings: list[str]
    first_offending_step: int | str | None = None

    def to_dict(self) -> dict:
        return {
            "chain": self.chain,
            "verdict": self.verdict,
            "alpha": self.alpha,
            "independent_above": INDEPENDENT_ABOVE,
            "first_offending_step": self.first_offending_step,
            "links": [link.to_dict() for link in self.links],
            "origin": self.origin.to_dict(),
            "references": [r.to_dict() for r in self.references],
            "findings": self.findings,
            "drift_rules": DRIFT_RULES,
        }

    def write_html(self, path, language: str | None = None) -> None:
        from gauntlet.provenance.chain_report import write_html

        write_html(self, path, language)


def _verdict(p: float, alpha: float) -> str:
    return "derived" if p < alpha else "independent" if p >= INDEPENDENT_ABOVE else "inconclusive"


def _tensor_index(folder) -> dict:
    model = open_model_folder(folder)
    index = {}
    for shard in model.shards:
        header = read_header(shard)
        for name, info in header.tensors.items():
            if info.is_float and info.numel:
                index[name] = (header, info)
    return index


UPDATE_WORKERS = max(1, min(4, os.cpu_count() or 1))


def _norm(x: np.ndarray) -> float:
    """|x|^2; NaN when x holds a NaN or an infinity (a finite sum that overflows stays inf)."""
    norm = float(np.dot(x.ravel(), x.ravel()))
    return norm if math.isfinite(norm) or np.isfinite(x).all() else math.nan


def _walk_tensor(indexes: list[dict], name: str) -> tuple[list[tuple[float, float, object]], list[bool]]:
    """One tensor along the chain: per link, (|delta|^2, |before|^2, sketch of delta or None),
    NaN for a link whose either end holds a NaN or an infinity; and per checkpoint, whether
    its copy of the tensor is finite (True where it has none)."""
    n = len(indexes) - 1
    out: list[tuple[float, float, object]] = [(0.0, 0.0, None)] * n
    shape = indexes[0][name][1].shape
    before = read_tensor(indexes[0][name][0], name)
    norms = [_norm(before)] + [0.0] * n
    for k in range(n):
        entry = indexes[k + 1].get(name)
        after = read_tensor(entry[0], name) if entry is not None and entry[1].shape == shape else None
        if after is not None:
            norms[k + 1] = _norm(after)
        if after is None or before is None:
            before = after
            continue
        if math.isnan(norms[k]) or math.isnan(norms[k + 1]):
            out[k] = (math.nan, math.nan, None)  # no drift and no update to sketch: the finding names the step
        else:
            delta = after - before
            sketch = fingerprint_arrays(name, {name: delta}).tensors[0] if delta.any() else None
            out[k] = (float(np.dot(delta.ravel(), delta.ravel())), norms[k], sketch)
        before = after
    return out, [not math.isnan(norm) for norm in norms]


def updates_along(models: tuple[Checkpoint, ...] | list[Checkpoint]) -> list[tuple[Fingerprint, float, tuple]]:
    """The update between each pair of neighbours as a fingerprint, its relative size
    |delta| / |before| (NaN when either holds a NaN or an infinity), and the keys of those of
    the two that do. Tensor by tensor along the whole chain, so each checkpoint's tensor
    is read once (not once per neighbour); a few tensors are walked at once (numpy and the
    reads release the GIL), each holding two of its versions in memory."""
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    indexes = [_tensor_index(m.path) for m in models]
    names = list(indexes[0])
    with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(UPDATE_WORKERS) as pool:
        walks = list(pool.map(lambda name: _walk_tensor(indexes, name), names))
    finite = [all(w[1][k] for w in walks) for k in range(len(models))]
    out = []
    for k, (a, b) in enumerate(zip(models, models[1:])):
        moved = sum(w[0][k][0] for w in walks)
        size = sum(w[0][k][1] for w in walks)
        sketches = [w[0][k][2] for w in walks if w[0][k][2] is not None]
        bad = tuple(m.key for m, ok in ((a, finite[k]), (b, finite[k + 1])) if not ok)
        relative = math.nan if bad else math.sqrt(moved / size) if size > 0 else 0.0
        out.append((Fingerprint(name=f"update {a.key}->{b.key}", tensors=sketches), relative, bad))
    return out


def update_between(source: Checkpoint, target: Checkpoint) -> tuple[Fingerprint, float, tuple]:
    return updates_along([source, target])[0]


def _origin(chain: Chain) -> OriginResult:
    first = chain.checkpoints[0]
    if first.step != 0:
        return OriginResult("unknown", "none", None, f"the chain starts at step {first.step}, not at a fresh step 0")
    if chain.init is not None:
        return replay_recipe(first.path, chain.init.seed)
    return scheme_test(first.path)


def _check_drift(links: list[Link]) -> list[str]:
    findings = []
    rates = [link.drift_per_step for link in links if link.drift_per_step]
    median = float(np.median(rates)) if rates else 0.0
    for link in links:
        where = f"step {link.source.key} -> {link.target.key}"
        if link.non_finite:  # NaN compares false with every bound: say so rather than pass it
            link.plausible = False
            steps = " and ".join(f"step {key}" for key in link.non_finite)
            findings.append(f"drift: {where} has no measurable drift: the weights of {steps} are not finite "
                            "(NaN or infinity)")
        elif link.steps and link.drift == 0.0:
            link.plausible = False
            findings.append(f"drift: {where} declares {link.steps} steps but the weights did not move")
        elif link.drift_per_step and median > 0 and link.drift_per_step / median > DRIFT_FACTOR:
            link.plausible = False
            findings.append(f"drift: {where} moves {link.drift_per_step:.2e} per step, "
                            f"{link.drift_per_step / median:.3g}x the run's median {median:.2e}")
    per_step = [link.tokens / link.steps for link in links if link.steps and link.tokens is not None]
    tokens_median = float(np.median(per_step)) if per_step else 0.0
    for link in links:
        if not link.steps or link.tokens is None:
            continue
        where = f"step {link.source.key} -> {link.target.key}"
        rate = link.tokens / link.steps
        if tokens_median > 0 and (rate == 0 or not 1 / DRIFT_FACTOR <= rate / tokens_median <= DRIFT_FACTOR):
            link.plausible = False
            findings.append(f"drift: {where} declares {rate:,.0f} tokens per step against the run's median "
                            f"{tokens_median:,.0f}")
    return findings


def verify_chain(chain_file, references=(), *, alpha: float = DEFAULT_ALPHA, progress: bool = True) -> ChainReport:
    """Verify CHAIN.json (path or `Chain`) against reference models (folders, fingerprint
    files or Fingerprints)."""
    from contextlib import nullcontext

    from gauntlet.console import progress_bar

    chain = chain_file if isinstance(chain_file, Chain) else read_chain(chain_file)
    refs = [load_any(r, progress=progress) for r in references]
    models = chain.models
    pairs = list(zip(models, models[1:]))
    bar = progress_bar(transient=True) if progress else None
    with bar or nullcontext():
        task = bar.add_task("chain: fingerprints", total=len(models) + len(pairs)) if bar else None
        prints = []
        for m in models:
            prints.append(fingerprint_model(m.path, name=f"step {m.key}", progress=False))
            if bar:
                bar.advance(task)
        if bar:
            bar.update(task, description="chain: updates")
        moves = updates_along(models)
        links, updates = [], []
        for (a, b), fa, fb, (update, drift, non_finite) in zip(pairs, prints, prints[1:], moves):
            if bar:
                bar.update(task, description=f"chain: link {a.key} -> {b.key}")
            p = audit(fb, [fa], alpha=alpha, progress=False).references[0].p_value
            updates.append(update)
            steps = b.step - a.step if b.step is not None else None
            tokens = b.tokens - a.tokens if b.tokens is not None else None
            links.append(Link(a, b, _verdict(p, alpha), p, drift, steps, tokens,
                              drift / steps if steps and not non_finite else None, non_finite=non_finite))
            if bar:
                bar.advance(task)
    origin = _origin(chain)
    findings: list[str] = []
    reference_findings = _reference_tests(models, prints, updates, refs, alpha, progress)
    derived_at_zero = [r.reference for r in reference_findings
                       if any(t["what"] == "model" and t["step"] == models[0].key and t["verdict"] == "derived" for t in r.tests)]
    if derived_at_zero:
        origin.references = derived_at_zero
        origin.verdict = "not-fresh"
    findings += _check_drift(links)
    verdict, first = _conclude(chain, links, origin, reference_findings, findings, bool(refs))
    return ChainReport(str(chain.source), verdict, alpha, links, origin, reference_findings, findings, first)


def _reference_tests(models, prints, updates, refs, alpha, progress) -> list[ReferenceFinding]:
    """Every model and every update against every reference, Holm-corrected together."""
    if not refs:
        return []
    subjects = [("model", m.key, fp) for m, fp in zip(models, prints)]
    subjects += [("update", b.key, up) for (a, b), up in zip(zip(models, models[1:]), updates) if up.tensors]
    raw = []  # (reference index, what, step, raw p)
    for what, step, fp in subjects:
        report = audit(fp, refs, alpha=alpha, progress=False)
        for i, r in enumerate(report.references):
            raw.append((i, what, step, r.p_value_raw))
    adjusted = holm([p for *_, p in raw])
    order = {m.key: k for k, m in enumerate(models)}
    out = []
    for i, ref in enumerate(refs):
        tests = [{"what": what, "step": step, "p_value": q, "verdict": _verdict(q, alpha)}
                 for (j, what, step, _), q in zip(raw, adjusted) if j == i]
        tests.sort(key=lambda t: (order[t["step"]], t["what"] == "model"))
        derived = [t for t in tests if t["verdict"] == "derived"]
        unclear = [t for t in tests if t["verdict"] == "inconclusive"]
        verdict = "derived" if derived else "inconclusive" if unclear else "independent"
        first = (derived or unclear)[0]["step"] if derived or unclear else None
        out.append(ReferenceFinding(ref.name, verdict, first, min(t["p_value"] for t in tests), tests))
    return out


def _conclude(chain, links, origin, references, findings, have_refs) -> tuple[str, int | str | None]:
    order = {m.key: k for k, m in enumerate(chain.models)}
    offending = []
    for link in links:
        if link.verdict == "independent":
            findings.append(f"link {link.source.key} -> {link.target.key} is broken: the later model is not derived "
                            f"from the earlier one (p = {link.p_value:.2e})")
            offending.append(link.target.key)
        elif link.verdict == "inconclusive":
            findings.append(f"link {link.source.key} -> {link.target.key} is inconclusive (p = {link.p_value:.2e})")
    if origin.verdict == "not-fresh":
        where = f"derived from {', '.join(origin.references)}" if origin.references else origin.detail
        findings.append(f"step {chain.models[0].key} is not a fresh initialisation: {where}")
        offending.append(chain.models[0].key)
    elif origin.verdict == "unknown":
        findings.append(f"origin unknown: {origin.detail}")
    for ref in references:
        if ref.verdict == "derived":
            findings.append(f"step {ref.first_step} is derived from {ref.reference} (corrected p = {ref.p_value:.2e})")
            offending.append(ref.first_step)
        elif ref.verdict == "inconclusive":
            findings.append(f"step {ref.first_step} may be derived from {ref.reference} (corrected p = {ref.p_value:.2e})")
    if not have_refs:
        findings.append("no references given: derivation from a foreign model was not tested")
    first = min(offending, key=lambda k: order[k]) if offending else None
    if first is not None:
        return "broken", first
    unclear = (any(link.verdict == "inconclusive" or not link.plausible for link in links)
               or origin.verdict == "unknown" or any(r.verdict == "inconclusive" for r in references))
    return ("inconclusive" if unclear else "consistent"), None
