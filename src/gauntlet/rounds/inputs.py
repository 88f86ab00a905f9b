"""Build a round's decision input document from a spec and per-team results.

The orchestrator gathers, for each team, its component scores
(`ComponentScore`, 0-100 with a 95% interval and bootstrap samples), the
independence audit's verdict and module findings, and the licence found at
intake. `decision_inputs` turns them, with the spec's weights, cuts, pool and
policies, into the self-contained document that `decide` reads and the ledger
records.
"""

from __future__ import annotations

import re
from typing import Iterable, Mapping

from gauntlet.domain.components import ComponentScore, TeamResult
from gauntlet.domain.independence import MODULE_KINDS, ModuleFinding, Origin
from gauntlet.errors import InputError
from gauntlet.spec.model import ChallengeSpec

MAX_SAMPLES = 2000


def component_document(score: ComponentScore, max_samples: int = MAX_SAMPLES) -> float | dict:
    """A plain number when exact, else `{"value", "lower", "upper", "samples"}`.
    Samples beyond `max_samples` are thinned evenly (the document stays small;
    the quantiles barely move)."""
    if score.lower == score.upper and not score.samples:
        return float(score.value)
    doc: dict = {"value": float(score.value), "lower": float(score.lower), "upper": float(score.upper)}
    if score.samples:
        samples = list(score.samples)
        if len(samples) > max_samples:
            step = len(samples) / max_samples
            samples = [samples[int(i * step)] for i in range(max_samples)]
        doc["samples"] = [float(s) for s in samples]
    return doc


def finding_document(finding: ModuleFinding) -> dict:
    doc: dict = {"module": finding.module, "verdict": finding.verdict}
    if finding.reference:
        doc["reference"] = finding.reference
    if finding.origin is not None:
        doc["origin"] = {k: v for k, v in vars(finding.origin).items() if v is not None}
    if finding.p_value is not None:
        doc["p_value"] = float(finding.p_value)
    return doc


_KIND_PATTERNS = (
    ("vision_encoder", r"vision|visual|image|vit\b|siglip|clip"),
    ("audio_encoder", r"audio|speech|whisper"),
    ("lm_head", r"lm_head|output_proj|unembed"),
    ("embedding", r"embed|wte|wpe|tok_embeddings"),
    ("router", r"router|\bgate\b|moe_gate"),
    ("attention", r"attn|attention|q_proj|k_proj|v_proj|o_proj|qkv"),
    ("mlp", r"mlp|ffn|feed_forward|up_proj|down_proj|gate_proj|experts"),
    ("norm", r"norm|\bln"),
    ("transformer_layer", r"(layers|blocks|\bh)\.\d+$"),
    ("architecture", r"architecture|config"),
)


# The audit's own module kinds (gauntlet.provenance.audit.module_kind) -> policy kinds.
AUDIT_KINDS = {
    "vision encoder": "vision_encoder",
    "audio encoder": "audio_encoder",
    "embeddings": "embedding",
    "output head": "lm_head",
    "mixture-of-experts layer": "moe_layer",
    "transformer layer": "transformer_layer",
}


def module_kind(name: str) -> str:
    """The policy's module kind for an audit module name, e.g.
    `model.layers.3.mlp.up_proj` -> `mlp`; unknown names are kept as they are
    (and an unknown kind can never be exempted by the policy)."""
    lowered = name.lower()
    if lowered in MODULE_KINDS:
        return lowered
    for kind, pattern in _KIND_PATTERNS:
        if re.search(pattern, lowered):
            return kind
    return name


def findings_from_audit(report: Mapping, spec: ChallengeSpec | None = None) -> tuple[str, tuple[ModuleFinding, ...]]:
    """(team-level verdict, module findings) from `gauntlet audit --json`.

    Each reference's origin comes from the report (`origin`) or, failing
    that, from the spec's `[[independence.references]]`. A reference found
    `derived` without a module breakdown becomes one finding of kind
    `weights`, which no policy can exempt.
    """
    verdict = report.get("verdict")
    if verdict not in ("independent", "derived", "inconclusive"):
        raise InputError(f"audit report: verdict must be independent, derived or inconclusive, got {verdict!r}")
    findings: list[ModuleFinding] = []
    for ref in report.get("references", ()):
        name = str(ref.get("reference", ""))
        origin = _origin(ref.get("origin"), name, spec)
        modules = ref.get("modules") or ()
        for module in modules:
            if module.get("verdict") in ("derived", "inconclusive"):
                kind = AUDIT_KINDS.get(str(module.get("kind"))) or module_kind(str(module.get("name", "weights")))
                findings.append(ModuleFinding(kind, module["verdict"], name, origin, _p(module)))
        if not modules and ref.get("verdict") in ("derived", "inconclusive"):
            findings.append(ModuleFinding("weights", ref["verdict"], name, origin, _p(ref)))
    return verdict, tuple(findings)


def _p(entry: Mapping) -> float | None:
    p = entry.get("p_value")
    return float(p) if isinstance(p, (int, float)) and 0 <= p <= 1 else None


def _origin(raw: object, reference: str, spec: ChallengeSpec | None) -> Origin | None:
    if isinstance(raw, Mapping):
        return Origin(**{k: str(raw[k]) for k in ("country", "organisation", "licence") if raw.get(k) is not None})
    if spec is not None:
        known = spec.independence.reference(reference)
        if known is not None:
            return Origin(known.country, known.organisation, known.licence)
    return None


def decision_inputs(
    spec: ChallengeSpec,
    round_id: str,
    results: Iterable[TeamResult],
    *,
    seed: int = 0,
    draws: int = 4000,
    resources: Mapping[str, int] | None = None,
) -> dict:
    """The decision input document for one round of `spec`.

    `resources` defaults to the round's pool (what its decision allocates for
    the next period)."""
    try:
        rnd = spec.round(round_id)
    except KeyError:
        raise InputError(f"no round {round_id!r} in the spec (rounds: {', '.join(r.id for r in spec.rounds)})") from None
    weights = spec.scoring.weights
    teams = []
    for result in results:
        try:
            team = spec.team(result.team)
        except KeyError:
            raise InputError(f"team {result.team!r} is not in the spec") from None
        missing = sorted(set(weights) - set(result.components))
        if missing:
            raise InputError(f"team {result.team!r}: no score for component(s) {', '.join(missing)}")
        entry: dict = {"team": team.id, "organisation": team.organisation, "independence": result.independence}
        for name in weights:
            entry[name] = component_document(result.components[name])
        if result.findings:
            entry["findings"] = [finding_document(f) for f in result.findings]
        if result.licence is not None:
            entry["licence"] = result.licence
        if result.chain is not None:
            entry["chain"] = {"verdict": result.chain.verdict, "detail": result.chain.detail}
        if result.contamination:
            entry["contamination"] = [{k: v for k, v in vars(f).items() if v is not None} for f in result.contamination]
        teams.append(entry)
    document: dict = {
        "challenge": spec.id,
        "round": rnd.id,
        "weights": dict(weights),
        **rnd.policy.as_inputs(),
        "resources": dict(rnd.pool if resources is None else resources),
        "allocation_policy": spec.resources.allocation_policy(),
        "independence_policy": spec.independence.as_inputs(),
        "monte_carlo": {"seed": seed, "draws": draws},
        "teams": teams,
    }
    if spec.eligibility is not None:
        document["eligibility"] = {"licences": list(spec.eligibility.licences)}
    if spec.own_work is not None:
        document["own_work_policy"] = spec.own_work.as_inputs()
    return document
