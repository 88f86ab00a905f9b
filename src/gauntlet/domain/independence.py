"""The independence policy: which reuse of someone else's weights disqualifies.

The audit says, module by module, whether a submission's weights derive from a
reference model, and where that reference comes from. The policy decides what
that means for the challenge. The Korean programme's rule, for example: when
open source is used, weights must be initialised and trained in-house, so a
vision encoder taken as-is from a foreign model disqualifies, while reusing an
architecture (code, shapes) does not - the audit reports that as a module kind
the policy does not list.

Rules, in order:
1. With module findings: the team is disqualified when some finding is
   `derived`, its module kind is in `disqualifying_modules` (or is not a kind
   in `MODULE_KINDS` at all: what the policy cannot name it cannot permit),
   its reference's
   origin matches `disqualifying_origins` and is not exempt (`exempt_origins`,
   or the team's own organisation when `exempt_own_organisation`). Derived
   findings that the policy permits are flagged, not punished.
2. Without findings, the team-level verdict stands: `derived` disqualifies
   (the policy cannot weigh what it cannot see, so it errs towards the audit).
3. `inconclusive` (team-level or any finding) is flagged for the panel, or
   disqualifies when `on_inconclusive = "disqualify"`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

WILDCARD = "*"
MODULE_KINDS = (
    "embedding", "attention", "mlp", "norm", "vision_encoder", "audio_encoder", "lm_head", "router", "architecture",
    "transformer_layer", "moe_layer",
)
# An audit that compares whole layers reports them as one module; such a
# finding counts as derived weights of each part, so it disqualifies when any
# part's kind does.
COMPOSITE_KINDS = {"transformer_layer": ("attention", "mlp", "norm"), "moe_layer": ("mlp", "router")}
DEFAULT_DISQUALIFYING_MODULES = frozenset(
    {"embedding", "attention", "mlp", "vision_encoder", "audio_encoder", "lm_head", "router"}
)


@dataclass(frozen=True)
class Origin:
    """Where a reference model comes from (as the reference library records it)."""

    country: str | None = None
    organisation: str | None = None
    licence: str | None = None

    def describe(self) -> str:
        parts = [p for p in (self.organisation, self.country, self.licence) if p]
        return ", ".join(parts) if parts else "origin unknown"


@dataclass(frozen=True)
class OriginMatcher:
    """Matches an origin when any listed field matches (case-insensitive);
    `"*"` matches every origin, including an unknown one."""

    countries: frozenset[str] = frozenset()
    organisations: frozenset[str] = frozenset()
    licences: frozenset[str] = frozenset()

    def matches(self, origin: Origin | None) -> bool:
        origin = origin or Origin()
        for listed, actual in (
            (self.countries, origin.country),
            (self.organisations, origin.organisation),
            (self.licences, origin.licence),
        ):
            if WILDCARD in listed or (actual is not None and actual.lower() in listed):
                return True
        return False


@dataclass(frozen=True)
class ModuleFinding:
    module: str
    verdict: str
    reference: str = ""
    origin: Origin | None = None
    p_value: float | None = None

    def describe(self) -> str:
        source = self.reference or "a reference"
        return f"{self.module} derived from {source} ({(self.origin or Origin()).describe()})"


@dataclass(frozen=True)
class IndependencePolicy:
    disqualifying_modules: frozenset[str] = DEFAULT_DISQUALIFYING_MODULES
    disqualifying_origins: OriginMatcher = field(default_factory=lambda: OriginMatcher(countries=frozenset({WILDCARD})))
    exempt_origins: OriginMatcher = field(default_factory=OriginMatcher)
    exempt_own_organisation: bool = False
    on_inconclusive: str = "flag"


@dataclass(frozen=True)
class IndependenceRuling:
    disqualified: bool
    detail: str = ""
    flags: tuple[tuple[str, str], ...] = ()  # (flag code, detail)


def rule_on(
    policy: IndependencePolicy,
    verdict: str,
    findings: tuple[ModuleFinding, ...],
    organisation: str | None,
) -> IndependenceRuling:
    """Apply the policy to one team's audit outcome."""
    flags: list[tuple[str, str]] = []
    inconclusive = verdict == "inconclusive" or any(f.verdict == "inconclusive" for f in findings)
    if findings:
        punished, permitted = [], []
        for finding in findings:
            if finding.verdict != "derived":
                continue
            (punished if _disqualifies(policy, finding, organisation) else permitted).append(finding)
        for finding in permitted:
            flags.append(("permitted_reuse", f"{finding.describe()}: allowed by the independence policy"))
        if punished:
            # Several layers of one kind reused from one reference read as one reason, with a count.
            counts: dict[str, int] = {}
            for finding in punished:
                counts[finding.describe()] = counts.get(finding.describe(), 0) + 1
            detail = "; ".join(text if n == 1 else f"{text} (x{n})" for text, n in counts.items())
            return IndependenceRuling(True, f"weights not trained in-house: {detail}", tuple(flags))
    elif verdict == "derived":
        return IndependenceRuling(True, "the independence audit found the weights derived from a reference")
    if inconclusive:
        if policy.on_inconclusive == "disqualify":
            return IndependenceRuling(True, "the independence audit was inconclusive", tuple(flags))
        flags.append(("independence_inconclusive", "the audit could not decide; for the panel to review"))
    return IndependenceRuling(False, "", tuple(flags))


def _disqualifies(policy: IndependencePolicy, finding: ModuleFinding, organisation: str | None) -> bool:
    # A kind the policy cannot name (e.g. "weights", "layers.3") cannot be
    # exempted by it: only known kinds left off the list are permitted.
    parts = COMPOSITE_KINDS.get(finding.module, (finding.module,))
    if all(p in MODULE_KINDS and p not in policy.disqualifying_modules for p in parts):
        return False
    if not policy.disqualifying_origins.matches(finding.origin):
        return False
    if policy.exempt_origins.matches(finding.origin):
        return False
    own = organisation and finding.origin and finding.origin.organisation
    if policy.exempt_own_organisation and own and organisation.lower() == finding.origin.organisation.lower():
        return False
    return True
