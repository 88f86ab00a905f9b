"""The record of a challenge: an append-only, hash-chained table of events.

Each row is one sealed ledger record (`gauntlet.domain.ledger`), kept as its
canonical JSON text so that what is hashed is exactly what is stored (a JSON
column could re-render a float).  `append` is called inside the transaction
that changes the state the event is about, so the state and its record commit
together or not at all.  Two writers cannot fork the chain: `(challenge, seq)`
is unique, so the second one's commit fails and nothing of it is kept.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from gauntlet.domain import ledger as chain
from gauntlet.domain.canonical import canonical_json
from gauntlet.errors import LedgerError
from gauntlet.store.models import Base, Challenge


class LedgerRecord(Base):
    """One event of a challenge's record (migration 0003_record)."""

    __tablename__ = "ledger_records"
    __table_args__ = (UniqueConstraint("challenge_id", "seq"), UniqueConstraint("challenge_id", "record_hash"))

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(40))
    round_key: Mapped[str | None] = mapped_column(String(100))
    record_hash: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)  # the sealed record's canonical JSON


def _bodies(session: Session, challenge: Challenge) -> list[str]:
    return list(session.scalars(select(LedgerRecord.body).where(LedgerRecord.challenge_id == challenge.id)
                                .order_by(LedgerRecord.seq)))


def _parsed(body: str) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return "<not JSON>"  # named as malformed by `verify_chain`


def read_records(session: Session, challenge: Challenge) -> list[dict]:
    return [_parsed(body) for body in _bodies(session, challenge)]


def intact_records(session: Session, challenge: Challenge) -> list[dict]:
    """The records, refused when the rows no longer form an intact chain: nothing is judged
    against, or appended to, a record someone altered in the database."""
    records = read_records(session, challenge)
    problems = chain.verify_chain(records)
    if problems:
        raise LedgerError(f"the record of {challenge.slug!r} is damaged ({problems[0].message}); nothing is "
                          "appended to it until it is restored (see `gauntlet ledger verify --db`)")
    return records


def last_record(session: Session, challenge: Challenge) -> dict | None:
    body = session.scalar(select(LedgerRecord.body).where(LedgerRecord.challenge_id == challenge.id)
                          .order_by(LedgerRecord.seq.desc()).limit(1))
    return None if body is None else _parsed(body)


def append(session: Session, challenge: Challenge, *, kind: str, code_version: str, recorded_at: str,
           inputs: Any = None, outputs: Any = None, round_id: str | None = None, spec_hash: str | None = None,
           references: Sequence[str] = (), note: str = "") -> dict:
    """Seal the next record of `challenge` and add it to `session` (committed with it)."""
    record = chain.seal(last_record(session, challenge), kind=kind, code_version=code_version, inputs=inputs,
                        outputs=outputs, round_id=round_id, spec_hash=spec_hash, references=references,
                        note=note, recorded_at=recorded_at)
    add_sealed(session, challenge, record)
    return record


def add_sealed(session: Session, challenge: Challenge, record: dict) -> None:
    """Add an already sealed record (an imported ledger file's) as it is."""
    session.add(LedgerRecord(challenge_id=challenge.id, seq=record["seq"], kind=record["kind"],
                             round_key=record["round"], record_hash=record["hash"], body=canonical_json(record)))
    session.flush()


class RecordVerbs:
    """Mixed into `Store`: reading the record."""

    def records(self, slug: str) -> list[dict]:
        """Every record of the challenge, in chain order."""
        with self.sessions() as session:
            return read_records(session, self._challenge(session, slug))

    def public_records(self, slug: str) -> list[dict]:
        """The record as the public reads it: up to the first unpublished decision
        (`gauntlet.store.team_records.public_prefix`)."""
        from gauntlet.store.team_records import public_prefix

        return public_prefix(self.records(slug))

    def ledger_head(self, slug: str, *, drafts: bool = False) -> dict | None:
        """The chain's head: the hash of the latest record and how many records there are; of
        the public record unless `drafts` (organisers)."""
        records = self.records(slug) if drafts else self.public_records(slug)
        if not records:
            return None
        last = records[-1]
        return {"head": last["hash"], "records": last["seq"] + 1, "recorded_at": last["recorded_at"]}

    def export_ledger(self, slug: str, *, drafts: bool = True) -> str:
        """The record as the JSON Lines file `gauntlet ledger verify` checks, the rows as stored
        (so a row altered in the database is exported as it is and caught there): all of it
        (the organisers' copy, `gauntlet ledger export`), or the public record (`drafts=False`),
        which is a prefix of it."""
        from gauntlet.store.team_records import public_prefix

        with self.sessions() as session:
            bodies = _bodies(session, self._challenge(session, slug))
        if not drafts:  # the prefix of the rows just read, not a second read of the record
            bodies = bodies[:len(public_prefix([_parsed(body) for body in bodies]))]
        return "".join(body + "\n" for body in bodies)
