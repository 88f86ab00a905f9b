"""A challenge on disk: the event journal, the decision ledger, and the verbs
organisers use (join, submit, lock, decide, appeal, answer, re-decide).

    challenge = Challenge(spec, "runs/k-2026")
    challenge.submit("lg", "sha256:...", at=...)
    challenge.lock("first", at=...)
    outputs = challenge.decide("first", results, at=...)

Times are always passed in (the caller reads the clock, or a test invents
one). Each verb is checked against the rules (`lifecycle.apply`) before
anything is written; decisions, appeals and answers also go to the ledger, so
the public record shows the appeal trail next to the decisions it concerns.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
from pathlib import Path
from typing import Iterable

from gauntlet.domain.canonical import canonical_json
from gauntlet.domain.validation import InvalidDocument
from gauntlet.errors import InputError, StoreError
from gauntlet.files import parse_json
from gauntlet.rounds.decisions import decide
from gauntlet.rounds.events import (
    AppealAnswered,
    AppealFiled,
    Event,
    RoundDecided,
    RoundRedecided,
    SubmissionMade,
    SubmissionsLocked,
    TeamJoined,
    event_from_document,
    event_to_document,
)
from gauntlet.rounds.inputs import TeamResult, decision_inputs
from gauntlet.rounds.ledger_store import Ledger
from gauntlet.rounds.lifecycle import ChallengeState, LifecycleError, apply, replay
from gauntlet.spec.model import ChallengeSpec


class Journal:
    """Append-only JSON Lines file of lifecycle events."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def events(self) -> list[Event]:
        if not self.path.exists():
            return []
        events = []
        with self.path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    events.append(event_from_document(parse_json(line, what=f"line {number}"), f"line {number}"))
                except (InputError, InvalidDocument) as exc:
                    raise StoreError(f"{self.path}: line {number} is not a valid event ({exc})") from None
        return events

    def append(self, event: Event) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            fh.write(canonical_json(event_to_document(event)) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
            fcntl.flock(fh, fcntl.LOCK_UN)


class Challenge:
    def __init__(self, spec: ChallengeSpec, directory: str | Path) -> None:
        self.spec = spec
        self.directory = Path(directory)
        self.journal = Journal(self.directory / "events.jsonl")
        self.ledger = Ledger(self.directory / "ledger.jsonl")

    @property
    def state(self) -> ChallengeState:
        return replay(self.spec, self.journal.events())

    def _record(self, event: Event) -> ChallengeState:
        state = apply(self.state, event)  # refuse before writing anything
        self.journal.append(event)
        return state

    def _record_spec(self, at: dt.datetime) -> None:
        """Put the spec itself on the record before the first entry made under it
        (and again whenever it changes), so the ledger alone explains every rule."""
        records = self.ledger.records()
        spec_hash = self.spec.spec_hash
        if any(r["kind"] == "spec" and r["spec_hash"] == spec_hash for r in records):
            return
        earlier = [r["hash"] for r in records if r["kind"] == "spec"][-1:]
        self.ledger.append(
            kind="spec", inputs=self.spec.to_document(), spec_hash=spec_hash, recorded_at=at.isoformat(),
            references=earlier, note=f"challenge spec {self.spec.id}" + (" (amended)" if earlier else ""),
        )

    # -- verbs ------------------------------------------------------------
    def join(self, team: str, at: dt.datetime) -> ChallengeState:
        entrant = next((t for t in self.spec.teams if t.id == team and t.joins_at_round), None)
        if entrant is None:
            raise LifecycleError(f"team {team!r} is not an entrant in the spec (no joins_at_round)")
        return self._record(TeamJoined(team, entrant.joins_at_round, at))

    def submit(self, team: str, artifact: str, at: dt.datetime, round_id: str | None = None) -> ChallengeState:
        if round_id is None:
            current = self.state.current_round()
            if current is None:
                raise LifecycleError("cannot submit: the challenge is over")
            round_id = current.id
        return self._record(SubmissionMade(team, round_id, artifact, at))

    def lock(self, round_id: str, at: dt.datetime) -> ChallengeState:
        return self._record(SubmissionsLocked(round_id, at))

    def decision_inputs(self, round_id: str, results: Iterable[TeamResult], *, seed: int = 0, draws: int = 4000) -> dict:
        return decision_inputs(self.spec, round_id, results, seed=seed, draws=draws)

    def decide(self, round_id: str, results: Iterable[TeamResult], at: dt.datetime, *, seed: int = 0, draws: int = 4000) -> dict:
        """Decide a round from the teams' results, record it, return the outputs."""
        inputs = self.decision_inputs(round_id, results, seed=seed, draws=draws)
        apply(self.state, RoundDecided(round_id, inputs, {}, "", at))  # the rules first: they ignore outputs
        outputs = decide(inputs)
        self._record_spec(at)
        record = self.ledger.append(
            kind="decision", inputs=inputs, outputs=outputs, round_id=round_id,
            spec_hash=self.spec.spec_hash, recorded_at=at.isoformat(),
        )
        self._record(RoundDecided(round_id, inputs, outputs, record["hash"], at))
        return outputs

    def appeal(self, appeal_id: str, round_id: str, team: str, grounds: str, at: dt.datetime) -> dict:
        apply(self.state, AppealFiled(appeal_id, round_id, team, grounds, at))
        original = self.state.decision(round_id)
        self._record_spec(at)
        record = self.ledger.append(
            kind="appeal", round_id=round_id, spec_hash=self.spec.spec_hash, recorded_at=at.isoformat(),
            references=[original.record] if original and original.record else [],
            note=f"appeal {appeal_id} by {team}: {grounds}",
        )
        self._record(AppealFiled(appeal_id, round_id, team, grounds, at, record["hash"]))
        return record

    def answer(self, appeal_id: str, upheld: bool, answer: str, at: dt.datetime) -> dict:
        apply(self.state, AppealAnswered(appeal_id, upheld, answer, at))
        appeal = self.state.appeals[appeal_id]
        self._record_spec(at)
        record = self.ledger.append(
            kind="appeal-answer", round_id=appeal.round_id, spec_hash=self.spec.spec_hash,
            recorded_at=at.isoformat(), references=[appeal.record] if appeal.record else [],
            note=f"appeal {appeal_id} {'upheld' if upheld else 'rejected'}: {answer}",
        )
        self._record(AppealAnswered(appeal_id, upheld, answer, at, record["hash"]))
        return record

    def redecide(
        self, round_id: str, appeal_id: str, results: Iterable[TeamResult], at: dt.datetime,
        *, seed: int = 0, draws: int = 4000,
    ) -> dict:
        """A new decision after an upheld appeal. The original stays in the ledger;
        the new record references it and the appeal's answer."""
        state = self.state
        inputs = self.decision_inputs(round_id, results, seed=seed, draws=draws)
        apply(state, RoundRedecided(round_id, appeal_id, inputs, {}, "", at))
        outputs = decide(inputs)
        original = state.decision(round_id)
        appeal = state.appeals[appeal_id]
        references = [h for h in (original.record, appeal.answer_record) if h]
        self._record_spec(at)
        record = self.ledger.append(
            kind="re-decision", inputs=inputs, outputs=outputs, round_id=round_id, spec_hash=self.spec.spec_hash,
            recorded_at=at.isoformat(), references=references, note=f"after upheld appeal {appeal_id}",
        )
        self._record(RoundRedecided(round_id, appeal_id, inputs, outputs, record["hash"], at))
        return outputs
