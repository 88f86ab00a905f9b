"""The stored record of a challenge, as SQLAlchemy 2 models.

Schema changes go through Alembic migrations (`migrations/versions`), never
`create_all`, so a store created by any release can be upgraded in place.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Challenge(Base):
    __tablename__ = "challenges"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    spec_sha256: Mapped[str] = mapped_column(String(64))
    spec_toml: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    teams: Mapped[list[Team]] = relationship(back_populates="challenge", order_by="Team.key")
    decisions: Mapped[list[Decision]] = relationship(back_populates="challenge", order_by="Decision.sequence")


class Team(Base):
    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("challenge_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id"))
    key: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(100))

    challenge: Mapped[Challenge] = relationship(back_populates="teams")
    submissions: Mapped[list[Submission]] = relationship(back_populates="team")


class Submission(Base):
    """One locked model artifact per team per round, identified by its manifest hash."""

    __tablename__ = "submissions"
    __table_args__ = (UniqueConstraint("team_id", "round_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    round_key: Mapped[str] = mapped_column(String(100))
    manifest_sha256: Mapped[str] = mapped_column(String(64), index=True)
    total_bytes: Mapped[int] = mapped_column(BigInteger)
    stored_path: Mapped[str] = mapped_column(Text)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    team: Mapped[Team] = relationship(back_populates="submissions")
    files: Mapped[list[SubmissionFile]] = relationship(back_populates="submission", order_by="SubmissionFile.path")
    components: Mapped[list[ComponentResult]] = relationship(back_populates="submission")
    audits: Mapped[list[AuditFinding]] = relationship(back_populates="submission")


class SubmissionFile(Base):
    __tablename__ = "submission_files"
    __table_args__ = (UniqueConstraint("submission_id", "path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)

    submission: Mapped[Submission] = relationship(back_populates="files")


class ComponentResult(Base):
    """A 0-100 component score (benchmark / expert / user) with its 95% interval."""

    __tablename__ = "component_results"
    __table_args__ = (UniqueConstraint("submission_id", "component"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    component: Mapped[str] = mapped_column(String(50))
    value: Mapped[float] = mapped_column(Float)
    lower: Mapped[float] = mapped_column(Float)
    upper: Mapped[float] = mapped_column(Float)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)

    submission: Mapped[Submission] = relationship(back_populates="components")


class AuditFinding(Base):
    """The independence audit of one submission against one reference."""

    __tablename__ = "audit_findings"
    __table_args__ = (UniqueConstraint("submission_id", "reference"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    reference: Mapped[str] = mapped_column(String(200))
    verdict: Mapped[str] = mapped_column(String(20))
    p_value: Mapped[float] = mapped_column(Float)
    report: Mapped[dict] = mapped_column(JSON, default=dict)

    submission: Mapped[Submission] = relationship(back_populates="audits")


class Decision(Base):
    """A round decision: its inputs, outputs and record in the hash chain; a draft (seen by the
    organisers only) until `published_at` is set by its publication event."""

    __tablename__ = "decisions"
    __table_args__ = (UniqueConstraint("challenge_id", "sequence"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id"))
    sequence: Mapped[int] = mapped_column(Integer)
    round_key: Mapped[str] = mapped_column(String(100))
    inputs: Mapped[dict] = mapped_column(JSON)
    outputs: Mapped[dict] = mapped_column(JSON)
    record_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    challenge: Mapped[Challenge] = relationship(back_populates="decisions")
