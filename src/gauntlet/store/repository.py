"""The store's verbs: what the rounds and the web app read and write.

The events of a challenge (submissions, locks, decisions, publications,
appeals) are written by `gauntlet.rounds.service` together with their ledger
record; the verbs here read them back, and record job results (components,
audit findings), which are never updated in place.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gauntlet.errors import StoreError
from gauntlet.store.access import AccessVerbs
from gauntlet.store.arena_records import ArenaVerbs
from gauntlet.store.db import open_database
from gauntlet.store.models import AuditFinding, Challenge, ComponentResult, Decision, Submission, Team
from gauntlet.store.own_work_records import OwnWorkVerbs
from gauntlet.store.panel_records import PanelVerbs
from gauntlet.store.records import RecordVerbs
from gauntlet.store.round_records import RoundVerbs
from gauntlet.store.team_records import TeamVerbs, board_document


class Store(AccessVerbs, ArenaVerbs, OwnWorkVerbs, PanelVerbs, RecordVerbs, RoundVerbs, TeamVerbs):
    """Every verb of the store; the arena, own-work, panel, team and access verbs live in their own modules."""

    def __init__(self, url: str):
        self.url = url
        self.sessions: sessionmaker[Session] = open_database(url)

    # -- challenge and teams -------------------------------------------------
    def _challenge(self, session: Session, slug: str) -> Challenge:
        challenge = session.scalar(select(Challenge).where(Challenge.slug == slug))
        if challenge is None:
            raise StoreError(f"no challenge {slug!r} in the store")
        return challenge

    def _team(self, session: Session, slug: str, key: str) -> Team:
        challenge = self._challenge(session, slug)
        team = session.scalar(select(Team).where(Team.challenge_id == challenge.id, Team.key == key))
        if team is None:
            raise StoreError(f"no team {key!r} in challenge {slug!r}")
        return team

    def register_challenge(self, slug: str, name: str, spec_toml: str, *, at: datetime) -> None:
        """Create the challenge (at the caller's time), or check that the stored spec is the same
        one.  A real challenge is registered with its spec on the record by
        `gauntlet.rounds.service.register`; this verb serves stores of other tools and tests."""
        digest = hashlib.sha256(spec_toml.encode()).hexdigest()
        with self.sessions.begin() as session:
            existing = session.scalar(select(Challenge).where(Challenge.slug == slug))
            if existing is None:
                session.add(Challenge(slug=slug, name=name, spec_sha256=digest, spec_toml=spec_toml, created_at=at))
            elif existing.spec_sha256 != digest:
                raise StoreError(f"challenge {slug!r} is already stored with a different spec")

    def register_team(self, slug: str, key: str, name: str, organisation: str, country: str) -> None:
        with self.sessions.begin() as session:
            challenge = self._challenge(session, slug)
            exists = session.scalar(select(Team).where(Team.challenge_id == challenge.id, Team.key == key))
            if exists is None:
                session.add(Team(challenge_id=challenge.id, key=key, name=name, organisation=organisation, country=country))

    # -- submissions (written with their event by gauntlet.rounds.service.submit) ----------
    def submission_id(self, slug: str, team_key: str, round_key: str) -> int:
        with self.sessions() as session:
            team = self._team(session, slug, team_key)
            sub = session.scalar(select(Submission).where(Submission.team_id == team.id, Submission.round_key == round_key))
            if sub is None:
                raise StoreError(f"team {team_key!r} has no submission for round {round_key!r}")
            return sub.id

    # -- results -------------------------------------------------------------
    def record_component(self, submission_id: int, component: str, value: float, lower: float, upper: float,
                         detail: dict | None = None) -> None:
        with self.sessions.begin() as session:
            exists = session.scalar(select(ComponentResult).where(
                ComponentResult.submission_id == submission_id, ComponentResult.component == component))
            if exists is not None:
                raise StoreError(f"component {component!r} is already recorded for submission {submission_id}")
            session.add(ComponentResult(submission_id=submission_id, component=component, value=value,
                                        lower=lower, upper=upper, detail=detail or {}))

    def record_audit(self, submission_id: int, reference: str, verdict: str, p_value: float, report: dict) -> None:
        with self.sessions.begin() as session:
            session.add(AuditFinding(submission_id=submission_id, reference=reference, verdict=verdict,
                                     p_value=p_value, report=report))

    # -- reading -------------------------------------------------------------
    def challenges(self) -> list[dict]:
        with self.sessions() as session:
            return [{"slug": c.slug, "name": c.name, "spec_sha256": c.spec_sha256}
                    for c in session.scalars(select(Challenge).order_by(Challenge.id))]

    def leaderboard(self, slug: str | None = None) -> dict | None:
        """The latest published decision of a challenge (the first one if none named), joined
        with team details."""
        with self.sessions() as session:
            if slug is None:
                challenge = session.scalar(select(Challenge).order_by(Challenge.id).limit(1))
                if challenge is None:
                    return None
            else:
                challenge = self._challenge(session, slug)
            decision = session.scalar(select(Decision).where(Decision.challenge_id == challenge.id,
                                                             Decision.published_at.is_not(None))
                                      .order_by(Decision.sequence.desc()).limit(1))
            return board_document(session, challenge, decision)
