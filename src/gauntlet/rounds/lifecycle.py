"""A challenge's life as a pure state machine over timestamped events.

The state holds only facts (who joined, what was submitted and locked, every
decision including superseded ones, every appeal); who is still in, who holds
which GPUs and datasets, and who won are derived from those facts, so a
re-decision after an upheld appeal changes what follows without erasing what
was decided first.

Rules enforced by `apply` (a violation raises `LifecycleError`):
- events come in time order; rounds are played in spec order;
- a team submits only to the current round, only while it takes part, and only
  until the deadline; `SubmissionsLocked` (at or after the deadline) freezes one
  submission per team per round: the last one made before the deadline;
- a round is decided once its submissions are locked, over exactly the teams
  with a locked submission; a team that takes part but submitted nothing is out
  for "no_submission";
- entrants join at their declared round, after the previous round's decision;
  they bring their own allotment for the period leading to that round;
- eliminated teams hold nothing in the next period (GPUs or datasets);
- an appeal is filed within the round's appeal window (days after its latest
  decision) by a team that took part; a re-decision needs an upheld appeal and
  must come before the next round's submissions are locked.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Iterable, Mapping

from gauntlet.domain.allocation import largest_remainder
from gauntlet.errors import InputError
from gauntlet.rounds.events import (
    AppealAnswered,
    AppealFiled,
    Event,
    RoundDecided,
    RoundRedecided,
    SubmissionMade,
    SubmissionsLocked,
    TeamJoined,
)
from gauntlet.spec.model import ChallengeSpec, Round


class LifecycleError(InputError):
    """An event that the challenge's rules do not allow now."""


@dataclass(frozen=True)
class Submission:
    team: str
    round_id: str
    artifact: str
    at: dt.datetime


@dataclass(frozen=True)
class Decision:
    round_id: str
    inputs: dict
    outputs: dict
    record: str
    at: dt.datetime
    appeal_id: str | None = None  # set for a re-decision


@dataclass(frozen=True)
class Appeal:
    appeal_id: str
    round_id: str
    team: str
    grounds: str
    filed_at: dt.datetime
    record: str = ""
    upheld: bool | None = None
    answer: str | None = None
    answered_at: dt.datetime | None = None
    answer_record: str = ""
    redecided: bool = False


@dataclass(frozen=True)
class Standing:
    team: str
    status: str  # waiting (entrant not yet joined) | active | out | winner
    round_id: str | None = None  # where it went out or won
    reason: str | None = None


@dataclass(frozen=True)
class ChallengeState:
    spec: ChallengeSpec
    joined: Mapping[str, str] = field(default_factory=dict)
    submissions: Mapping[tuple[str, str], Submission] = field(default_factory=dict)
    locked: Mapping[str, dt.datetime] = field(default_factory=dict)
    decisions: Mapping[str, tuple[Decision, ...]] = field(default_factory=dict)
    appeals: Mapping[str, Appeal] = field(default_factory=dict)
    last_at: dt.datetime | None = None

    # -- derived views ----------------------------------------------------
    def decision(self, round_id: str) -> Decision | None:
        """The decision in force for a round (the latest re-decision, if any)."""
        history = self.decisions.get(round_id, ())
        return history[-1] if history else None

    def current_round(self) -> Round | None:
        for rnd in self.spec.rounds:
            if self.decision(rnd.id) is None:
                return rnd
        return None

    def _walk(self) -> tuple[dict[str, tuple[str, str]], dict[str, list[str]], tuple[str, ...]]:
        out: dict[str, tuple[str, str]] = {}
        contestants: dict[str, list[str]] = {}
        winners: tuple[str, ...] = ()
        index = {r.id: i for i, r in enumerate(self.spec.rounds)}
        for i, rnd in enumerate(self.spec.rounds):
            contestants[rnd.id] = [
                t.id for t in self.spec.teams
                if t.id not in out and (t.joins_at_round is None or index.get(self.joined.get(t.id, ""), len(index)) <= i)
            ]
            decision = self.decision(rnd.id)
            if decision is None:
                break
            decided = {t["team"] for t in decision.inputs["teams"]}
            for entry in decision.outputs["eliminated"]:
                out[entry["team"]] = (rnd.id, entry["reason"])
            for team in contestants[rnd.id]:
                if team not in decided:
                    out[team] = (rnd.id, "no_submission")
            if rnd.final:
                winners = tuple(decision.outputs.get("winners", ()))
        return out, contestants, winners

    def contestants(self, round_id: str) -> list[str]:
        """Teams entitled to take part in a round (known once earlier rounds are decided)."""
        return self._walk()[1].get(round_id, [])

    @property
    def winners(self) -> tuple[str, ...]:
        return self._walk()[2]

    def standing(self, team: str) -> Standing:
        out, contestants, winners = self._walk()
        final = self.spec.rounds[-1].id
        if team in winners:
            return Standing(team, "winner", final)
        if team in out:
            return Standing(team, "out", *out[team])
        spec_team = self.spec.team(team)
        if spec_team.joins_at_round and team not in self.joined:
            return Standing(team, "waiting", spec_team.joins_at_round)
        return Standing(team, "active")

    def locked_submission(self, round_id: str, team: str) -> Submission | None:
        return self.submissions.get((round_id, team)) if round_id in self.locked else None

    def holdings(self, round_id: str) -> dict[str, dict[str, int]]:
        """GPUs each team holds in the period leading up to `round_id`."""
        i = self.spec.round_index(round_id)
        holdings: dict[str, dict[str, int]] = {}
        if i == 0:
            starters = [t.id for t in self.spec.starting_teams()]
            equal = [Fraction(1, len(starters))] * len(starters)
            for name, pool in sorted(self.spec.resources.opening.items()):
                for team, units in zip(starters, largest_remainder(pool, equal)):
                    holdings.setdefault(team, {})[name] = units
        else:
            previous = self.decision(self.spec.rounds[i - 1].id)
            if previous is not None:
                holdings = {team: dict(units) for team, units in previous.outputs["allocation"].items()}
        for team in self.spec.entrants(round_id):
            if team.id in self.joined:
                mine = holdings.setdefault(team.id, {})
                for name, units in team.allotment.items():
                    mine[name] = mine.get(name, 0) + units
        return holdings

    def datasets(self, round_id: str) -> dict[str, tuple[str, ...]]:
        """Dataset grants in the period leading up to `round_id`: every team that
        takes part holds them; a team out of the challenge holds none."""
        grants = tuple(d.id for d in self.spec.resources.datasets)
        return {team: grants for team in self.contestants(round_id)}


def initial_state(spec: ChallengeSpec) -> ChallengeState:
    return ChallengeState(spec)


def replay(spec: ChallengeSpec, events: Iterable[Event]) -> ChallengeState:
    state = initial_state(spec)
    for event in events:
        state = apply(state, event)
    return state


def _round(state: ChallengeState, round_id: str) -> Round:
    try:
        return state.spec.round(round_id)
    except KeyError:
        raise LifecycleError(f"no round {round_id!r} in the spec") from None


def _require_current(state: ChallengeState, rnd: Round, what: str) -> None:
    current = state.current_round()
    if current is None:
        raise LifecycleError(f"cannot {what}: the challenge is over")
    if current.id != rnd.id:
        raise LifecycleError(f"cannot {what} for round {rnd.id!r}: the current round is {current.id!r}")


def apply(state: ChallengeState, event: Event) -> ChallengeState:
    """The state after `event`, or `LifecycleError` saying which rule it breaks."""
    if event.at.tzinfo is None:
        raise LifecycleError(f"{event.kind}: the time must carry a UTC offset")
    if state.last_at is not None and event.at < state.last_at:
        raise LifecycleError(
            f"{event.kind} at {event.at.isoformat()} comes before the previous event ({state.last_at.isoformat()})"
        )
    handler = _HANDLERS[type(event)]
    return dataclasses.replace(handler(state, event), last_at=event.at)


def _team_joined(state: ChallengeState, e: TeamJoined) -> ChallengeState:
    rnd = _round(state, e.round_id)
    try:
        team = state.spec.team(e.team)
    except KeyError:
        raise LifecycleError(f"team {e.team!r} is not in the spec") from None
    if team.joins_at_round != rnd.id:
        raise LifecycleError(f"team {e.team!r} is not an entrant of round {rnd.id!r}")
    if e.team in state.joined:
        raise LifecycleError(f"team {e.team!r} has already joined")
    _require_current(state, rnd, "join")
    if e.at > rnd.submission_deadline:
        raise LifecycleError(f"team {e.team!r} cannot join round {rnd.id!r} after its submission deadline")
    return dataclasses.replace(state, joined={**state.joined, e.team: rnd.id})


def _submission_made(state: ChallengeState, e: SubmissionMade) -> ChallengeState:
    rnd = _round(state, e.round_id)
    _require_current(state, rnd, "submit")
    if e.team not in state.contestants(rnd.id):
        standing = state.standing(e.team) if e.team in {t.id for t in state.spec.teams} else None
        why = "is not in the spec" if standing is None else (
            f"is out (round {standing.round_id}: {standing.reason})" if standing.status == "out" else "has not joined"
        )
        raise LifecycleError(f"team {e.team!r} cannot submit to round {rnd.id!r}: it {why}")
    if rnd.id in state.locked or e.at > rnd.submission_deadline:
        raise LifecycleError(
            f"team {e.team!r}: round {rnd.id!r} submissions closed at {rnd.submission_deadline.isoformat()} and are locked"
        )
    if not e.artifact.strip():
        raise LifecycleError("a submission must name its artifact (content hash)")
    submission = Submission(e.team, rnd.id, e.artifact, e.at)
    return dataclasses.replace(state, submissions={**state.submissions, (rnd.id, e.team): submission})


def _submissions_locked(state: ChallengeState, e: SubmissionsLocked) -> ChallengeState:
    rnd = _round(state, e.round_id)
    _require_current(state, rnd, "lock submissions")
    if rnd.id in state.locked:
        raise LifecycleError(f"round {rnd.id!r} submissions are already locked")
    if e.at < rnd.submission_deadline:
        raise LifecycleError(
            f"round {rnd.id!r} submissions cannot be locked before the deadline {rnd.submission_deadline.isoformat()}"
        )
    return dataclasses.replace(state, locked={**state.locked, rnd.id: e.at})


def _check_decision_teams(state: ChallengeState, rnd: Round, inputs: dict) -> None:
    teams = [t.get("team") for t in inputs.get("teams", ())] if isinstance(inputs, dict) else []
    submitted = {team for (r, team) in state.submissions if r == rnd.id}
    for team in teams:
        if team not in submitted:
            raise LifecycleError(f"round {rnd.id!r}: team {team!r} has no locked submission and cannot be decided on")
    for team in sorted(submitted - set(teams)):
        raise LifecycleError(f"round {rnd.id!r}: team {team!r} has a locked submission but is missing from the decision")
    if inputs.get("round", rnd.id) != rnd.id:
        raise LifecycleError(f"the decision inputs are for round {inputs.get('round')!r}, not {rnd.id!r}")


def _round_decided(state: ChallengeState, e: RoundDecided) -> ChallengeState:
    rnd = _round(state, e.round_id)
    _require_current(state, rnd, "decide")
    if rnd.id not in state.locked:
        raise LifecycleError(f"round {rnd.id!r} cannot be decided before its submissions are locked")
    _check_decision_teams(state, rnd, e.inputs)
    decision = Decision(rnd.id, e.inputs, e.outputs, e.record, e.at)
    return dataclasses.replace(state, decisions={**state.decisions, rnd.id: (decision,)})


def _appeal_filed(state: ChallengeState, e: AppealFiled) -> ChallengeState:
    rnd = _round(state, e.round_id)
    decision = state.decision(rnd.id)
    if decision is None:
        raise LifecycleError(f"round {rnd.id!r} has no decision to appeal")
    if e.appeal_id in state.appeals:
        raise LifecycleError(f"appeal {e.appeal_id!r} already exists")
    took_part = e.team in state.contestants(rnd.id)
    if not took_part:
        raise LifecycleError(f"team {e.team!r} did not take part in round {rnd.id!r} and cannot appeal its decision")
    closes = decision.at + dt.timedelta(days=rnd.appeal_window_days)
    if not decision.at <= e.at <= closes:
        raise LifecycleError(
            f"the appeal window for round {rnd.id!r} runs from {decision.at.isoformat()} to {closes.isoformat()}"
        )
    appeal = Appeal(e.appeal_id, rnd.id, e.team, e.grounds, e.at, e.record)
    return dataclasses.replace(state, appeals={**state.appeals, e.appeal_id: appeal})


def _appeal_answered(state: ChallengeState, e: AppealAnswered) -> ChallengeState:
    appeal = state.appeals.get(e.appeal_id)
    if appeal is None:
        raise LifecycleError(f"no appeal {e.appeal_id!r}")
    if appeal.upheld is not None:
        raise LifecycleError(f"appeal {e.appeal_id!r} has already been answered")
    answered = dataclasses.replace(appeal, upheld=e.upheld, answer=e.answer, answered_at=e.at, answer_record=e.record)
    return dataclasses.replace(state, appeals={**state.appeals, e.appeal_id: answered})


def _round_redecided(state: ChallengeState, e: RoundRedecided) -> ChallengeState:
    rnd = _round(state, e.round_id)
    appeal = state.appeals.get(e.appeal_id)
    if appeal is None or appeal.round_id != rnd.id:
        raise LifecycleError(f"no appeal {e.appeal_id!r} against round {rnd.id!r}")
    i = state.spec.round_index(rnd.id)
    if i + 1 < len(state.spec.rounds) and state.spec.rounds[i + 1].id in state.locked:
        raise LifecycleError(
            f"round {state.spec.rounds[i + 1].id!r} is already locked; round {rnd.id!r} can no longer be re-decided"
        )
    if not appeal.upheld:
        raise LifecycleError(f"appeal {e.appeal_id!r} was not upheld; the decision stands")
    if appeal.redecided:
        raise LifecycleError(f"appeal {e.appeal_id!r} has already led to a re-decision")
    _check_decision_teams(state, rnd, e.inputs)
    decision = Decision(rnd.id, e.inputs, e.outputs, e.record, e.at, appeal_id=e.appeal_id)
    return dataclasses.replace(
        state,
        decisions={**state.decisions, rnd.id: (*state.decisions[rnd.id], decision)},
        appeals={**state.appeals, e.appeal_id: dataclasses.replace(appeal, redecided=True)},
    )


_HANDLERS = {
    TeamJoined: _team_joined,
    SubmissionMade: _submission_made,
    SubmissionsLocked: _submissions_locked,
    RoundDecided: _round_decided,
    AppealFiled: _appeal_filed,
    AppealAnswered: _appeal_answered,
    RoundRedecided: _round_redecided,
}
