"""Who is asking, and may they: signed cookies, role tokens, CSRF.

- Every browser gets a signed `gauntlet_visitor` cookie: a random id that is
  the public arena's voter id (no login needed) and the anchor of its CSRF
  tokens.
- Organisers, teams and experts present a role token (`Store.create_token`)
  either as `Authorization: Bearer <token>` or once through the login form,
  which opens a session on the server and sets a signed `gauntlet_session`
  cookie holding its secret. Signing out ends that session on the server (a
  copied cookie stops working too), and revoking the token ends all of its
  sessions. Signing in and out gives the browser a new visitor id, so a
  visitor cookie planted before sign-in cannot predict the CSRF token after.
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

from fastapi import Request
from fastapi.responses import Response

from gauntlet.errors import GauntletError
from gauntlet.i18n import ROLES, _, label
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
        return value if _same(mac, self._mac(purpose, value)) else None

    def csrf_token(self, visitor: str) -> str:
        return self._mac("csrf", visitor)

    def csrf_ok(self, visitor: str, token: str | None) -> bool:
        return bool(token) and _same(token, self.csrf_token(visitor))


def _same(given: str, expected: str) -> bool:
    """Constant-time comparison of what a client sent with what we computed, as bytes:
    `hmac.compare_digest` refuses a str with non-ASCII characters (a TypeError, a 500)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode())


def cookie_secure(request: Request) -> bool:
    """`Secure` on every cookie over HTTPS, and always when the app is told it sits
    behind a proxy that ends TLS (`gauntlet serve --secure-cookies`)."""
    return bool(getattr(request.app.state, "secure_cookies", None)) or request.url.scheme == "https"


def new_visitor_id() -> str:
    return "v-" + secrets.token_urlsafe(16)


def session_value(signer: Signer, secret: str) -> str:
    return signer.sign("session", secret)


def session_secret(signer: Signer, cookie: str | None) -> str | None:
    return signer.unsign("session", cookie)


class VisitorCookie:
    """Every request knows its visitor (`request.state.visitor`, the anchor of CSRF tokens
    and of an anonymous voter's limits); a new or rotated one is set as a cookie on the
    response.  Plain ASGI rather than `@app.middleware("http")`: that wrapper runs each
    request through an extra task and stream, which on the arena's vote path cost more
    than the vote itself."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        signer: Signer = scope["app"].state.signer
        visitor = signer.unsign("visitor", request.cookies.get(VISITOR_COOKIE))
        request.state.new_visitor = visitor is None
        request.state.visitor = visitor or new_visitor_id()

        async def send_with_cookie(message) -> None:
            if message["type"] == "http.response.start" and request.state.new_visitor:
                carrier = Response()  # Starlette's own cookie formatting
                carrier.set_cookie(VISITOR_COOKIE, signer.sign("visitor", request.state.visitor),
                                   max_age=VISITOR_MAX_AGE, httponly=True, samesite="lax",
                                   secure=cookie_secure(request))
                message = {**message, "headers": [*message.get("headers", []), *carrier.raw_headers[-1:]]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def rotate_visitor(request: Request) -> None:
    """A fresh visitor id for this browser from this response on (the middleware sets it)."""
    request.state.visitor = new_visitor_id()
    request.state.new_visitor = True


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
            raise NotSignedIn(_("the bearer token is unknown or revoked"))
        return {**identity, "via": "bearer"}
    secret = session_secret(request.app.state.signer, request.cookies.get(SESSION_COOKIE))
    if secret is None:
        return None
    identity = store.session_identity(secret, SESSION_MAX_AGE, at=request.app.state.clock())
    return None if identity is None else {**identity, "via": "cookie"}


def require_role(request: Request, role: str) -> dict:
    identity = identify(request)
    if identity is None:
        raise NotSignedIn(_("sign in with a %(role)s token to see this page", role=label(role, ROLES)))
    if identity["role"] != role:
        raise AccessDenied(_("this page is for the role %(role)s; you are signed in as %(yours)s",
                             role=label(role, ROLES), yours=label(identity["role"], ROLES)))
    return identity


def check_csrf(request: Request, fields: dict[str, str], identity: dict | None = None) -> None:
    """Refuse a cookie-borne POST whose CSRF token does not match its visitor cookie."""
    if identity is not None and identity.get("via") == "bearer":
        return
    visitor = request.state.visitor
    token = fields.get("csrf") or request.headers.get("x-csrf-token")
    if request.state.new_visitor or not request.app.state.signer.csrf_ok(visitor, token):
        raise CsrfRejected(_("the form's CSRF token is missing or wrong; reload the page and try again"))
