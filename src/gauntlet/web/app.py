"""The web application: the public record and arena for everyone, and pages for
teams, experts and organisers behind role tokens.

`create_app(url)` opens (and migrates) the store once.  Routes live in
`public`, `arena`, `accounts`, `teams`, `experts` and `organisers`; this
module wires them, the visitor cookie, and the error pages: every error a user
can cause is answered with its one-line message (JSON under /api, a page
elsewhere) and the right status, never a traceback.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from gauntlet import __version__
from gauntlet.errors import GauntletError, StorageUnavailable, StoreError
from gauntlet.store.access import AccessDenied
from gauntlet.store.repository import Store
from gauntlet.web import accounts, api_docs, arena, experts, organisers, public, teams
from gauntlet.rounds.arena_desk import ArenaDesk, DailyCapReached
from gauntlet.web.common import make_templates, utc_now
from gauntlet.web.hardening import BodyTooLarge, Hardening, security_headers
from gauntlet.web.security import NotSignedIn, Signer, VisitorCookie

log = logging.getLogger("gauntlet.web")


def _status(exc: Exception) -> int:
    if isinstance(exc, NotSignedIn):
        return 401
    if isinstance(exc, AccessDenied):
        return 403
    if isinstance(exc, DailyCapReached):
        return 429
    if isinstance(exc, BodyTooLarge):
        return 413
    if isinstance(exc, StorageUnavailable):
        return 503
    if isinstance(exc, StoreError):
        return 404
    return 400


def _wants_json(request: Request) -> bool:
    if request.url.path.startswith("/api/") or request.headers.get("authorization", "").lower().startswith("bearer "):
        return True  # machines: the API, and scripts holding a bearer token
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def create_app(url: str, *, clock: Callable[[], datetime] | None = None, arena_seed: int | None = None,
               daily_cap: int | None = None, sampling: str = "active",
               secure_cookies: bool | None = None) -> FastAPI:
    """The app over the store at `url`.  `clock` (UTC-aware `datetime` factory), `arena_seed`
    (battle draws), `daily_cap` (votes per voter per day; default: the spec's, else 50) and
    `sampling` ("active" or "uniform" pair sampling) are for tests and organisers.
    `secure_cookies=True` marks every cookie `Secure` (behind a reverse proxy that ends TLS
    and does not forward the scheme); by default cookies are `Secure` on HTTPS requests."""
    store = Store(url)
    app = FastAPI(title="Gauntlet", version=__version__, docs_url=None, redoc_url=None,
                  description="Public record of a sovereign-AI foundation-model challenge: leaderboard, decisions "
                              "with their inputs, a blind arena, and pages for teams, experts and organisers.")
    app.state.store = store
    app.state.templates = make_templates()
    app.state.signer = Signer(store.web_secret())
    app.state.clock = clock or utc_now
    app.state.secure_cookies = secure_cookies
    # Added before the visitor middleware, so it sits inside it: its body limit then raises
    # where the routes' exception handlers see it (not inside that middleware's task group).
    app.add_middleware(Hardening)
    app.state.arena = ArenaDesk(store, seed=arena_seed, daily_cap=daily_cap, sampling=sampling)

    app.add_middleware(VisitorCookie)

    def error_response(request: Request, status: int, message: str) -> Response:
        if _wants_json(request):
            return JSONResponse({"error": message}, status_code=status)
        from gauntlet.web.common import render

        try:
            return render(request, "error.html", {"status": status, "message": message}, status)
        except Exception:  # the error page itself must never fail into a traceback
            return HTMLResponse(f"<h1>{status}</h1><p>{message}</p>", status_code=status)

    @app.exception_handler(GauntletError)
    def gauntlet_error(request: Request, exc: GauntletError) -> Response:
        return error_response(request, _status(exc), str(exc))

    @app.exception_handler(RequestValidationError)
    def bad_request(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body"))
        return error_response(request, 400, f"{where or 'request'}: {first.get('msg', 'invalid input')}")

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        if exc.status_code == 404 and message == "Not Found":
            message = f"no page at {request.url.path}"
        return error_response(request, exc.status_code, message)

    @app.exception_handler(Exception)
    def bug(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s", request.url.path)
        response = error_response(request, 500, "internal error; the organisers have the details in the server log")
        # Answered outside the middlewares (by the server-error layer), so the headers go on here.
        response.headers.update(security_headers(request.url.scheme, request.url.path))
        return response

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok", "version": __version__, "challenges": len(store.challenges())}

    app.include_router(arena.hot_router)
    for module in (public, arena, accounts, teams, experts, organisers, api_docs):
        app.include_router(module.router)
    api_docs.mount_assets(app)
    return app


def app_from_environment() -> FastAPI:
    """The app over the store named by GAUNTLET_DB: what each of `gauntlet serve --workers N`'s
    processes runs (uvicorn starts them from this import path)."""
    import os

    from gauntlet.store.db import default_url

    return create_app(default_url(), secure_cookies=os.environ.get("GAUNTLET_SECURE_COOKIES") == "1" or None)
