"""The expert panel: rubrics, experts, and assignment with recusal.

A rubric is declared in the challenge spec (`rubric_from_dict` reads the
TOML table).  Experts declare their affiliations and conflicts; an expert is
never assigned to a submission whose team or organisation appears in either
(case-insensitive).  Every submission gets at least `k` distinct reviewers,
and reviewers see anonymous submission codes only, never team names.

Assignment is a maximum flow (source -> submission with capacity k ->
eligible expert with capacity 1 -> sink with capacity = the expert's load
limit).  It succeeds exactly when a valid assignment exists, so an
impossible request (too few eligible experts for some team, or too little
total capacity) is reported as an error instead of silently short-changing
a team.  The load limit starts at the fair share ceil(n k / experts) and
grows only as far as recusal forces it to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from gauntlet.errors import InputError, SpecError

LEVELS = ("interval", "ordinal", "ratio")


@dataclass(frozen=True)
class Criterion:
    key: str
    name_ko: str
    name_en: str
    instructions_ko: str
    instructions_en: str
    scale_min: int = 1
    scale_max: int = 5
    weight: float = 1.0

    def __post_init__(self) -> None:
        if not self.key:
            raise SpecError("rubric criterion: key is empty")
        if self.scale_max <= self.scale_min:
            raise SpecError(f"rubric criterion {self.key!r}: scale_max must exceed scale_min")
        if not self.weight > 0:
            raise SpecError(f"rubric criterion {self.key!r}: weight must be positive")
        for name in ("name_ko", "name_en", "instructions_ko", "instructions_en"):
            if not getattr(self, name).strip():
                raise SpecError(f"rubric criterion {self.key!r}: {name} is empty")


@dataclass(frozen=True)
class Rubric:
    criteria: tuple[Criterion, ...]
    level_of_measurement: str = "interval"

    def __post_init__(self) -> None:
        if not self.criteria:
            raise SpecError("rubric: at least one criterion is needed")
        keys = [c.key for c in self.criteria]
        if len(set(keys)) != len(keys):
            raise SpecError("rubric: criterion keys must be unique")
        if self.level_of_measurement not in LEVELS:
            raise SpecError(f"rubric: level_of_measurement must be one of {', '.join(LEVELS)}")

    def criterion(self, key: str) -> Criterion:
        for c in self.criteria:
            if c.key == key:
                return c
        raise InputError(f"rubric has no criterion {key!r}")

    @property
    def weights(self) -> np.ndarray:
        w = np.array([c.weight for c in self.criteria], dtype=np.float64)
        return w / w.sum()


def rubric_from_dict(table: Mapping) -> Rubric:
    """Read a rubric from a spec table:

    ``{"level_of_measurement": "interval", "criteria": [{"key": ..., "name": {"ko": ..., "en": ...},
    "instructions": {"ko": ..., "en": ...}, "scale": [1, 5], "weight": 1.0}, ...]}``"""
    criteria = []
    for i, item in enumerate(table.get("criteria", ())):
        where = f"rubric.criteria[{i}]"
        try:
            name, instructions = item["name"], item["instructions"]
            scale = item.get("scale", [1, 5])
            criteria.append(Criterion(
                key=str(item["key"]), name_ko=str(name["ko"]), name_en=str(name["en"]),
                instructions_ko=str(instructions["ko"]), instructions_en=str(instructions["en"]),
                scale_min=int(scale[0]), scale_max=int(scale[1]), weight=float(item.get("weight", 1.0)),
            ))
        except KeyError as exc:
            raise SpecError(f"{where}: missing key {exc.args[0]!r}") from None
        except (TypeError, ValueError, IndexError):
            raise SpecError(f"{where}: scale must be [min, max] integers and weight a number") from None
    return Rubric(tuple(criteria), str(table.get("level_of_measurement", "interval")))


def default_rubric() -> Rubric:
    """A rubric in the spirit of the programme's expert evaluation (35 points)."""
    return Rubric((
        Criterion("technical_merit", "기술적 우수성", "Technical merit",
                  "모델 구조와 학습 방법의 독창성과 완성도를 평가하십시오.",
                  "Judge the originality and soundness of the architecture and training method.", 1, 5, 3.0),
        Criterion("korean_capability", "한국어 역량", "Korean capability",
                  "한국어 이해와 생성의 정확성, 자연스러움, 문화적 적합성을 평가하십시오.",
                  "Judge accuracy, fluency and cultural fit of Korean understanding and generation.", 1, 5, 3.0),
        Criterion("safety", "안전성과 신뢰성", "Safety and reliability",
                  "유해 응답 거부, 사실성, 일관성을 평가하십시오.",
                  "Judge refusal of harmful requests, factuality and consistency.", 1, 5, 2.0),
        Criterion("impact", "파급 효과", "Impact and openness",
                  "산업 활용 가능성과 공개 수준(가중치, 문서)을 평가하십시오.",
                  "Judge industrial usefulness and openness (weights, documentation).", 1, 5, 2.0),
    ))


@dataclass(frozen=True)
class Expert:
    id: str
    name: str
    affiliations: frozenset[str] = frozenset()
    conflicts: frozenset[str] = frozenset()

    def may_review(self, submission: "Submission") -> bool:
        barred = {s.casefold() for s in (*self.affiliations, *self.conflicts)}
        return not ({submission.team.casefold(), submission.organisation.casefold()} - {""}) & barred


@dataclass(frozen=True)
class Submission:
    team: str
    organisation: str = ""

    @property
    def identity_terms(self) -> tuple[str, ...]:
        return tuple(t for t in (self.team, self.organisation) if t)


_CODE_ALPHABET = "ACDEFHJKMNPRTUVWXY34679"  # no look-alikes (0/O, 1/I/L, 2/Z, 5/S, 8/B)


@dataclass(frozen=True)
class PanelAssignment:
    """Who reviews what.  Reviewers only ever see `codes`; `team_of` is sealed
    until aggregation."""

    codes: dict[str, str]  # team -> anonymous code
    reviewers: dict[str, tuple[str, ...]]  # code -> expert ids
    k: int
    max_load: int
    submissions: tuple[Submission, ...] = field(repr=False)

    def team_of(self, code: str) -> str:
        for team, c in self.codes.items():
            if c == code:
                return team
        raise InputError(f"unknown submission code {code!r}")

    def blind(self, team: str, text: str) -> str:
        """Review material with the team's and organisation's names replaced by its code."""
        from gauntlet.ratings.identity import redact

        submission = next((s for s in self.submissions if s.team == team), None)
        if submission is None:
            raise InputError(f"unknown team {team!r}")
        return redact(text, submission.identity_terms, self.codes[team])

    def assignments_of(self, expert_id: str) -> tuple[str, ...]:
        return tuple(code for code, ids in self.reviewers.items() if expert_id in ids)


def assign_experts(
    submissions: Sequence[Submission],
    experts: Sequence[Expert],
    k: int,
    seed: int = 0,
    max_load: int | None = None,
) -> PanelAssignment:
    """Assign at least `k` eligible experts to every submission (exactly k each),
    spreading the load as evenly as recusal allows; random among equals (seeded)."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import maximum_flow

    if k < 1:
        raise InputError("each submission needs at least one review (k >= 1)")
    teams = [s.team for s in submissions]
    if len(set(teams)) != len(teams):
        raise InputError("submission teams must be unique")
    ids = [e.id for e in experts]
    if len(set(ids)) != len(ids):
        raise InputError("expert ids must be unique")
    eligible = [[e for e, ex in enumerate(experts) if ex.may_review(s)] for s in submissions]
    for s, ok in zip(submissions, eligible):
        if len(ok) < k:
            raise InputError(
                f"team {s.team!r} needs {k} independent reviews but only {len(ok)} expert(s) "
                "have no affiliation or declared conflict with it"
            )
    rng = np.random.default_rng(seed)
    n_sub, n_exp = len(submissions), len(experts)
    # Node order is shuffled so that max-flow picks among equally good
    # assignments at random rather than always the first experts listed.
    expert_order = rng.permutation(n_exp)
    position = {int(e): p for p, e in enumerate(expert_order)}
    source, sink = 0, 1 + n_sub + n_exp
    fair = math.ceil(n_sub * k / max(n_exp, 1))
    limits = [max_load] if max_load is not None else range(fair, n_sub + 1)
    for limit in limits:
        rows, cols, caps = [], [], []
        for t, ok in enumerate(eligible):
            rows.append(source); cols.append(1 + t); caps.append(k)
            for e in ok:
                rows.append(1 + t); cols.append(1 + n_sub + position[e]); caps.append(1)
        for p in range(n_exp):
            rows.append(1 + n_sub + p); cols.append(sink); caps.append(limit)
        graph = csr_matrix((np.array(caps, dtype=np.int32), (rows, cols)), shape=(sink + 1, sink + 1))
        flow = maximum_flow(graph, source, sink)
        if flow.flow_value == n_sub * k:
            break
    else:
        raise InputError(
            f"cannot give every submission {k} reviews with at most {max_load if max_load else n_sub} "
            f"per expert under the declared conflicts ({n_exp} experts, {n_sub} submissions)"
        )
    matrix = flow.flow.tocsr()
    codes = _anonymous_codes(teams, rng)
    reviewers = {}
    for t, team in enumerate(teams):
        row = matrix.getrow(1 + t)
        chosen = sorted(
            experts[int(expert_order[c - 1 - n_sub])].id
            for c, f in zip(row.indices, row.data) if f > 0 and 1 + n_sub <= c < sink
        )
        reviewers[codes[team]] = tuple(chosen)
    return PanelAssignment(codes, reviewers, k, int(limit), tuple(submissions))


def _anonymous_codes(teams: Sequence[str], rng: np.random.Generator) -> dict[str, str]:
    codes: dict[str, str] = {}
    used = set()
    for team in teams:
        while True:
            code = "S-" + "".join(rng.choice(list(_CODE_ALPHABET), size=4))
            if code not in used:
                used.add(code)
                codes[team] = code
                break
    return codes
