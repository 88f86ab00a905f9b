"""Who is asking, and may they: signed cookies, role tokens, CSRF.

- Every browser gets a signed `gauntlet_visitor` cookie: a random id that is
  the public arena's voter id (no login needed) and the anchor of its CSRF
  tokens.
- Organisers, teams and experts present a role token (`Store.create_token`)
  either as `Authorization: Bearer <token>` or once through the login form,
  which sets a signed `gauntlet_session` cookie naming the token (revoking the
  token ends the session).
- Every state-changing request is a POST.  A POST that relies on cookies
  must carry the CSRF token of its visitor (hidden `csrf` form field or
  `X-CSRF-Token` header); a bearer-token POST needs none, since browsers never
  attach bearer tokens by themselves.

Signing is HMAC-SHA256 from the standard library with a key kept in the store
(`Store.web_secret`), so cookies survive restarts and work across processes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

from fastapi import Request

from gauntlet.errors import GauntletError
from gauntlet.store.access import AccessDenied

VISITOR_COOKIE = "gauntlet_visitor"
SESSION_COOKIE = "gauntlet_session"
SESSION_MAX_AGE = 12 * 3600
VISITOR_MAX_AGE = 365 * 24 * 3600


class NotSignedIn(GauntletError):
    """The page needs a role token (HTTP 401)."""


class CsrfRejected(AccessDenied):
    """A cookie-authenticated POST without its visitor's CSRF token (HTTP 403)."""


class Signer:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, purpose: str, value: str) -> str:
        digest = hmac.new(self._secret, f"{purpose}|{value}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def sign(self, purpose: str, value: str) -> str:
        return f"{value}.{self._mac(purpose, value)}"

    def unsign(self, purpose: str, signed: str | None) -> str | None:
        if not signed or "." not in signed:
            return None
        value, mac = signed.rsplit(".", 1)
        return value if hmac.compare_digest(mac, self._mac(purpose, value)) else None

    def csrf_token(self, visitor: str) -> str:
        return self._mac("csrf", visitor)

    def csrf_ok(self, visitor: str, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(token, self.csrf_token(visitor))


def new_visitor_id() -> str:
    return "v-" + secrets.token_urlsafe(16)


def session_value(signer: Signer, token_id: int) -> str:
    return signer.sign("session", f"{token_id}:{int(time.time())}")


def session_token_id(signer: Signer, cookie: str | None) -> int | None:
    value = signer.unsign("session", cookie)
    if value is None:
        return None
    token_id, _, issued = value.partition(":")
    try:
        if time.time() - int(issued) > SESSION_MAX_AGE:
            return None
        return int(token_id)
    except ValueError:
        return None


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def identify(request: Request) -> dict | None:
    """The role identity of the request (bearer first, then the session cookie), or None."""
    store = request.app.state.store
    token = bearer_token(request)
    if token is not None:
        identity = store.identify_token(token)
        if identity is None:
            raise NotSignedIn("the bearer token is unknown or revoked")
        return {**identity, "via": "bearer"}
    token_id = session_token_id(request.app.state.signer, request.cookies.get(SESSION_COOKIE))
    if token_id is None:
        return None
    identity = store.token_identity(token_id)
    return None if identity is None else {**identity, "via": "cookie"}


def require_role(request: Request, role: str) -> dict:
    identity = identify(request)
    if identity is None:
        raise NotSignedIn(f"sign in with a {role} token to see this page")
    if identity["role"] != role:
        raise AccessDenied(f"this page is for {role}s; you are signed in as {identity['role']}")
    return identity


def check_csrf(request: Request, fields: dict[str, str], identity: dict | None = None) -> None:
    """Refuse a cookie-borne POST whose CSRF token does not match its visitor cookie."""
    if identity is not None and identity.get("via") == "bearer":
        return
    visitor = request.state.visitor
    token = fields.get("csrf") or request.headers.get("x-csrf-token")
    if request.state.new_visitor or not request.app.state.signer.csrf_ok(visitor, token):
        raise CsrfRejected("the form's CSRF token is missing or wrong; reload the page and try again")
