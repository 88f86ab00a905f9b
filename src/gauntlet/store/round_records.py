"""A round's submissions as the pipeline (`gauntlet challenge ...`) writes and reads
them: the submission with its files, when it was received (by the caller's clock,
so the deadline check is on record) and the licence its files declared at intake,
and read-backs of a round's submissions with their stored results.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import DateTime, ForeignKey, String, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

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


def write_submission(session, team: Team, round_key: str, stored, *, licence: str | None, at: datetime,
                     deadline: datetime) -> int:
    """The team's submission for a round, with its files and intake facts, inside the caller's
    transaction (`gauntlet.rounds.service.submit`, which records the event with it).  A later
    submission before the lock replaces the earlier one; the same bytes again change nothing."""
    from gauntlet.store.models import SubmissionFile

    existing = session.scalar(select(Submission).where(Submission.team_id == team.id, Submission.round_key == round_key))
    if existing is not None:
        if existing.manifest_sha256 == stored.id:
            return existing.id
        for row in (*existing.files, *session.scalars(select(SubmissionIntake).where(
                SubmissionIntake.submission_id == existing.id))):
            session.delete(row)
        session.delete(existing)
        session.flush()
    submission = Submission(team_id=team.id, round_key=round_key, manifest_sha256=stored.id,
                            total_bytes=stored.manifest.total_bytes, stored_path=str(stored.path), submitted_at=_utc(at),
                            files=[SubmissionFile(path=f.path, sha256=f.sha256, size=f.size)
                                   for f in stored.manifest.files])
    session.add(submission)
    session.flush()
    session.add(SubmissionIntake(submission_id=submission.id, licence=licence, received_at=_utc(at),
                                 deadline=_utc(deadline)))
    return submission.id


class RoundVerbs:
    """Mixed into `Store`."""

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
