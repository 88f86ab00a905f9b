"""The challenge spec as frozen, typed objects (read by `gauntlet.spec.parse`)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from gauntlet.artifacts.content_store import DEFAULT_MAX_BYTES, DEFAULT_MAX_FILES
from gauntlet.domain.canonical import sha256_hex


@dataclass(frozen=True)
class Team:
    id: str
    name: str
    organisation: str
    country: str
    joins_at_round: str | None = None  # None: takes part from the first round
    allotment: dict[str, int] = field(default_factory=dict)  # an entrant's own GPUs on joining


@dataclass(frozen=True)
class RoundPolicy:
    """Performance cuts, applied together among teams not disqualified."""

    eliminate_lowest: int = 0
    min_total: float | None = None
    advance_at_most: int | None = None
    winners: int | None = None  # final round only

    def as_inputs(self) -> dict:
        """The cut keys of a decision input document."""
        out: dict[str, Any] = {"eliminate_lowest": self.eliminate_lowest}
        for key in ("min_total", "advance_at_most", "winners"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    def describe(self) -> str:
        parts = []
        if self.eliminate_lowest:
            parts.append(f"cut the lowest {self.eliminate_lowest}")
        if self.min_total is not None:
            parts.append(f"cut totals below {self.min_total:g}")
        if self.advance_at_most is not None:
            parts.append(f"at most {self.advance_at_most} advance")
        if self.winners is not None:
            parts.append(f"name {self.winners} winner(s)")
        return ", ".join(parts) or "no performance cut"


@dataclass(frozen=True)
class Round:
    id: str
    name: str
    submission_deadline: dt.datetime
    decision_date: dt.datetime
    appeal_window_days: int
    policy: RoundPolicy
    pool: dict[str, int] = field(default_factory=dict)  # GPUs this decision allocates for the next period

    @property
    def final(self) -> bool:
        return self.policy.winners is not None


@dataclass(frozen=True)
class ScoringComponent:
    name: str
    weight: float


@dataclass(frozen=True)
class Scoring:
    components: tuple[ScoringComponent, ...]
    user_score_conversion: str

    @property
    def weights(self) -> dict[str, float]:
        return {c.name: c.weight for c in self.components}


@dataclass(frozen=True)
class BenchmarkSuiteEntry:
    """One task of the spec's benchmark suite: plain data for the evaluation engine
    (which turns it into `gauntlet.evaluation.items.BenchmarkTask` items to run)."""

    id: str
    group: str
    metric: str
    weight: float
    target_model: str | None = None


@dataclass(frozen=True)
class Localized:
    ko: str
    en: str


@dataclass(frozen=True)
class Criterion:
    key: str
    name: Localized
    instructions: Localized
    scale_min: int
    scale_max: int
    weight: float


@dataclass(frozen=True)
class Expert:
    id: str
    name: str
    affiliations: tuple[str, ...]
    conflicts: tuple[str, ...]  # team ids this expert may not review


@dataclass(frozen=True)
class ExpertPanel:
    criteria: tuple[Criterion, ...]
    experts: tuple[Expert, ...]
    reviews_per_submission: int


@dataclass(frozen=True)
class Arena:
    """The public arena and its defences against bought votes (README: "The arena")."""

    votes_per_round: int
    daily_cap_per_voter: int
    daily_cap_per_address: int = 300  # limits that survive clearing cookies
    daily_cap_per_network: int = 1500  # per /24 (IPv4) or /48 (IPv6)
    votes_per_second_per_voter: int = 0  # 0: no per-second limit (1 and 5 are sensible)
    votes_per_second_per_address: int = 0
    voters: str = "anyone"  # or "signed_in": only voters with a token may vote
    proof_of_work_bits: int = 0  # anonymous voters solve a hashcash puzzle per battle; 0 = off
    trusted_proxy_header: str = ""  # e.g. "X-Forwarded-For", set by the proxy in front of the app
    trusted_proxies: tuple[str, ...] = ()  # networks (CIDR) whose header is believed


@dataclass(frozen=True)
class OriginRule:
    countries: tuple[str, ...] = ()
    organisations: tuple[str, ...] = ()
    licences: tuple[str, ...] = ()

    def as_inputs(self) -> dict:
        return {k: list(v) for k, v in dataclasses.asdict(self).items() if v}


@dataclass(frozen=True)
class ReferenceModel:
    """A known model whose weights a submission might reuse, with its origin."""

    id: str
    name: str
    organisation: str
    country: str
    licence: str


@dataclass(frozen=True)
class IndependencePolicy:
    disqualifying_modules: tuple[str, ...]
    disqualifying_origins: OriginRule
    exempt_origins: OriginRule
    exempt_own_organisation: bool
    on_inconclusive: str
    references: tuple[ReferenceModel, ...] = ()

    def as_inputs(self) -> dict:
        return {
            "disqualifying_modules": sorted(self.disqualifying_modules),
            "disqualifying_origins": self.disqualifying_origins.as_inputs(),
            "exempt_origins": self.exempt_origins.as_inputs(),
            "exempt_own_organisation": self.exempt_own_organisation,
            "on_inconclusive": self.on_inconclusive,
        }

    def reference(self, ref_id: str) -> ReferenceModel | None:
        return next((r for r in self.references if r.id == ref_id), None)


@dataclass(frozen=True)
class OwnWork:
    """Evidence of own work a round asks for (`[own_work]` in the spec): a training-run
    chain (`require_chain`), and what a benchmark-contamination finding does
    (`on_contamination`: flag for the panel, drop the task for that team, or disqualify)
    at significance `contamination_level` (Holm across teams and tasks)."""

    require_chain: bool = False
    on_contamination: str = "flag"
    contamination_level: float = 0.01

    def as_inputs(self) -> dict:
        return {"require_chain": self.require_chain, "on_contamination": self.on_contamination}


@dataclass(frozen=True)
class Eligibility:
    licences: tuple[str, ...]  # allowed open-weight licences (SPDX ids, lower case)


@dataclass(frozen=True)
class Dataset:
    id: str
    name: str
    provider: str


@dataclass(frozen=True)
class Resources:
    allocation: str  # equal | score_weighted | tiered
    tier_weights: tuple[float, ...]
    opening: dict[str, int]  # split equally among the teams of the first round
    datasets: tuple[Dataset, ...]

    def allocation_policy(self) -> Any:
        if self.allocation == "tiered":
            return {"policy": "tiered", "tier_weights": list(self.tier_weights)}
        return self.allocation


@dataclass(frozen=True)
class Submissions:
    """What one submission may hold ([submissions]); intake refuses more."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_files: int = DEFAULT_MAX_FILES


@dataclass(frozen=True)
class ChallengeSpec:
    id: str
    name: str
    organiser: str
    teams: tuple[Team, ...]
    rounds: tuple[Round, ...]
    scoring: Scoring
    benchmarks: tuple[BenchmarkSuiteEntry, ...]
    expert_panel: ExpertPanel | None
    arena: Arena | None
    independence: IndependencePolicy
    eligibility: Eligibility | None
    resources: Resources
    submissions: Submissions = Submissions()
    own_work: OwnWork | None = None
    language: str = "ko"  # what its pages and reports speak first ([challenge] language)

    def team(self, team_id: str) -> Team:
        for team in self.teams:
            if team.id == team_id:
                return team
        raise KeyError(team_id)

    def round(self, round_id: str) -> Round:
        for r in self.rounds:
            if r.id == round_id:
                return r
        raise KeyError(round_id)

    def round_index(self, round_id: str) -> int:
        return [r.id for r in self.rounds].index(round_id)

    def starting_teams(self) -> tuple[Team, ...]:
        return tuple(t for t in self.teams if t.joins_at_round is None)

    def entrants(self, round_id: str) -> tuple[Team, ...]:
        return tuple(t for t in self.teams if t.joins_at_round == round_id)

    def to_document(self) -> dict:
        """A JSON-ready rendering (date-times in ISO-8601). A spec without an `[own_work]`
        section, or in the default language, renders (and hashes) as it did before either
        existed."""
        document = _jsonable(dataclasses.asdict(self))
        if self.own_work is None:
            document.pop("own_work")
        if self.language == "ko":  # likewise a spec in the default language
            document.pop("language")
        return document

    @property
    def spec_hash(self) -> str:
        """sha256 of the canonical JSON of the validated spec: formatting and
        comments of the TOML file do not change it, any value does."""
        return sha256_hex(self.to_document())


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value
