"""The life of a challenge: a pure function from its recorded events to its state.

The events are the ledger's records (`gauntlet.domain.ledger`), in chain order;
`replay(spec, records)` folds them into a `ChallengeState`, and
`check(state, event)` says whether one more event is allowed now (it raises
`RuleBroken` naming the rule, and returns the state after it). Nothing here
reads a clock, a file or a database: the application service
(`gauntlet.rounds.service`) loads the records, asks `check`, and appends the
event in the same transaction as the state it changes.

An event is `Event(kind, round, at, payload, references)`; in the ledger the
payload is the record's `inputs` (for a decision, its decision inputs; its
`outputs` are the decision's outputs). Kinds:

    spec             the spec itself, before anything is done under it
    team-joined      {"team"}: an entrant joins at its declared round
    submission       {"team", "artifact"}: a team's model for a round
    lock             the round's submissions are frozen
    decision         a round decided (a draft: organisers inspect it)
    re-decision      decided again after an upheld appeal (a draft too)
    publication      the round's latest draft becomes the decision in force
    appeal           {"appeal", "team", "grounds"} against the decision in force
    appeal-answer    {"appeal", "upheld", "answer"}
    arena-closed     {"reason"}: an organiser closes the round's arena by hand
    arena-reopened   {"reason"}: an organiser reopens it (after the decision closed it, say)

Rules, and how the choices that once differed between two implementations
were settled:

- Events come in time order (a record dated before the previous one is
  refused), and rounds are played in spec order: a round takes joins,
  submissions, its lock and its decision only once every earlier round has a
  published decision, because who may contest it follows from those.
- Resubmission is allowed until the deadline and the last submission counts;
  after the deadline (or the lock) nothing is accepted. Why: nothing is
  computed on a submission before the lock (audits compare every team with
  every other, so they run after it), so replacing a bad upload costs nothing
  and refusing it would only punish a typo.
- The lock comes at or after the deadline; a round is decided once, over
  exactly the teams with a submission; a contestant that submitted nothing is
  out ("no_submission").
- A decision is a draft until it is published as its own event; until then
  nothing of the round is public. A round has at most one draft at a time.
- Who may appeal: a team that was decided on in the round, against the
  published decision in force, within the round's appeal window counted from
  that publication, with one unanswered appeal per team and round. Why: the
  window is for the people the decision affected, and it starts when they
  could first read it.
- A re-decision needs an upheld appeal against the decision in force (one
  re-decision per appeal), and uses that decision's inputs with the stated
  corrections, not a fresh gathering of results: the record then shows exactly
  what the appeal changed, and nothing recorded since slips in unannounced.
- Re-deciding stops at the next round's submission deadline (whether or not a
  stage has recorded its lock yet). Why: the next round was contested by the
  teams this decision let through; once its submissions are closed, changing
  who advanced would rewrite a round already played. Time is the command's
  input, so the deadline needs no event to be known.
- The arena is closed by its round's decision (no event of its own: the
  decision says it); an organiser may close or reopen it by hand, each time
  as an event that names the round and says why. Whether it is open now is
  the store's arena state, which the service writes with the event.
- Entrants join at their declared round, after the previous round is
  published and before the deadline, and bring their own allotment for the
  period leading to that round.
- Holdings per period: the opening pool split equally among the starting
  teams, then each published decision's allocation, plus joined entrants'
  allotments. Every contestant of a round holds the spec's datasets for the
  period leading to it; a team that is out holds none from then on (its grants
  are revoked).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Iterable, Mapping

from gauntlet.domain.challenge_state import Appeal, ChallengeState, Decision, Event, Standing, event_of

__all__ = ["Appeal", "ChallengeState", "Decision", "Event", "RuleBroken", "Standing", "check", "event_of",
           "redecision_closes", "replay", "window"]

DECISION_KINDS = ("decision", "re-decision")
ARENA_KINDS = ("arena-closed", "arena-reopened")
KINDS = ("spec", "team-joined", "submission", "lock", *DECISION_KINDS, "publication", "appeal", "appeal-answer",
         *ARENA_KINDS)


class RuleBroken(ValueError):
    """An event that the challenge's rules do not allow now (the message says which rule)."""


def replay(spec, records: Iterable[Mapping[str, Any]]) -> ChallengeState:
    """The state after every record.  History is not judged again: a record that today's
    rules would refuse (one imported from a store older than them) is taken as it happened."""
    state = ChallengeState(spec)
    for record in records:
        event = event_of(record)
        try:
            state = check(state, event)
        except RuleBroken:
            state = _as_recorded(state, event)
    return state


def _as_recorded(state: ChallengeState, e: Event) -> ChallengeState:
    p, r = e.payload, e.round
    if e.kind == "team-joined":
        state = dataclasses.replace(state, joined={**state.joined, p["team"]: r})
    elif e.kind == "submission":
        state = dataclasses.replace(state, submissions={**state.submissions, (r, p["team"]): p["artifact"]})
    elif e.kind == "lock":
        state = dataclasses.replace(state, locked={**state.locked, r: e.at})
    elif e.kind in DECISION_KINDS:
        teams = {(r, t["team"]): "" for t in p.get("teams", ())}
        decision = Decision(r, e.kind, p, e.outputs or {}, e.record, e.at)
        state = dataclasses.replace(state, submissions={**teams, **state.submissions}, locked={r: e.at, **state.locked},
                                    decisions={**state.decisions, r: (*state.history(r), decision)})
    elif e.kind == "publication":
        history = tuple(dataclasses.replace(d, published_at=d.published_at or e.at)
                        if d.record in e.references or (not e.references and d is state.history(r)[-1]) else d
                        for d in state.history(r))
        state = dataclasses.replace(state, decisions={**state.decisions, r: history})
    elif e.kind == "appeal":
        appeal = Appeal(p["appeal"], r, p["team"], p.get("grounds", ""), e.at, (e.references or ("",))[0], e.record)
        state = dataclasses.replace(state, appeals={**state.appeals, appeal.id: appeal})
    elif e.kind == "appeal-answer" and p.get("appeal") in state.appeals:
        answered = dataclasses.replace(state.appeals[p["appeal"]], upheld=bool(p.get("upheld")),
                                       answer=p.get("answer"), answer_record=e.record)
        state = dataclasses.replace(state, appeals={**state.appeals, answered.id: answered})
    return dataclasses.replace(state, last_at=max(filter(None, (state.last_at, e.at)), default=None))


def check(state: ChallengeState, event: Event) -> ChallengeState:
    """The state after `event`, or `RuleBroken` saying which rule it breaks."""
    if event.kind not in KINDS:
        raise RuleBroken(f"unknown event kind {event.kind!r}")
    if event.at is None or event.at.tzinfo is None:
        raise RuleBroken(f"{event.kind}: the time must carry a UTC offset")
    if state.last_at is not None and event.at < state.last_at:
        raise RuleBroken(f"{event.kind} at {event.at.isoformat()} comes before the previous event "
                         f"({state.last_at.isoformat()}); the record runs forward in time")
    handler = _HANDLERS.get(event.kind)
    after = handler(state, event) if handler else state
    return dataclasses.replace(after, last_at=event.at)


def _round(state: ChallengeState, event: Event):
    try:
        return state.spec.round(event.round)
    except KeyError:
        raise RuleBroken(f"no round {event.round!r} in the spec "
                         f"(rounds: {', '.join(r.id for r in state.spec.rounds)})") from None


def _require_open(state: ChallengeState, rnd, what: str) -> None:
    for previous in state.spec.rounds[: state.spec.round_index(rnd.id)]:
        if not state.is_published(previous.id):
            raise RuleBroken(f"round {previous.id!r} is not decided and published yet; rounds run in order, so "
                             f"round {rnd.id!r} opens after it ({what} refused)")
    if state.is_published(rnd.id):
        raise RuleBroken(f"round {rnd.id!r} is already decided and published ({what} refused)")


def _team_joined(state: ChallengeState, e: Event) -> ChallengeState:
    rnd, team_id = _round(state, e), e.payload.get("team")
    try:
        team = state.spec.team(team_id)
    except KeyError:
        raise RuleBroken(f"team {team_id!r} is not in the spec") from None
    if team.joins_at_round != rnd.id:
        raise RuleBroken(f"team {team_id!r} is not an entrant of round {rnd.id!r}")
    if team_id in state.joined:
        raise RuleBroken(f"team {team_id!r} has already joined")
    _require_open(state, rnd, "joining")
    if e.at > rnd.submission_deadline:
        raise RuleBroken(f"team {team_id!r} cannot join round {rnd.id!r} after its deadline "
                         f"{rnd.submission_deadline.isoformat()}")
    return dataclasses.replace(state, joined={**state.joined, team_id: rnd.id})


def _submission(state: ChallengeState, e: Event) -> ChallengeState:
    rnd, team = _round(state, e), e.payload.get("team")
    if team not in {t.id for t in state.spec.teams}:
        raise RuleBroken(f"no team {team!r} in the spec (teams: {', '.join(t.id for t in state.spec.teams)})")
    _require_open(state, rnd, "submission")
    if team not in state.contestants(rnd.id):
        standing = state.standing(team)
        if standing.status == "out" and standing.reason == "no_submission":
            raise RuleBroken(f"team {team!r} submitted nothing to round {standing.round!r} and is out of the challenge")
        if standing.status == "out":
            raise RuleBroken(f"team {team!r} was eliminated in round {standing.round!r} and cannot submit to {rnd.id!r}")
        raise RuleBroken(f"team {team!r} joins at round {standing.round!r} and cannot submit to {rnd.id!r} "
                         "before it has joined")
    if rnd.id in state.locked or e.at > rnd.submission_deadline:
        raise RuleBroken(f"round {rnd.id!r} closed for submissions at {rnd.submission_deadline.isoformat()} "
                         f"(now {e.at.isoformat()}); the submission is refused")
    if not str(e.payload.get("artifact") or "").strip():
        raise RuleBroken("a submission must name its artifact (content hash)")
    return dataclasses.replace(state, submissions={**state.submissions, (rnd.id, team): e.payload["artifact"]})


def _lock(state: ChallengeState, e: Event) -> ChallengeState:
    rnd = _round(state, e)
    _require_open(state, rnd, "lock")
    if rnd.id in state.locked:
        raise RuleBroken(f"round {rnd.id!r} submissions are already locked")
    if e.at <= rnd.submission_deadline:
        raise RuleBroken(f"round {rnd.id!r} takes submissions until {rnd.submission_deadline.isoformat()}; its "
                         "audit, benchmarks, arena, panel and decision run after the deadline")
    return dataclasses.replace(state, locked={**state.locked, rnd.id: e.at})


def _check_teams(state: ChallengeState, rnd, inputs: Mapping[str, Any]) -> None:
    if inputs.get("round", rnd.id) != rnd.id:
        raise RuleBroken(f"the decision inputs are for round {inputs.get('round')!r}, not {rnd.id!r}")
    teams = {t.get("team") for t in inputs.get("teams", ())}
    submitted = {team for (r, team) in state.submissions if r == rnd.id}
    for team in sorted(teams - submitted):
        raise RuleBroken(f"round {rnd.id!r}: team {team!r} has no locked submission and cannot be decided on")
    for team in sorted(submitted - teams):
        raise RuleBroken(f"round {rnd.id!r}: team {team!r} has a locked submission but is missing from the decision")


def _add_decision(state: ChallengeState, rnd, decision: Decision) -> ChallengeState:
    return dataclasses.replace(state, decisions={**state.decisions, rnd.id: (*state.history(rnd.id), decision)})


def _decision(state: ChallengeState, e: Event) -> ChallengeState:
    rnd = _round(state, e)
    if state.history(rnd.id):
        first = state.history(rnd.id)[0]
        raise RuleBroken(f"round {rnd.id!r} was already decided (record {first.record[:12]}); a decision is never "
                         "replaced, only re-decided after an upheld appeal")
    _require_open(state, rnd, "decision")
    if rnd.id not in state.locked:
        raise RuleBroken(f"round {rnd.id!r} cannot be decided before its submissions are locked")
    _check_teams(state, rnd, e.payload)
    return _add_decision(state, rnd, Decision(rnd.id, e.kind, e.payload, e.outputs or {}, e.record, e.at))


def redecision_closes(state: ChallengeState, round_id: str) -> dt.datetime | None:
    """When re-deciding `round_id` stops: the next round's submission deadline."""
    i = state.spec.round_index(round_id)
    return state.spec.rounds[i + 1].submission_deadline if i + 1 < len(state.spec.rounds) else None


def _redecision(state: ChallengeState, e: Event) -> ChallengeState:
    rnd = _round(state, e)
    appeal = next((a for a in state.appeals.values() if a.answer_record and a.answer_record in e.references), None)
    if appeal is None or appeal.round != rnd.id:
        raise RuleBroken(f"a re-decision of round {rnd.id!r} must answer an appeal against it")
    if not appeal.upheld:
        state_text = "not answered yet" if appeal.upheld is None else "rejected"
        raise RuleBroken(f"appeal #{appeal.id} is {state_text}; only an upheld appeal leads to a re-decision")
    if appeal.redecided:
        raise RuleBroken(f"appeal #{appeal.id} has already led to a re-decision")
    in_force = state.in_force(rnd.id)
    if state.draft(rnd.id) is not None:
        raise RuleBroken(f"round {rnd.id!r} has an unpublished decision; publish it before re-deciding")
    if in_force is None or in_force.record != appeal.against:
        raise RuleBroken(f"appeal #{appeal.id} was against a decision that another one has already replaced")
    closes = redecision_closes(state, rnd.id)
    if closes is not None and e.at >= closes:
        following = state.spec.rounds[state.spec.round_index(rnd.id) + 1]
        raise RuleBroken(f"round {following.id!r} locked its submissions at {closes.isoformat()}; round {rnd.id!r} "
                         "can no longer be re-decided")
    _check_teams(state, rnd, e.payload)
    decision = Decision(rnd.id, e.kind, e.payload, e.outputs or {}, e.record, e.at, appeal=appeal.id)
    state = _add_decision(state, rnd, decision)
    return dataclasses.replace(state, appeals={**state.appeals, appeal.id: dataclasses.replace(appeal, redecided=True)})


def _publication(state: ChallengeState, e: Event) -> ChallengeState:
    rnd = _round(state, e)
    draft = state.draft(rnd.id)
    if draft is None:
        raise RuleBroken(f"round {rnd.id!r} has no unpublished decision to publish")
    if e.references and draft.record not in e.references:
        raise RuleBroken(f"the publication names record {e.references[0][:12]}, not round {rnd.id!r}'s draft")
    history = state.history(rnd.id)
    published = dataclasses.replace(draft, published_at=e.at)
    return dataclasses.replace(state, decisions={**state.decisions, rnd.id: (*history[:-1], published)})


def _appeal(state: ChallengeState, e: Event) -> ChallengeState:
    rnd = _round(state, e)
    appeal_id, team = e.payload.get("appeal"), e.payload.get("team")
    grounds = str(e.payload.get("grounds") or "").strip()
    in_force = state.in_force(rnd.id)
    if in_force is None:
        raise RuleBroken(f"round {rnd.id!r} has no published decision to appeal")
    if appeal_id in state.appeals:
        raise RuleBroken(f"appeal #{appeal_id} already exists")
    if not grounds:
        raise RuleBroken("an appeal must state its grounds")
    if team not in in_force.teams:
        raise RuleBroken(f"team {team!r} did not take part in round {rnd.id!r} and cannot appeal it")
    opened = in_force.published_at
    closes = opened + dt.timedelta(days=rnd.appeal_window_days)
    if not opened <= e.at <= closes:
        raise RuleBroken(f"the appeal window for round {rnd.id!r} ran from {opened.isoformat()} to "
                         f"{closes.isoformat()}")
    if any(a.team == team and a.round == rnd.id and a.upheld is None for a in state.appeals.values()):
        raise RuleBroken(f"team {team!r} already has an unanswered appeal against round {rnd.id!r}")
    appeal = Appeal(appeal_id, rnd.id, team, grounds, e.at, in_force.record, e.record)
    return dataclasses.replace(state, appeals={**state.appeals, appeal_id: appeal})


def _appeal_answer(state: ChallengeState, e: Event) -> ChallengeState:
    appeal = state.appeals.get(e.payload.get("appeal"))
    if appeal is None:
        raise RuleBroken(f"no appeal #{e.payload.get('appeal')}")
    if appeal.upheld is not None:
        raise RuleBroken(f"appeal #{appeal.id} has already been answered")
    if not str(e.payload.get("answer") or "").strip():
        raise RuleBroken("an answer to an appeal must give its reasons")
    answered = dataclasses.replace(appeal, upheld=bool(e.payload.get("upheld")), answer=e.payload["answer"],
                                   answer_record=e.record)
    return dataclasses.replace(state, appeals={**state.appeals, appeal.id: answered})


def window(state: ChallengeState, round_id: str) -> tuple[dt.datetime, dt.datetime] | None:
    """When the appeal window of the decision in force opens and closes."""
    in_force = state.in_force(round_id)
    if in_force is None:
        return None
    days = state.spec.round(round_id).appeal_window_days
    return in_force.published_at, in_force.published_at + dt.timedelta(days=days)


def _arena(state: ChallengeState, e: Event) -> ChallengeState:
    _round(state, e)
    if not str(e.payload.get("reason") or "").strip():
        raise RuleBroken(f"{e.kind}: say why (a reason goes on record)")
    return state


_HANDLERS = {
    "arena-closed": _arena,
    "arena-reopened": _arena,
    "team-joined": _team_joined,
    "submission": _submission,
    "lock": _lock,
    "decision": _decision,
    "re-decision": _redecision,
    "publication": _publication,
    "appeal": _appeal,
    "appeal-answer": _appeal_answer,
}
