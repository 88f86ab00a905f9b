"""The decision input document, read into typed, validated objects.

The document (what `gauntlet round decide` reads and what a published bundle
carries) is the whole truth of a decision: nothing else is consulted.

    {"weights": {"benchmark": 40, "expert": 35, "user": 25},
     "eliminate_lowest": 1,                 # and/or "min_total", "advance_at_most", "winners"
     "resources": {"B200": 1024, "H100": 1024},
     "teams": [{"team": "lg", "benchmark": 84.0, "expert": 90.3, "user": 100.0,
                "independence": "independent"}, ...]}

Optional extensions (all backward compatible with the skeleton contract):
- a component may be `{"value", "lower", "upper", "samples"}` instead of a number;
- a team may carry `licence`, `organisation` and module-level `findings`
  (`{"module", "verdict", "reference", "origin": {"country", "organisation",
  "licence"}, "p_value"}`);
- `independence_policy`, `eligibility` (`{"licences": [...]}`),
  `allocation_policy` (`"equal"`, `"score_weighted"` or
  `{"policy": "tiered", "tier_weights": [...]}`), `monte_carlo`
  (`{"seed", "draws", "confidence"}`), and free labels `challenge`, `round`;
- evidence of own work (`own_work.py`): a team may carry `chain`
  (`{"verdict": "consistent"|"broken"|"inconclusive", "detail"}`) and
  `contamination` (`[{"task", "verdict", "p_value", "gap"}]`), and the document
  an `own_work_policy` (`{"require_chain": bool, "on_contamination":
  "flag"|"drop_task"|"disqualify"}`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gauntlet.domain.components import ComponentScore, TeamResult
from gauntlet.domain.independence import IndependencePolicy, ModuleFinding, Origin, OriginMatcher
from gauntlet.domain.own_work import (
    CHAIN_VERDICTS,
    CONTAMINATION_VERDICTS,
    ON_CONTAMINATION,
    ChainEvidence,
    ContaminationFinding,
    OwnWorkPolicy,
)
from gauntlet.domain.validation import InvalidDocument, Node

VERDICTS = ("independent", "derived", "inconclusive")
ALLOCATION_POLICIES = ("equal", "score_weighted", "tiered")
TOP_LEVEL_KEYS = (
    "weights", "teams", "resources", "eliminate_lowest", "min_total", "advance_at_most", "winners",
    "allocation_policy", "independence_policy", "eligibility", "monte_carlo", "challenge", "round",
    "own_work_policy",
)
TEAM_INFO_KEYS = ("team", "independence", "findings", "licence", "organisation", "name", "country", "chain",
                  "contamination")
DEFAULT_DRAWS = 4000
DEFAULT_CONFIDENCE = 0.95
MAX_DRAWS = 200_000


@dataclass(frozen=True)
class CutPolicy:
    """Performance cuts, applied together among teams not disqualified.
    `winners` (final round) names the top N as winners; the rest do not win."""

    eliminate_lowest: int = 0
    min_total: float | None = None
    advance_at_most: int | None = None
    winners: int | None = None


@dataclass(frozen=True)
class AllocationPolicy:
    policy: str = "equal"
    tier_weights: tuple[float, ...] = ()


@dataclass(frozen=True)
class MonteCarlo:
    seed: int = 0
    draws: int = DEFAULT_DRAWS
    confidence: float = DEFAULT_CONFIDENCE


@dataclass(frozen=True)
class DecisionInputs:
    weights: dict[str, float]
    teams: tuple[TeamResult, ...]
    cuts: CutPolicy
    resources: dict[str, int]
    allocation: AllocationPolicy
    independence: IndependencePolicy
    eligible_licences: frozenset[str] | None
    monte_carlo: MonteCarlo
    own_work: OwnWorkPolicy = OwnWorkPolicy()

    @property
    def components(self) -> tuple[str, ...]:
        """Component names, heaviest weight first (the tie-break order)."""
        return tuple(sorted(self.weights, key=lambda name: (-self.weights[name], name)))


def read_inputs(document: Any) -> DecisionInputs:
    """Validate a decision document; raise `InvalidDocument` naming the key."""
    root = Node(document).table(allowed=TOP_LEVEL_KEYS, required=("weights", "teams"))
    weights = _weights(root["weights"])
    teams = tuple(_team(node, weights) for node in root["teams"].items(nonempty=True))
    seen: dict[str, str] = {}
    for node, team in zip(root["teams"].items(), teams):
        if team.team in seen:
            raise InvalidDocument(f"{node.path}.team", f"duplicate team {team.team!r} (also at {seen[team.team]})")
        seen[team.team] = node.path

    for key in ("challenge", "round"):
        if key in root:
            root[key].string()
    return DecisionInputs(
        weights=weights,
        teams=teams,
        cuts=_cuts(root),
        resources=_resources(root["resources"]) if "resources" in root else {},
        allocation=_allocation(root["allocation_policy"]) if "allocation_policy" in root else AllocationPolicy(),
        independence=_independence_policy(root["independence_policy"])
        if "independence_policy" in root
        else IndependencePolicy(),
        eligible_licences=_eligibility(root["eligibility"]) if "eligibility" in root else None,
        monte_carlo=_monte_carlo(root["monte_carlo"]) if "monte_carlo" in root else MonteCarlo(),
        own_work=_own_work_policy(root["own_work_policy"]) if "own_work_policy" in root else OwnWorkPolicy(),
    )


def _weights(node: Node) -> dict[str, float]:
    entries = node.table()
    if not entries:
        raise node.fail("expected at least one component weight")
    weights = {}
    for name, child in entries.items():
        if name in TEAM_INFO_KEYS:
            raise child.fail(f"{name!r} is a team field and cannot be a component name")
        weights[name] = child.number(minimum=0)
    if sum(weights.values()) <= 0:
        raise node.fail("weights must not all be zero")
    return weights


def _team(node: Node, weights: dict[str, float]) -> TeamResult:
    fields = node.table(allowed=(*TEAM_INFO_KEYS, *weights), required=("team", "independence"))
    for name in weights:
        if name not in fields:
            raise node.fail(f"missing component {name!r} (the weights name {', '.join(sorted(weights))})")
    for key in ("name", "country"):
        if key in fields:
            fields[key].string()
    return TeamResult(
        team=fields["team"].string(),
        components={name: _component(fields[name]) for name in weights},
        independence=fields["independence"].string(choices=VERDICTS),
        findings=tuple(_finding(f) for f in fields["findings"].items()) if "findings" in fields else (),
        licence=fields["licence"].string().strip().lower() if "licence" in fields else None,
        organisation=fields["organisation"].string() if "organisation" in fields else None,
        chain=_chain(fields["chain"]) if "chain" in fields else None,
        contamination=tuple(_contamination(c) for c in fields["contamination"].items()) if "contamination" in fields else (),
    )


def _chain(node: Node) -> ChainEvidence:
    fields = node.table(allowed=("verdict", "detail"), required=("verdict",))
    return ChainEvidence(fields["verdict"].string(choices=CHAIN_VERDICTS),
                         fields["detail"].string() if "detail" in fields else "")


def _contamination(node: Node) -> ContaminationFinding:
    fields = node.table(allowed=("task", "verdict", "p_value", "gap"), required=("task", "verdict"))
    return ContaminationFinding(
        task=fields["task"].string(),
        verdict=fields["verdict"].string(choices=CONTAMINATION_VERDICTS),
        p_value=fields["p_value"].number(minimum=0, maximum=1) if "p_value" in fields else None,
        gap=fields["gap"].number(minimum=-1, maximum=1) if "gap" in fields else None,
    )


def _own_work_policy(node: Node) -> OwnWorkPolicy:
    fields = node.table(allowed=("require_chain", "on_contamination"))
    return OwnWorkPolicy(
        require_chain=fields["require_chain"].boolean() if "require_chain" in fields else False,
        on_contamination=fields["on_contamination"].string(choices=ON_CONTAMINATION)
        if "on_contamination" in fields else "flag",
    )


def _component(node: Node) -> ComponentScore:
    if not isinstance(node.value, dict):
        value = node.number(minimum=0, maximum=100)
        return ComponentScore(value, value, value)
    fields = node.table(allowed=("value", "lower", "upper", "samples"), required=("value",))
    value = fields["value"].number(minimum=0, maximum=100)
    lower = fields["lower"].number(minimum=0, maximum=100) if "lower" in fields else value
    upper = fields["upper"].number(minimum=0, maximum=100) if "upper" in fields else value
    if not lower <= value <= upper:
        raise node.fail(f"interval [{lower}, {upper}] does not contain the value {value}")
    samples: tuple[float, ...] = ()
    if "samples" in fields:
        samples = tuple(s.number(minimum=0, maximum=100) for s in fields["samples"].items())
    return ComponentScore(value, lower, upper, samples)


def _finding(node: Node) -> ModuleFinding:
    fields = node.table(allowed=("module", "verdict", "reference", "origin", "p_value"), required=("module", "verdict"))
    origin = None
    if "origin" in fields:
        o = fields["origin"].table(allowed=("country", "organisation", "licence"))
        origin = Origin(**{k: v.string() for k, v in o.items()})
    return ModuleFinding(
        module=fields["module"].string(),
        verdict=fields["verdict"].string(choices=VERDICTS),
        reference=fields["reference"].string() if "reference" in fields else "",
        origin=origin,
        p_value=fields["p_value"].number(minimum=0, maximum=1) if "p_value" in fields else None,
    )


def _cuts(root: dict[str, Node]) -> CutPolicy:
    def optional_int(key: str, minimum: int) -> int | None:
        return root[key].integer(minimum=minimum) if key in root else None

    return CutPolicy(
        eliminate_lowest=optional_int("eliminate_lowest", 0) or 0,
        min_total=root["min_total"].number(minimum=0, maximum=100) if "min_total" in root else None,
        advance_at_most=optional_int("advance_at_most", 0),
        winners=optional_int("winners", 1),
    )


def _resources(node: Node) -> dict[str, int]:
    return {name: child.integer(minimum=0) for name, child in node.table().items()}


def _allocation(node: Node) -> AllocationPolicy:
    if isinstance(node.value, str):
        name = node.string(choices=ALLOCATION_POLICIES)
        if name == "tiered":
            raise node.fail("the tiered policy needs tier_weights: {\"policy\": \"tiered\", \"tier_weights\": [...]}")
        return AllocationPolicy(name)
    fields = node.table(allowed=("policy", "tier_weights"), required=("policy",))
    name = fields["policy"].string(choices=ALLOCATION_POLICIES)
    return AllocationPolicy(name, tier_weights(node, fields, name, "policy"))


def tier_weights(node: Node, fields: dict[str, Node], name: str, noun: str) -> tuple[float, ...]:
    """The tier weights that go with allocation policy `name` (only `tiered` takes them).
    Shared by decision inputs and challenge specs, so both refuse the same mistakes alike."""
    if name == "tiered":
        if "tier_weights" not in fields:
            raise node.fail(f"missing required key 'tier_weights' for the tiered {noun}")
        return tuple(t.number(minimum=0) for t in fields["tier_weights"].items(nonempty=True))
    if "tier_weights" in fields:
        raise fields["tier_weights"].fail(f"only the tiered {noun} takes tier_weights, not {name!r}")
    return ()


def _origin_matcher(node: Node) -> OriginMatcher:
    fields = node.table(allowed=("countries", "organisations", "licences"))
    return OriginMatcher(**{key: frozenset(s.lower() for s in child.strings()) for key, child in fields.items()})


def _independence_policy(node: Node) -> IndependencePolicy:
    fields = node.table(
        allowed=(
            "disqualifying_modules", "disqualifying_origins", "exempt_origins",
            "exempt_own_organisation", "on_inconclusive",
        )
    )
    default = IndependencePolicy()
    return IndependencePolicy(
        disqualifying_modules=frozenset(fields["disqualifying_modules"].strings())
        if "disqualifying_modules" in fields
        else default.disqualifying_modules,
        disqualifying_origins=_origin_matcher(fields["disqualifying_origins"])
        if "disqualifying_origins" in fields
        else default.disqualifying_origins,
        exempt_origins=_origin_matcher(fields["exempt_origins"]) if "exempt_origins" in fields else default.exempt_origins,
        exempt_own_organisation=fields["exempt_own_organisation"].boolean()
        if "exempt_own_organisation" in fields
        else default.exempt_own_organisation,
        on_inconclusive=fields["on_inconclusive"].string(choices=("flag", "disqualify"))
        if "on_inconclusive" in fields
        else default.on_inconclusive,
    )


def _eligibility(node: Node) -> frozenset[str]:
    fields = node.table(allowed=("licences",), required=("licences",))
    return frozenset(s.strip().lower() for s in fields["licences"].strings())


def _monte_carlo(node: Node) -> MonteCarlo:
    fields = node.table(allowed=("seed", "draws", "confidence"))
    default = MonteCarlo()
    return MonteCarlo(
        seed=fields["seed"].integer(minimum=0) if "seed" in fields else default.seed,
        draws=fields["draws"].integer(minimum=100, maximum=MAX_DRAWS) if "draws" in fields else default.draws,
        confidence=fields["confidence"].number(minimum=0.5, maximum=0.999)
        if "confidence" in fields
        else default.confidence,
    )
