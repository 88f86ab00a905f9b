"""Tables for what happens between decisions: who may sign in, the public arena,
the expert panel, job states and appeals.

Like the published record (`models.py`), these rows are appended, not rewritten:
a vote, a review or an appeal is never edited or deleted.  The exceptions are
mutable by nature and say so: a job's state, a token's revocation time, an
appeal's answer (set once).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gauntlet.store.models import Base, Team


class AccessToken(Base):
    """A bearer token for one role.  Only its SHA-256 is stored: tokens are 256-bit
    random strings, so a fast hash is enough (no dictionary to attack)."""

    __tablename__ = "access_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id"))
    role: Mapped[str] = mapped_column(String(20))  # organiser | team | expert
    subject: Mapped[str | None] = mapped_column(String(100))  # team key or expert key
    label: Mapped[str] = mapped_column(String(200))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebSession(Base):
    """A sign-in through the login form: the cookie holds a random secret whose hash is
    here, so signing out (or revoking the token) ends the session on the server, not only
    in the browser that signed out. `ended_at` is set once."""

    __tablename__ = "web_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("access_tokens.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AppSetting(Base):
    """Installation-wide values the web app needs to survive restarts (the cookie-signing key)."""

    __tablename__ = "app_settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class ArenaPrompt(Base):
    __tablename__ = "arena_prompts"
    __table_args__ = (UniqueConstraint("challenge_id", "round_key", "prompt_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id"))
    round_key: Mapped[str] = mapped_column(String(100))
    prompt_key: Mapped[str] = mapped_column(String(100))
    language: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)


class ArenaAnswer(Base):
    """A team model's cached answer to a prompt.  `excluded_reason` is set when the
    answer names its author: it is kept, but never shown in a blind battle."""

    __tablename__ = "arena_answers"
    __table_args__ = (UniqueConstraint("challenge_id", "round_key", "team_id", "prompt_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id"))
    round_key: Mapped[str] = mapped_column(String(100))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    prompt_key: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    excluded_reason: Mapped[str | None] = mapped_column(Text)

    team: Mapped[Team] = relationship()


class ArenaBattle(Base):
    """A battle served to a voter.  `public_id` is random so it says nothing about
    the two models; who they are stays here until the vote."""

    __tablename__ = "arena_battles"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id"))
    round_key: Mapped[str] = mapped_column(String(100))
    voter_id: Mapped[str] = mapped_column(String(100), index=True)
    prompt_key: Mapped[str] = mapped_column(String(100))
    team_a_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    team_b_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    served_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    team_a: Mapped[Team] = relationship(foreign_keys=[team_a_id])
    team_b: Mapped[Team] = relationship(foreign_keys=[team_b_id])
    vote: Mapped[ArenaVote | None] = relationship(back_populates="battle")


class ArenaVote(Base):
    """Every vote ever cast, accepted or not; which ones count is decided by the
    vote-quality rules over all of them (`gauntlet.ratings.vote_quality`)."""

    __tablename__ = "arena_votes"

    id: Mapped[int] = mapped_column(primary_key=True)
    battle_id: Mapped[int] = mapped_column(ForeignKey("arena_battles.id"), unique=True)
    voter_id: Mapped[str] = mapped_column(String(100), index=True)
    choice: Mapped[str] = mapped_column(String(10))  # a | b | tie | both_bad
    day: Mapped[str] = mapped_column(String(10))  # UTC date, the daily cap's unit
    voted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # One-way keys of the client address and its network prefix (never the address itself).
    address_key: Mapped[str | None] = mapped_column(String(64))
    network_key: Mapped[str | None] = mapped_column(String(64))

    battle: Mapped[ArenaBattle] = relationship(back_populates="vote")


class ArenaState(Base):
    """A round's arena closed at the decision (or reopened by an organiser): the latest row wins."""

    __tablename__ = "arena_states"

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id"))
    round_key: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(10))  # open | closed
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PanelExpert(Base):
    __tablename__ = "panel_experts"
    __table_args__ = (UniqueConstraint("challenge_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id"))
    key: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    affiliations: Mapped[list] = mapped_column(JSON)
    conflicts: Mapped[list] = mapped_column(JSON)


class PanelRound(Base):
    """The rubric and reviews-per-submission a round's panel was assigned under."""

    __tablename__ = "panel_rounds"
    __table_args__ = (UniqueConstraint("challenge_id", "round_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id"))
    round_key: Mapped[str] = mapped_column(String(100))
    rubric: Mapped[dict] = mapped_column(JSON)
    reviews_per_submission: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    entries: Mapped[list[PanelEntry]] = relationship(back_populates="panel", order_by="PanelEntry.code")


class PanelEntry(Base):
    """A submission as the panel knows it: an anonymous code (the team is sealed here)."""

    __tablename__ = "panel_entries"
    __table_args__ = (UniqueConstraint("panel_id", "code"), UniqueConstraint("panel_id", "team_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    panel_id: Mapped[int] = mapped_column(ForeignKey("panel_rounds.id"))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    code: Mapped[str] = mapped_column(String(20))

    panel: Mapped[PanelRound] = relationship(back_populates="entries")
    team: Mapped[Team] = relationship()
    assignments: Mapped[list[ReviewAssignment]] = relationship(back_populates="entry")


class ReviewAssignment(Base):
    __tablename__ = "review_assignments"
    __table_args__ = (UniqueConstraint("entry_id", "expert_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("panel_entries.id"))
    expert_id: Mapped[int] = mapped_column(ForeignKey("panel_experts.id"))

    entry: Mapped[PanelEntry] = relationship(back_populates="assignments")
    expert: Mapped[PanelExpert] = relationship()
    review: Mapped[ExpertReview | None] = relationship(back_populates="assignment")
    draft: Mapped[ReviewDraft | None] = relationship(back_populates="assignment")


class ExpertReview(Base):
    """One expert's scores for one anonymous submission; submitted once, never edited."""

    __tablename__ = "expert_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("review_assignments.id"), unique=True)
    scores: Mapped[dict] = mapped_column(JSON)
    comment: Mapped[str] = mapped_column(Text)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    assignment: Mapped[ReviewAssignment] = relationship(back_populates="review")


class ReviewDraft(Base):
    """An expert's unsubmitted scores for one assignment (migration 0004_expert_drafts): saved
    as often as they like, seen by that expert only, never counted; submitting removes it."""

    __tablename__ = "review_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("review_assignments.id"), unique=True)
    scores: Mapped[dict] = mapped_column(JSON)  # only the criteria scored so far
    comment: Mapped[str] = mapped_column(Text)
    saved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    assignment: Mapped[ReviewAssignment] = relationship(back_populates="draft")


class JobRecord(Base):
    """The latest known state of one unit of work (intake, audit, evaluation...),
    so teams can see where their submission is instead of waiting in the dark."""

    __tablename__ = "jobs"
    __table_args__ = (UniqueConstraint("challenge_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id"))
    key: Mapped[str] = mapped_column(String(200))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    round_key: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(50))
    description: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20))  # queued | running | done | failed
    attempts: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    completed: Mapped[int] = mapped_column(Integer)
    total: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    retry_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    retry_requested_by: Mapped[str | None] = mapped_column(String(100))

    team: Mapped[Team | None] = relationship()


class AppealRecord(Base):
    """A team's appeal against a round's decision, and the organisers' answer (set once)."""

    __tablename__ = "appeals"

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id"))
    round_key: Mapped[str] = mapped_column(String(100))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    decision_sequence: Mapped[int] = mapped_column(Integer)
    grounds: Mapped[str] = mapped_column(Text)
    filed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    upheld: Mapped[bool | None] = mapped_column(Boolean)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    team: Mapped[Team] = relationship()
