"""TOML -> `ChallengeSpec`, refusing anything doubtful with a one-line message
naming the key path (`teams[2].country: expected a string, got an integer (42)`).

Unknown keys are errors (with a suggestion), never silently ignored: a typo in
a spec must not quietly change who is eliminated.
"""

from __future__ import annotations

import ipaddress
import re

from gauntlet.domain.independence import MODULE_KINDS
from gauntlet.domain.inputs import ALLOCATION_POLICIES, tier_weights
from gauntlet.domain.validation import InvalidDocument, Node, unique_ids
from gauntlet.i18n import LANGUAGES
from gauntlet.spec.model import (
    Arena,
    BenchmarkSuiteEntry,
    ChallengeSpec,
    Criterion,
    Dataset,
    Eligibility,
    Expert,
    ExpertPanel,
    IndependencePolicy,
    Localized,
    OriginRule,
    OwnWork,
    ReferenceModel,
    Resources,
    Round,
    RoundPolicy,
    Scoring,
    ScoringComponent,
    Submissions,
    Team,
)

SECTIONS = (
    "challenge", "scoring", "teams", "rounds", "benchmarks", "expert_panel", "arena",
    "independence", "eligibility", "resources", "submissions", "own_work",
)


def parse_document(document: dict) -> ChallengeSpec:
    root = Node(document).table(allowed=SECTIONS, required=("challenge", "scoring", "teams", "rounds"))
    challenge = root["challenge"].table(allowed=("id", "name", "organiser", "language"),
                                        required=("id", "name", "organiser"))
    rounds = _rounds(root["rounds"])
    round_ids = [r.id for r in rounds]
    teams = _teams(root["teams"], round_ids)
    team_ids = {t.id for t in teams}
    resources = _resources(root["resources"]) if "resources" in root else Resources("equal", (), {}, ())
    spec = ChallengeSpec(
        id=challenge["id"].string(),
        name=challenge["name"].string(),
        organiser=challenge["organiser"].string(),
        teams=teams,
        rounds=rounds,
        scoring=_scoring(root["scoring"]),
        benchmarks=_benchmarks(root["benchmarks"]) if "benchmarks" in root else (),
        expert_panel=_expert_panel(root["expert_panel"], team_ids) if "expert_panel" in root else None,
        arena=_arena(root["arena"]) if "arena" in root else None,
        independence=_independence(root["independence"]) if "independence" in root else _default_independence(),
        eligibility=_eligibility(root["eligibility"]) if "eligibility" in root else None,
        resources=resources,
        submissions=_submissions(root["submissions"]) if "submissions" in root else Submissions(),
        own_work=_own_work(root["own_work"]) if "own_work" in root else None,
        language=challenge["language"].string(choices=LANGUAGES) if "language" in challenge else LANGUAGES[0],
    )
    if not spec.starting_teams():
        raise InvalidDocument("teams", "no team takes part in the first round (every team has joins_at_round)")
    return spec


def _teams(node: Node, round_ids: list[str]) -> tuple[Team, ...]:
    items = node.items(nonempty=True)
    unique_ids(items)
    teams = []
    for item in items:
        f = item.table(
            allowed=("id", "name", "organisation", "country", "joins_at_round", "allotment"),
            required=("id", "name", "organisation", "country"),
        )
        joins = None
        if "joins_at_round" in f:
            joins = f["joins_at_round"].string(choices=round_ids)
            if joins == round_ids[0]:
                raise f["joins_at_round"].fail(
                    "entrants join after the first round; leave joins_at_round out for teams that start in it"
                )
        allotment = _gpu_counts(f["allotment"]) if "allotment" in f else {}
        if allotment and joins is None:
            raise f["allotment"].fail("only entrants (teams with joins_at_round) bring their own allotment")
        teams.append(
            Team(
                id=_identifier(f["id"]),
                name=f["name"].string(),
                organisation=f["organisation"].string(),
                country=f["country"].string(),
                joins_at_round=joins,
                allotment=allotment,
            )
        )
    return tuple(teams)


def _identifier(node: Node) -> str:
    value = node.string()
    if not all(ch.isalnum() or ch in "-_." for ch in value):
        raise node.fail(f"expected an identifier (letters, digits, '-', '_', '.'), got {value!r}")
    return value


def _rounds(node: Node) -> tuple[Round, ...]:
    items = node.items(nonempty=True)
    unique_ids(items)
    rounds = []
    for i, item in enumerate(items):
        f = item.table(
            allowed=("id", "name", "submission_deadline", "decision_date", "appeal_window_days", "policy", "pool"),
            required=("id", "name", "submission_deadline", "decision_date", "appeal_window_days"),
        )
        deadline = f["submission_deadline"].aware_datetime()
        decision = f["decision_date"].aware_datetime()
        if decision < deadline:
            raise f["decision_date"].fail(f"comes before the submission deadline ({deadline.isoformat()})")
        if rounds and deadline <= rounds[-1].decision_date:
            raise f["submission_deadline"].fail(
                f"must come after the previous round's decision ({rounds[-1].decision_date.isoformat()})"
            )
        policy = _policy(f["policy"]) if "policy" in f else RoundPolicy()
        last = i == len(items) - 1
        if last and policy.winners is None:
            raise (f["policy"] if "policy" in f else item).fail("the final round must name its winners (policy.winners)")
        if not last and policy.winners is not None:
            raise f["policy"].table()["winners"].fail("only the final round names winners")
        rounds.append(
            Round(
                id=_identifier(f["id"]),
                name=f["name"].string(),
                submission_deadline=deadline,
                decision_date=decision,
                appeal_window_days=f["appeal_window_days"].integer(minimum=0, maximum=365),
                policy=policy,
                pool=_gpu_counts(f["pool"]) if "pool" in f else {},
            )
        )
    return tuple(rounds)


def _policy(node: Node) -> RoundPolicy:
    f = node.table(allowed=("eliminate_lowest", "min_total", "advance_at_most", "winners"))
    return RoundPolicy(
        eliminate_lowest=f["eliminate_lowest"].integer(minimum=0) if "eliminate_lowest" in f else 0,
        min_total=f["min_total"].number(minimum=0, maximum=100) if "min_total" in f else None,
        advance_at_most=f["advance_at_most"].integer(minimum=0) if "advance_at_most" in f else None,
        winners=f["winners"].integer(minimum=1) if "winners" in f else None,
    )


def _gpu_counts(node: Node) -> dict[str, int]:
    return {name: child.integer(minimum=0) for name, child in node.table().items()}


# The arena-to-0-100 conversions `gauntlet.ratings.user_component` implements (a test keeps them in step).
USER_SCORE_CONVERSIONS = ("win_rate", "relative_to_best")


def _scoring(node: Node) -> Scoring:
    f = node.table(allowed=("weights", "user_score_conversion"), required=("weights",))
    weights = f["weights"].table()
    if not weights:
        raise f["weights"].fail("expected at least one component weight")
    components = tuple(ScoringComponent(name, child.number(minimum=0)) for name, child in weights.items())
    if sum(c.weight for c in components) <= 0:
        raise f["weights"].fail("weights must not all be zero")
    conversion = (f["user_score_conversion"].string(choices=USER_SCORE_CONVERSIONS)
                  if "user_score_conversion" in f else USER_SCORE_CONVERSIONS[0])
    return Scoring(components, conversion)


def _benchmarks(node: Node) -> tuple[BenchmarkSuiteEntry, ...]:
    f = node.table(allowed=("tasks",), required=("tasks",))
    items = f["tasks"].items()
    unique_ids(items)
    tasks = []
    for item in items:
        t = item.table(allowed=("id", "group", "metric", "weight", "target_model"), required=("id", "group", "metric", "weight"))
        tasks.append(
            BenchmarkSuiteEntry(
                id=_identifier(t["id"]),
                group=t["group"].string(),
                metric=t["metric"].string(),
                weight=t["weight"].number(minimum=0),
                target_model=t["target_model"].string() if "target_model" in t else None,
            )
        )
    return tuple(tasks)


def _localized(node: Node) -> Localized:
    f = node.table(allowed=("ko", "en"), required=("ko", "en"))
    return Localized(f["ko"].string(), f["en"].string())


def _expert_panel(node: Node, team_ids: set[str]) -> ExpertPanel:
    f = node.table(allowed=("reviews_per_submission", "criteria", "experts"), required=("reviews_per_submission", "criteria", "experts"))
    criteria_nodes = f["criteria"].items(nonempty=True)
    unique_ids(criteria_nodes, "key")
    criteria = []
    for item in criteria_nodes:
        c = item.table(allowed=("key", "name", "instructions", "scale", "weight"), required=("key", "name", "instructions", "scale"))
        scale = c["scale"].items()
        if len(scale) != 2:
            raise c["scale"].fail("expected [lowest, highest], e.g. [1, 5]")
        low, high = scale[0].integer(), scale[1].integer()
        if low >= high:
            raise c["scale"].fail(f"the lowest point ({low}) must be below the highest ({high})")
        criteria.append(
            Criterion(
                key=_identifier(c["key"]),
                name=_localized(c["name"]),
                instructions=_localized(c["instructions"]),
                scale_min=low,
                scale_max=high,
                weight=c["weight"].number(minimum=0) if "weight" in c else 1.0,
            )
        )
    expert_nodes = f["experts"].items(nonempty=True)
    unique_ids(expert_nodes)
    experts = []
    for item in expert_nodes:
        e = item.table(allowed=("id", "name", "affiliations", "conflicts"), required=("id", "name"))
        conflicts = e["conflicts"].strings() if "conflicts" in e else ()
        for i, team in enumerate(conflicts):
            if team not in team_ids:
                raise InvalidDocument(f"{e['conflicts'].path}[{i}]", f"unknown team {team!r}")
        experts.append(
            Expert(
                id=_identifier(e["id"]),
                name=e["name"].string(),
                affiliations=e["affiliations"].strings() if "affiliations" in e else (),
                conflicts=conflicts,
            )
        )
    k = f["reviews_per_submission"].integer(minimum=1)
    for team in sorted(team_ids):
        free = sum(1 for e in experts if team not in e.conflicts)
        if free < k:
            raise f["reviews_per_submission"].fail(
                f"team {team!r} has only {free} expert(s) without a conflict of interest, fewer than {k}"
            )
    return ExpertPanel(tuple(criteria), tuple(experts), k)


ARENA_LIMITS = ("daily_cap_per_address", "daily_cap_per_network", "votes_per_second_per_voter",
                "votes_per_second_per_address")


def _arena(node: Node) -> Arena:
    f = node.table(allowed=("votes_per_round", "daily_cap_per_voter", *ARENA_LIMITS, "voters", "proof_of_work_bits",
                            "trusted_proxy_header", "trusted_proxies"),
                   required=("votes_per_round", "daily_cap_per_voter"))
    extra = {k: f[k].integer(minimum=0 if "per_second" in k else 1) for k in ARENA_LIMITS if k in f}
    if "voters" in f:
        extra["voters"] = f["voters"].string(choices=("anyone", "signed_in"))
    if "proof_of_work_bits" in f:
        extra["proof_of_work_bits"] = f["proof_of_work_bits"].integer(minimum=0, maximum=28)
    if "trusted_proxy_header" in f:
        header = f["trusted_proxy_header"].string()
        if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", header):
            raise f["trusted_proxy_header"].fail(f"{header!r} is not an HTTP header name")
        extra["trusted_proxy_header"] = header
    if "trusted_proxies" in f:
        for i, network in enumerate(f["trusted_proxies"].strings()):
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise f["trusted_proxies"].fail(f"entry {i}: {network!r} is not an address or network") from None
        extra["trusted_proxies"] = f["trusted_proxies"].strings()
    if extra.get("trusted_proxies") and not extra.get("trusted_proxy_header"):
        raise f["trusted_proxies"].fail("trusted_proxies needs trusted_proxy_header, the header they set")
    return Arena(f["votes_per_round"].integer(minimum=1), f["daily_cap_per_voter"].integer(minimum=1), **extra)


def _origin_rule(node: Node) -> OriginRule:
    f = node.table(allowed=("countries", "organisations", "licences"))
    return OriginRule(**{k: tuple(s.lower() for s in v.strings()) for k, v in f.items()})


def _own_work(node: Node) -> OwnWork:
    from gauntlet.domain.own_work import ON_CONTAMINATION

    f = node.table(allowed=("require_chain", "on_contamination", "contamination_level"))
    return OwnWork(
        require_chain=f["require_chain"].boolean() if "require_chain" in f else False,
        on_contamination=f["on_contamination"].string(choices=ON_CONTAMINATION) if "on_contamination" in f else "flag",
        contamination_level=f["contamination_level"].number(minimum=1e-12, maximum=0.5)
        if "contamination_level" in f else 0.01,
    )


def _default_independence() -> IndependencePolicy:
    kinds = tuple(k for k in MODULE_KINDS if k not in ("norm", "architecture"))
    return IndependencePolicy(kinds, OriginRule(countries=("*",)), OriginRule(), False, "flag")


def _independence(node: Node) -> IndependencePolicy:
    f = node.table(
        allowed=(
            "disqualifying_modules", "disqualifying_origins", "exempt_origins",
            "exempt_own_organisation", "on_inconclusive", "references",
        )
    )
    default = _default_independence()
    modules = default.disqualifying_modules
    if "disqualifying_modules" in f:
        modules = f["disqualifying_modules"].strings()
        for i, kind in enumerate(modules):
            if kind not in MODULE_KINDS:
                raise InvalidDocument(
                    f"{f['disqualifying_modules'].path}[{i}]",
                    f"unknown module kind {kind!r}; known: {', '.join(MODULE_KINDS)}",
                )
    references = []
    if "references" in f:
        items = f["references"].items()
        unique_ids(items)
        for item in items:
            r = item.table(allowed=("id", "name", "organisation", "country", "licence"), required=("id", "organisation", "country", "licence"))
            references.append(
                ReferenceModel(
                    id=r["id"].string(),
                    name=r["name"].string() if "name" in r else r["id"].string(),
                    organisation=r["organisation"].string(),
                    country=r["country"].string(),
                    licence=r["licence"].string().lower(),
                )
            )
    return IndependencePolicy(
        disqualifying_modules=tuple(modules),
        disqualifying_origins=_origin_rule(f["disqualifying_origins"]) if "disqualifying_origins" in f else default.disqualifying_origins,
        exempt_origins=_origin_rule(f["exempt_origins"]) if "exempt_origins" in f else OriginRule(),
        exempt_own_organisation=f["exempt_own_organisation"].boolean() if "exempt_own_organisation" in f else False,
        on_inconclusive=f["on_inconclusive"].string(choices=("flag", "disqualify")) if "on_inconclusive" in f else "flag",
        references=tuple(references),
    )


def _submissions(node: Node) -> Submissions:
    f = node.table(allowed=("max_bytes", "max_files"))
    default = Submissions()
    return Submissions(
        max_bytes=f["max_bytes"].integer(minimum=1, maximum=1 << 60) if "max_bytes" in f else default.max_bytes,
        max_files=f["max_files"].integer(minimum=1, maximum=1_000_000) if "max_files" in f else default.max_files,
    )


def _eligibility(node: Node) -> Eligibility:
    f = node.table(allowed=("licences",), required=("licences",))
    licences = f["licences"].strings()
    if not licences:
        raise f["licences"].fail("expected at least one allowed licence")
    return Eligibility(tuple(s.strip().lower() for s in licences))


def _resources(node: Node) -> Resources:
    f = node.table(allowed=("allocation", "tier_weights", "opening", "datasets"))
    allocation = f["allocation"].string(choices=ALLOCATION_POLICIES) if "allocation" in f else "equal"
    tiers = tier_weights(node, f, allocation, "allocation")
    datasets = []
    if "datasets" in f:
        items = f["datasets"].items()
        unique_ids(items)
        for item in items:
            d = item.table(allowed=("id", "name", "provider"), required=("id", "name", "provider"))
            datasets.append(Dataset(_identifier(d["id"]), d["name"].string(), d["provider"].string()))
    opening = _gpu_counts(f["opening"]) if "opening" in f else {}
    return Resources(allocation, tiers, opening, tuple(datasets))

