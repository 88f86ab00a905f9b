"""Evidence of own work as the round's own-work stage records it: per submission, the
verification of its training-run chain and its benchmark-contamination tests.

One row per submission and kind (`chain`, `contamination`), never updated in place:
the stage skips what is recorded, so running it again finishes only what is missing.
The contamination rows of a round are written in one transaction, because their
p-values are corrected together across every team and task (all or none).
"""

from __future__ import annotations

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column

from gauntlet.errors import StoreError
from gauntlet.store.models import Base, Submission, Team

KINDS = ("chain", "contamination")


class OwnWorkEvidence(Base):
    """One submission's chain verification or contamination tests (migration 0004_own_work)."""

    __tablename__ = "own_work_evidence"
    __table_args__ = (UniqueConstraint("submission_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    kind: Mapped[str] = mapped_column(String(20))  # chain | contamination
    verdict: Mapped[str] = mapped_column(String(20))  # the chain's, or the team's over its tasks
    document: Mapped[dict] = mapped_column(JSON, default=dict)


def own_work_of(session, submission_id: int) -> dict[str, dict]:
    """{kind: {**document, "verdict"}} of one submission."""
    rows = session.scalars(select(OwnWorkEvidence).where(OwnWorkEvidence.submission_id == submission_id))
    return {r.kind: {**(r.document or {}), "verdict": r.verdict} for r in rows}


class OwnWorkVerbs:
    """Mixed into `Store`."""

    def record_own_work(self, rows: list[tuple[int, str, str, dict]]) -> None:
        """(submission id, kind, verdict, document) rows, in one transaction."""
        with self.sessions.begin() as session:
            for submission_id, kind, verdict, document in rows:
                if kind not in KINDS:
                    raise StoreError(f"own-work evidence kind must be one of {', '.join(KINDS)}, got {kind!r}")
                exists = session.scalar(select(OwnWorkEvidence.id).where(
                    OwnWorkEvidence.submission_id == submission_id, OwnWorkEvidence.kind == kind))
                if exists is not None:
                    raise StoreError(f"{kind} evidence is already recorded for submission {submission_id}")
                session.add(OwnWorkEvidence(submission_id=submission_id, kind=kind, verdict=verdict,
                                            document=document))

    def round_own_work(self, slug: str, round_key: str) -> dict[str, dict[str, dict]]:
        """{team: {kind: {"verdict", **document}}} for a round's submissions that have any."""
        with self.sessions() as session:
            challenge = self._challenge(session, slug)
            subs = session.scalars(select(Submission).join(Team).where(
                Team.challenge_id == challenge.id, Submission.round_key == round_key).order_by(Team.key))
            out = {}
            for sub in subs:
                found = own_work_of(session, sub.id)
                if found:
                    out[sub.team.key] = found
            return out
