"""The state of a challenge, as `gauntlet.domain.lifecycle` folds it from the record:
the facts (who joined, what was submitted and locked, every decision with its
publication, every appeal) and what follows from them (who takes part, who is
out, who holds which GPUs and datasets, who won).  Pure: no I/O, no clock."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Mapping

from gauntlet.domain.allocation import largest_remainder


@dataclass(frozen=True)
class Event:
    kind: str
    at: dt.datetime
    round: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)
    outputs: Mapping[str, Any] | None = None
    references: tuple[str, ...] = ()
    record: str = ""  # the ledger record's hash, once sealed


def event_of(record: Mapping[str, Any]) -> Event:
    """A ledger record read as an event."""
    at = record.get("recorded_at")
    return Event(record["kind"], dt.datetime.fromisoformat(at) if at else None, record.get("round"),
                 record.get("inputs") or {}, record.get("outputs"), tuple(record.get("references") or ()),
                 record.get("hash", ""))


@dataclass(frozen=True)
class Decision:
    round: str
    kind: str  # decision | re-decision
    inputs: Mapping[str, Any]
    outputs: Mapping[str, Any]
    record: str
    at: dt.datetime
    published_at: dt.datetime | None = None
    appeal: int | None = None  # the upheld appeal a re-decision answers

    @property
    def teams(self) -> tuple[str, ...]:
        return tuple(t["team"] for t in self.inputs.get("teams", ()))


@dataclass(frozen=True)
class Appeal:
    id: int
    round: str
    team: str
    grounds: str
    filed_at: dt.datetime
    against: str  # record hash of the decision appealed
    record: str
    upheld: bool | None = None
    answer: str | None = None
    answer_record: str = ""
    redecided: bool = False


@dataclass(frozen=True)
class Standing:
    team: str
    status: str  # waiting (entrant not joined) | active | out | winner
    round: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class ChallengeState:
    spec: Any  # gauntlet.spec.model.ChallengeSpec (read only)
    joined: Mapping[str, str] = field(default_factory=dict)
    submissions: Mapping[tuple[str, str], str] = field(default_factory=dict)  # (round, team) -> artifact
    locked: Mapping[str, dt.datetime] = field(default_factory=dict)
    decisions: Mapping[str, tuple[Decision, ...]] = field(default_factory=dict)
    appeals: Mapping[int, Appeal] = field(default_factory=dict)
    last_at: dt.datetime | None = None

    # -- decisions ----------------------------------------------------------
    def history(self, round_id: str) -> tuple[Decision, ...]:
        return self.decisions.get(round_id, ())

    def in_force(self, round_id: str) -> Decision | None:
        """The latest published decision of a round."""
        published = [d for d in self.history(round_id) if d.published_at is not None]
        return published[-1] if published else None

    def draft(self, round_id: str) -> Decision | None:
        history = self.history(round_id)
        return history[-1] if history and history[-1].published_at is None else None

    def is_published(self, round_id: str) -> bool:
        return self.in_force(round_id) is not None

    def current_round(self):
        """The first round without a published decision (None: the challenge is over)."""
        return next((r for r in self.spec.rounds if not self.is_published(r.id)), None)

    # -- who takes part -----------------------------------------------------
    def _walk(self) -> tuple[dict[str, tuple[str, str]], dict[str, list[str]], tuple[str, ...]]:
        out: dict[str, tuple[str, str]] = {}
        contestants: dict[str, list[str]] = {}
        winners: tuple[str, ...] = ()
        index = {r.id: i for i, r in enumerate(self.spec.rounds)}
        for i, rnd in enumerate(self.spec.rounds):
            contestants[rnd.id] = [
                t.id for t in self.spec.teams
                if t.id not in out and (t.joins_at_round is None or index.get(self.joined.get(t.id, ""), i + 1) <= i)
            ]
            decision = self.in_force(rnd.id)
            if decision is None:
                break
            for entry in decision.outputs.get("eliminated", ()):
                out.setdefault(entry["team"], (rnd.id, entry["reason"]))
            for team in contestants[rnd.id]:
                if team not in decision.teams:
                    out.setdefault(team, (rnd.id, "no_submission"))
            if rnd.final:
                winners = tuple(decision.outputs.get("winners", ()))
        return out, contestants, winners

    def contestants(self, round_id: str) -> list[str]:
        """Teams entitled to take part in a round (known once earlier rounds are published)."""
        return self._walk()[1].get(round_id, [])

    @property
    def winners(self) -> tuple[str, ...]:
        return self._walk()[2]

    def standing(self, team: str) -> Standing:
        out, _, winners = self._walk()
        if team in winners:
            return Standing(team, "winner", self.spec.rounds[-1].id)
        if team in out:
            return Standing(team, "out", *out[team])
        spec_team = self.spec.team(team)
        if spec_team.joins_at_round and team not in self.joined:
            return Standing(team, "waiting", spec_team.joins_at_round)
        return Standing(team, "active")

    # -- what each team holds -------------------------------------------------
    def holdings(self, round_id: str) -> dict[str, dict[str, int]]:
        """GPUs each team holds in the period leading up to `round_id`."""
        i = self.spec.round_index(round_id)
        holdings: dict[str, dict[str, int]] = {}
        if i == 0:
            starters = [t.id for t in self.spec.starting_teams()]
            share = [Fraction(1, len(starters))] * len(starters)
            for name, pool in sorted(self.spec.resources.opening.items()):
                for team, units in zip(starters, largest_remainder(pool, share)):
                    holdings.setdefault(team, {})[name] = units
        else:
            previous = self.in_force(self.spec.rounds[i - 1].id)
            if previous is not None:
                holdings = {team: dict(units) for team, units in previous.outputs.get("allocation", {}).items()}
        for team in self.spec.entrants(round_id):
            if team.id in self.joined:
                mine = holdings.setdefault(team.id, {})
                for name, units in team.allotment.items():
                    mine[name] = mine.get(name, 0) + units
        return holdings

    def datasets(self, round_id: str) -> dict[str, tuple[str, ...]]:
        """Dataset grants in the period leading up to `round_id`."""
        grants = tuple(d.id for d in self.spec.resources.datasets)
        return {team: grants for team in self.contestants(round_id)}

    def revoked_datasets(self, round_id: str) -> dict[str, tuple[str, ...]]:
        """Grants of the period before `round_id` that its contestants no longer hold."""
        i = self.spec.round_index(round_id)
        if i == 0:
            return {}
        before, now = self.datasets(self.spec.rounds[i - 1].id), self.datasets(round_id)
        return {team: grants for team, grants in before.items() if team not in now and grants}
