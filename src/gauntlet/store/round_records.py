"""What a round's pipeline (`gauntlet challenge ...`) reads and writes beyond the
published record: when each submission was received (by the round's clock, so
the deadline check is on record) and the licence its files declared at intake,
and read-backs of a round's submissions with their stored results.

Like the rest of the record these rows are written once: a submission's intake
details are fixed when it is locked, and re-submitting the same bytes keeps them.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import DateTime, ForeignKey, String, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gauntlet.errors import StoreError
from gauntlet.store.models import Base, Submission, Team


class SubmissionIntake(Base):
    """The intake facts of one locked submission (migration 0003)."""

    __tablename__ = "submission_intake"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), unique=True)
    licence: Mapped[str | None] = mapped_column(String(100))  # lower-case SPDX id; None: none declared
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # the pipeline's clock
    deadline: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # the round's, when received

    submission: Mapped[Submission] = relationship()


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes even for timezone-aware columns; they were stored as UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc)


class RoundVerbs:
    """Mixed into `Store`."""

    def record_intake(self, submission_id: int, *, licence: str | None, received_at: datetime,
                      deadline: datetime) -> None:
        """Record when a submission was received and the licence it declared.  Recording
        the same submission again (the same bytes re-submitted) keeps the first record."""
        with self.sessions.begin() as session:
            if session.get(Submission, submission_id) is None:
                raise StoreError(f"no submission #{submission_id}")
            if session.scalar(select(SubmissionIntake).where(SubmissionIntake.submission_id == submission_id)):
                return
            session.add(SubmissionIntake(submission_id=submission_id, licence=licence,
                                         received_at=_utc(received_at), deadline=_utc(deadline)))

    def round_submissions(self, slug: str, round_key: str) -> list[dict]:
        """Every locked submission of a round, by team key: where its files are, its
        intake facts, its stored components (with their detail) and audit findings."""
        with self.sessions() as session:
            challenge = self._challenge(session, slug)
            subs = session.scalars(select(Submission).join(Team).where(
                Team.challenge_id == challenge.id, Submission.round_key == round_key).order_by(Team.key))
            out = []
            for sub in subs:
                intake = session.scalar(select(SubmissionIntake).where(SubmissionIntake.submission_id == sub.id))
                out.append({
                    "team": sub.team.key,
                    "organisation": sub.team.organisation,
                    "country": sub.team.country,
                    "submission_id": sub.id,
                    "manifest_sha256": sub.manifest_sha256,
                    "stored_path": sub.stored_path,
                    "total_bytes": sub.total_bytes,
                    "licence": intake.licence if intake else None,
                    "intake_recorded": intake is not None,
                    "received_at": _aware(intake.received_at).isoformat() if intake else None,
                    "components": {c.component: {"value": c.value, "lower": c.lower, "upper": c.upper,
                                                 "detail": c.detail or {}}
                                   for c in sorted(sub.components, key=lambda c: c.component)},
                    "audits": [{"reference": a.reference, "verdict": a.verdict, "p_value": a.p_value,
                                "report": a.report or {}}
                               for a in sorted(sub.audits, key=lambda a: a.reference)],
                })
            return out
