"""The application service: one function per event of a challenge's life.

Every function here does the same four things in one database transaction:
load the challenge's record, replay it into the domain's state
(`gauntlet.domain.lifecycle`), ask the domain whether the event is allowed now,
and write the state it changes together with the event's ledger record
(`gauntlet.store.records`).  Either both commit or neither does: a kill at any
point leaves the old state or the new one, never a decision without its
record.  The CLI (`gauntlet challenge ...`) and the web app call these same
functions; the time is always the caller's (`at`), never read here.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Iterator, Mapping

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError

from gauntlet.domain import lifecycle
from gauntlet.domain.lifecycle import ChallengeState, Event, RuleBroken
from gauntlet.errors import InputError, StoreError
from gauntlet.rounds.decisions import code_version, decide as decide_document
from gauntlet.store import records as ledger_table
from gauntlet.store.models import Challenge, ComponentResult, Decision, Team
from gauntlet.store.models_activity import AppealRecord

MAX_GROUNDS = 5000


def _aware(at: datetime) -> datetime:
    if at is None or at.tzinfo is None:
        raise InputError("a time must carry its time zone")
    return at


def spec_of(store, slug: str):
    """The challenge's registered spec, parsed."""
    from gauntlet import spec as spec_module

    return spec_module.loads(store.spec_text(slug), source=f"the spec of {slug!r}")


@contextmanager
def _writing() -> Iterator[None]:
    """A write the database refuses (a full disk, a read-only file, another writer that
    appended first) keeps nothing and is one line for the shell."""
    try:
        yield
    except IntegrityError:
        raise StoreError("another command appended to the record at the same time; nothing of this one was "
                         "kept: run it again") from None
    except OperationalError as exc:
        raise StoreError(f"the store refused the write ({str(exc.orig).splitlines()[0]}); nothing of it was "
                         "kept") from None


@contextmanager
def _transaction(store, spec) -> Iterator[tuple[Any, Challenge, ChallengeState]]:
    """One transaction over the record: the challenge's state as its record says, to judge
    and append one event."""
    with _writing(), store.sessions.begin() as session:
        # Writers of one challenge take turns, so each judges the event against the record as
        # it is: a row lock on a server database; on SQLite, which ignores FOR UPDATE and whose
        # driver opens a transaction only at the first write, its one write lock is taken
        # before anything is read (else two decides could both read "undecided", then append).
        if session.get_bind().dialect.name == "sqlite":
            session.connection().exec_driver_sql("BEGIN IMMEDIATE")
        challenge = session.scalar(select(Challenge).where(Challenge.slug == spec.id).with_for_update())
        if challenge is None:
            raise StoreError(f"no challenge {spec.id!r} in the store")
        state = lifecycle.replay(spec, ledger_table.intact_records(session, challenge))
        yield session, challenge, state


def _check(state: ChallengeState, event: Event) -> ChallengeState:
    try:
        return lifecycle.check(state, event)
    except RuleBroken as exc:
        raise InputError(str(exc)) from None


def _append(session, challenge, spec, event: Event, note: str = "") -> dict:
    return ledger_table.append(session, challenge, kind=event.kind, code_version=code_version(),
                               recorded_at=event.at.isoformat(), inputs=dict(event.payload) or None,
                               outputs=event.outputs, round_id=event.round, spec_hash=spec.spec_hash,
                               references=event.references, note=note)


def state(store, spec) -> ChallengeState:
    """The challenge's state now, from its record."""
    with store.sessions() as session:
        return lifecycle.replay(spec, ledger_table.intact_records(session, store._challenge(session, spec.id)))


# ----------------------------------------------------------------------------- registration


def register(store, spec, spec_text: str, at: datetime) -> dict:
    """The challenge, its teams, and the spec as the record's first event."""
    import hashlib

    at = _aware(at)
    with _writing(), store.sessions.begin() as session:
        if session.scalar(select(Challenge).where(Challenge.slug == spec.id)) is not None:
            raise InputError(f"challenge {spec.id!r} is already registered in this store; "
                             "issue further tokens from the organiser page (/organiser)")
        challenge = Challenge(slug=spec.id, name=spec.name, spec_sha256=hashlib.sha256(spec_text.encode()).hexdigest(),
                              spec_toml=spec_text, created_at=at)
        session.add(challenge)
        session.flush()
        for t in spec.teams:
            session.add(Team(challenge_id=challenge.id, key=t.id, name=t.name, organisation=t.organisation,
                             country=t.country))
        return _append(session, challenge, spec, Event("spec", at, None, spec.to_document()),
                       note=f"challenge spec {spec.id}")


# ----------------------------------------------------------------------------- teams and submissions


def join(store, spec, team: str, at: datetime) -> dict:
    """An entrant declared in the spec joins at its round, bringing its allotment."""
    try:
        round_id = spec.team(team).joins_at_round
    except KeyError:
        raise InputError(f"no team {team!r} in the spec") from None
    if not round_id:
        raise InputError(f"team {team!r} takes part from the first round; only entrants (joins_at_round) join")
    with _transaction(store, spec) as (session, challenge, now_state):
        event = Event("team-joined", _aware(at), round_id, {"team": team})
        _check(now_state, event)
        allotment = ", ".join(f"{n} {k}" for k, n in sorted(spec.team(team).allotment.items())) or "none"
        return _append(session, challenge, spec, event, note=f"{team} joins at round {round_id} (allotment {allotment})")


def submit(store, spec, team: str, round_id: str, stored, licence: str | None, at: datetime) -> int:
    """Lock in a team's stored model for a round (a later one before the deadline replaces
    it); returns the submission's id."""
    from gauntlet.store.round_records import write_submission

    with _transaction(store, spec) as (session, challenge, now_state):
        event = Event("submission", _aware(at), round_id,
                      {"team": team, "artifact": stored.id, "bytes": stored.manifest.total_bytes})
        _check(now_state, event)
        rnd = spec.round(round_id)
        submission_id = write_submission(session, store._team(session, spec.id, team), round_id, stored,
                                         licence=licence, at=at, deadline=rnd.submission_deadline)
        _append(session, challenge, spec, event)
        return submission_id


def lock(store, spec, round_id: str, at: datetime) -> bool:
    """Freeze the round's submissions (at or after its deadline); False if already locked."""
    with _transaction(store, spec) as (session, challenge, now_state):
        if round_id in now_state.locked:
            return False
        event = Event("lock", _aware(at), round_id)
        after = _check(now_state, event)
        teams = sorted(team for (r, team) in after.submissions if r == round_id)
        _append(session, challenge, spec, event, note=f"{len(teams)} submission(s) locked: {', '.join(teams)}")
        return True


# ----------------------------------------------------------------------------- decisions


def _decision_row(session, challenge, round_id: str, inputs: dict, outputs: dict, record: dict,
                  at: datetime) -> int:
    last = session.scalar(select(Decision.sequence).where(Decision.challenge_id == challenge.id)
                          .order_by(Decision.sequence.desc()).limit(1))
    sequence = (last or 0) + 1
    session.add(Decision(challenge_id=challenge.id, sequence=sequence, round_key=round_id, inputs=inputs,
                         outputs=outputs, record_hash=record["hash"], created_at=at))
    return sequence


def decide(store, spec, round_id: str, inputs: dict, at: datetime, *, note: str = "",
           components: Mapping[str, Mapping[str, Any]] | None = None) -> tuple[int, dict]:
    """Draft a round's decision from its inputs: outputs, the decision row, any component
    scores the decision used that are not stored yet (`components[team][name]`: a
    `ComponentScore`), and the ledger record, in one transaction.  Returns (sequence, record)."""
    from gauntlet.store.models import Submission

    outputs = decide_document(inputs)
    with _transaction(store, spec) as (session, challenge, now_state):
        event = Event("decision", _aware(at), round_id, inputs, outputs)
        _check(now_state, event)
        for team, scores in (components or {}).items():
            sub = session.scalar(select(Submission).join(Team).where(
                Team.challenge_id == challenge.id, Team.key == team, Submission.round_key == round_id))
            have = {c.component for c in sub.components}
            for name, score in scores.items():
                if name not in have:
                    session.add(ComponentResult(submission_id=sub.id, component=name, value=score.value,
                                                lower=score.lower, upper=score.upper,
                                                detail={"samples": list(score.samples)}))
        record = _append(session, challenge, spec, event, note=note)
        return _decision_row(session, challenge, round_id, inputs, outputs, record, at), record


def redecide(store, spec, round_id: str, appeal_id: int, corrections, at: datetime) -> tuple[int, dict, str]:
    """Draft a new decision of a round after an upheld appeal, from the decision in force with
    exactly the stated corrections.  Returns (sequence, record, hash of the record it replaces)."""
    from gauntlet.rounds.redecision import corrected_inputs

    with _transaction(store, spec) as (session, challenge, now_state):
        appeal = now_state.appeals.get(appeal_id)
        if appeal is None:
            raise StoreError(f"no appeal #{appeal_id}")
        if appeal.round != round_id:
            raise InputError(f"appeal #{appeal_id} is about round {appeal.round!r}, not {round_id!r}")
        if appeal.upheld is not True:
            how = "not answered yet" if appeal.upheld is None else "rejected"
            raise InputError(f"appeal #{appeal_id} is {how}; only an upheld appeal leads to a re-decision")
        in_force = now_state.in_force(round_id)
        inputs = corrected_inputs(dict(in_force.inputs), corrections)
        outputs = decide_document(inputs)
        event = Event("re-decision", _aware(at), round_id, inputs, outputs,
                      (in_force.record, appeal.answer_record) if appeal.answer_record else (in_force.record,))
        _check(now_state, event)
        changes = "; ".join(f"{team}.{name}={value}" for team, fields in sorted(corrections.items())
                            for name, value in sorted(fields.items()))
        note = (f"appeal #{appeal_id} by {appeal.team} upheld: {appeal.answer} (grounds: {appeal.grounds}); "
                f"corrected: {changes}")
        record = _append(session, challenge, spec, event, note=note)
        return _decision_row(session, challenge, round_id, inputs, outputs, record, at), record, in_force.record


def publish(store, spec, round_id: str, at: datetime) -> dict:
    """Publish the round's draft decision as its own event: from now on it is the decision in
    force, public, and its appeal window is open."""
    with _transaction(store, spec) as (session, challenge, now_state):
        draft = now_state.draft(round_id)
        event = Event("publication", _aware(at), round_id, references=(draft.record,) if draft else ())
        _check(now_state, event)
        row = session.scalar(select(Decision).where(Decision.challenge_id == challenge.id,
                                                    Decision.record_hash == draft.record))
        row.published_at = at
        return _append(session, challenge, spec, event, note=f"decision #{row.sequence} of round {round_id} published")


# ----------------------------------------------------------------------------- appeals


def appeal(store, spec, team: str, round_id: str, grounds: str, at: datetime) -> int:
    """A team appeals the decision in force of a round; returns the appeal's id."""
    grounds = (grounds or "").strip()
    if len(grounds) > MAX_GROUNDS:
        raise InputError(f"the grounds are longer than {MAX_GROUNDS} characters")
    with _transaction(store, spec) as (session, challenge, now_state):
        _check(now_state, Event("appeal", _aware(at), round_id, {"appeal": -1, "team": team, "grounds": grounds}))
        in_force = now_state.in_force(round_id)
        sequence = session.scalar(select(Decision.sequence).where(Decision.challenge_id == challenge.id,
                                                                  Decision.record_hash == in_force.record))
        row = AppealRecord(challenge_id=challenge.id, round_key=round_id, team_id=store._team(session, spec.id, team).id,
                           decision_sequence=sequence, grounds=grounds, filed_at=at)
        session.add(row)
        session.flush()
        event = Event("appeal", at, round_id, {"appeal": row.id, "team": team, "grounds": grounds}, None,
                      (in_force.record,))
        _append(session, challenge, spec, event, note=f"appeal #{row.id} by {team}")
        return row.id


def answer(store, spec, appeal_id: int, upheld: bool, text: str, at: datetime) -> dict:
    """The organisers' answer to an appeal (given once)."""
    text = (text or "").strip()
    with _transaction(store, spec) as (session, challenge, now_state):
        filed = now_state.appeals.get(appeal_id)
        if filed is None:
            raise StoreError(f"no appeal #{appeal_id}")
        event = Event("appeal-answer", _aware(at), filed.round, {"appeal": appeal_id, "upheld": bool(upheld),
                                                                 "answer": text}, None, (filed.record,))
        _check(now_state, event)
        row = session.get(AppealRecord, appeal_id)
        row.upheld, row.answer, row.answered_at = bool(upheld), text, at
        return _append(session, challenge, spec, event,
                       note=f"appeal #{appeal_id} {'upheld' if upheld else 'rejected'}")


# ----------------------------------------------------------------------------- the arena


def set_arena(store, spec, round_id: str, state: str, reason: str, at: datetime) -> dict:
    """An organiser closes (`state="closed"`) or reopens (`"open"`) a round's arena: the arena's
    new state and its event, with the reason, in one transaction."""
    from gauntlet.store.models_activity import ArenaState

    if state not in ("open", "closed"):
        raise InputError(f"an arena is open or closed, not {state!r}")
    reason = (reason or "").strip()
    with _transaction(store, spec) as (session, challenge, now_state):
        event = Event("arena-reopened" if state == "open" else "arena-closed", _aware(at), round_id,
                      {"reason": reason})
        _check(now_state, event)
        current = store._arena_state_row(session, challenge.id, round_id)
        if (current.state if current else "open") == state:
            raise InputError(f"the arena of round {round_id!r} is already {state}")
        session.add(ArenaState(challenge_id=challenge.id, round_key=round_id, state=state, reason=reason, at=at))
        return _append(session, challenge, spec, event, note=f"arena of round {round_id} {state}: {reason}")


# ----------------------------------------------------------------------------- an earlier store's ledger file


def import_ledger_file(store, spec, path) -> int:
    """Bring the ledger file a store kept before the record moved into the database into the
    record table, record for record (the chain is checked first, and every stored decision
    must be in it), then publish the decisions that were public then.  Returns the number of
    records imported; 0 when the table already holds this challenge's record."""
    from gauntlet.errors import LedgerError
    from gauntlet.rounds.ledger_file import Ledger

    imported = Ledger(path).records()  # refuses a broken chain
    with store.sessions.begin() as session:
        challenge = store._challenge(session, spec.id)
        if ledger_table.last_record(session, challenge) is not None:
            return 0
        hashes = {r["hash"] for r in imported}
        rows = list(session.scalars(select(Decision).where(Decision.challenge_id == challenge.id)
                                    .order_by(Decision.sequence)))
        for row in rows:
            if row.record_hash not in hashes:
                raise LedgerError(f"{path}: decision #{row.sequence} (record {row.record_hash[:12]}) is not in it")
        for record in imported:
            ledger_table.add_sealed(session, challenge, record)
        for row in rows:
            if row.published_at is not None:
                published = row.published_at if row.published_at.tzinfo else row.published_at.replace(tzinfo=timezone.utc)
                _append(session, challenge, spec, Event("publication", published, row.round_key,
                                                        references=(row.record_hash,)),
                        note=f"decision #{row.sequence} of round {row.round_key} was public before the record "
                             "moved into the store")
        return len(imported)

