"""Who may act: role tokens (organiser, team, expert) and the web app's signing key.

A token is shown once, when created; the store keeps only its SHA-256.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gauntlet.errors import GauntletError, InputError, StoreError
from gauntlet.store.models import Challenge, Team
from gauntlet.store.models_activity import AccessToken, AppSetting, PanelExpert, WebSession

ROLES = ("organiser", "team", "expert", "voter")  # voter: the arena's signed-in voters
TOKEN_PREFIX = "gt_"


class AccessDenied(GauntletError):
    """The caller is known but may not see or change this (HTTP 403)."""


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _identity(row: AccessToken, slug: str) -> dict:
    return {"id": row.id, "challenge": slug, "role": row.role, "subject": row.subject, "label": row.label}


class AccessVerbs:
    """Mixed into `Store`."""

    def create_token(self, slug: str, role: str, subject: str | None = None, label: str = "", *,
                     at: datetime) -> str:
        """A new bearer token for `role` (team: `subject` is the team key; expert: the expert key;
        voter: the voter's registration id, for an arena with `voters = "signed_in"`;
        organiser: no subject).  Returns the token; only its hash is stored."""
        if role not in ROLES:
            raise InputError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        if (role == "organiser") != (subject is None):
            raise InputError("an organiser token has no subject; team and expert tokens name theirs")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.sessions.begin() as session:
            challenge = self._challenge(session, slug)
            if role == "team":
                self._team(session, slug, subject)
            elif role == "expert" and session.scalar(select(PanelExpert).where(
                    PanelExpert.challenge_id == challenge.id, PanelExpert.key == subject)) is None:
                raise StoreError(f"no expert {subject!r} in challenge {slug!r}")
            session.add(AccessToken(challenge_id=challenge.id, role=role, subject=subject,
                                    label=label or f"{role} {subject or ''}".strip(),
                                    token_sha256=token_digest(token), created_at=at))
        return token

    def identify_token(self, token: str) -> dict | None:
        """`{"id", "challenge", "role", "subject", "label"}` for a live token, else None."""
        if not token or not token.startswith(TOKEN_PREFIX):
            return None
        with self.sessions() as session:
            row = session.scalar(select(AccessToken).where(AccessToken.token_sha256 == token_digest(token)))
            if row is None or row.revoked_at is not None:
                return None
            return _identity(row, session.get(Challenge, row.challenge_id).slug)

    def token_identity(self, token_id: int) -> dict | None:
        """The identity behind a signed session cookie; None once the token is revoked."""
        with self.sessions() as session:
            row = session.get(AccessToken, token_id)
            if row is None or row.revoked_at is not None:
                return None
            return _identity(row, session.get(Challenge, row.challenge_id).slug)

    # -- sign-in sessions ------------------------------------------------------------
    def open_session(self, token_id: int, *, at: datetime) -> str:
        """A new session for a live token; returns its secret (only the hash is kept)."""
        secret = secrets.token_urlsafe(32)
        with self.sessions.begin() as session:
            session.add(WebSession(secret_sha256=token_digest(secret), token_id=token_id, created_at=at))
        return secret

    def session_identity(self, secret: str, max_age_s: int, *, at: datetime) -> dict | None:
        """The identity of a live session: not ended, younger than `max_age_s`, its token not revoked."""
        with self.sessions() as session:
            row = session.scalar(select(WebSession).where(WebSession.secret_sha256 == token_digest(secret)))
            if row is None or row.ended_at is not None:
                return None
            created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=timezone.utc)
            if (at - created).total_seconds() > max_age_s:
                return None
        return self.token_identity(row.token_id)

    def end_session(self, secret: str, *, at: datetime) -> None:
        with self.sessions.begin() as session:
            row = session.scalar(select(WebSession).where(WebSession.secret_sha256 == token_digest(secret)))
            if row is not None and row.ended_at is None:
                row.ended_at = at

    def revoke_token(self, token_id: int, *, at: datetime) -> None:
        with self.sessions.begin() as session:
            row = session.get(AccessToken, token_id)
            if row is None:
                raise StoreError(f"no token #{token_id}")
            if row.revoked_at is None:
                row.revoked_at = at
            for live in session.scalars(select(WebSession).where(WebSession.token_id == token_id,
                                                                 WebSession.ended_at.is_(None))):
                live.ended_at = row.revoked_at

    def tokens(self, slug: str) -> list[dict]:
        with self.sessions() as session:
            challenge = self._challenge(session, slug)
            rows = session.scalars(select(AccessToken).where(AccessToken.challenge_id == challenge.id)
                                   .order_by(AccessToken.id))
            return [{**_identity(r, slug), "created_at": r.created_at.isoformat(),
                     "revoked": r.revoked_at is not None} for r in rows]

    def web_secret(self) -> bytes:
        """The key that signs web cookies: made once per store, so every server process
        (and every restart) accepts the same cookies."""
        with self.sessions() as session:
            row = session.get(AppSetting, "web_secret")
            if row is not None:
                return bytes.fromhex(row.value)
        try:
            with self.sessions.begin() as session:
                session.add(AppSetting(key="web_secret", value=secrets.token_hex(32)))
        except IntegrityError:
            pass  # another process made it first; use theirs
        with self.sessions() as session:
            return bytes.fromhex(session.get(AppSetting, "web_secret").value)

    def spec_text(self, slug: str) -> str:
        """The challenge's spec as registered (TOML text)."""
        with self.sessions() as session:
            return self._challenge(session, slug).spec_toml

    def team_names(self, slug: str) -> dict[str, dict]:
        with self.sessions() as session:
            challenge = self._challenge(session, slug)
            return {t.key: {"name": t.name, "organisation": t.organisation, "country": t.country}
                    for t in session.scalars(select(Team).where(Team.challenge_id == challenge.id).order_by(Team.key))}
