"""The web application: the public record and arena for everyone, and pages for
teams, experts and organisers behind role tokens.

`create_app(url, workspace=DIR)` opens (and migrates) the store once; the
workspace (`gauntlet.rounds.workspace`) is where the organisers' console runs
stages and builds report folders, as `gauntlet challenge ...` does.  Routes live in
`public`, `arena`, `accounts`, `teams`, `experts`, `organisers` and
`organiser_rounds`; this
module wires them, the visitor cookie, and the error pages: every error a user
can cause is answered with its one-line message (JSON under /api, a page
elsewhere) and the right status, never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Sequence

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from markupsafe import escape
from starlette.exceptions import HTTPException as StarletteHTTPException

from gauntlet import __version__
from gauntlet.errors import GauntletError, StorageUnavailable, StoreError
from gauntlet.i18n import _, using
from gauntlet.rounds.arena_desk import ArenaDesk, DailyCapReached
from gauntlet.rounds.challenge_list import Challenges
from gauntlet.rounds.stage_runs import StageBusy, StageRunner
from gauntlet.rounds.workspace import Workspace
from gauntlet.store.access import AccessDenied
from gauntlet.store.repository import Store
from gauntlet.web import (
    accounts,
    api,
    api_docs,
    arena,
    experts,
    organiser_rounds,
    organisers,
    public,
    submissions,
    teams,
)
from gauntlet.web.common import make_templates, utc_now
from gauntlet.web.hardening import BodyTooLarge, Hardening, security_headers
from gauntlet.web.language import Language, SpecLanguages
from gauntlet.web.security import NotSignedIn, Signer, VisitorCookie

log = logging.getLogger("gauntlet.web")


def _status(exc: Exception) -> int:
    if isinstance(exc, NotSignedIn):
        return 401
    if isinstance(exc, AccessDenied):
        return 403
    if isinstance(exc, StageBusy):
        return 409
    if isinstance(exc, DailyCapReached):
        return 429
    if isinstance(exc, BodyTooLarge):
        return 413
    if isinstance(exc, StorageUnavailable):
        return 503
    if isinstance(exc, StoreError):
        return 404
    return 400


_ERROR_SCHEMA = {"type": "object", "properties": {"error": {"type": "string", "description": "What was refused, in one line."}},
                 "required": ["error"]}
# What any API route may answer besides its own result: the one-line refusals of `_status` and the middlewares.
ERROR_RESPONSES = {code: {"description": why, "content": {"application/json": {"schema": _ERROR_SCHEMA}}} for code, why in (
    (400, "The request is invalid (the reason says which part)"), (401, "A role token is needed, or it is unknown"),
    (403, "The role may not do this, or the CSRF token is missing"), (404, "Nothing is at this address for you"),
    (409, "The request conflicts with the state (an upload's offset, a concurrent writer)"),
    (413, "The body is larger than this route takes"), (414, "The address is too long"),
    (429, "Too many requests (the arena's daily cap)"), (503, "The store cannot be written now"))}


def _wants_json(request: Request) -> bool:
    if request.url.path.startswith("/api/") or request.headers.get("authorization", "").lower().startswith("bearer "):
        return True  # machines: the API, and scripts holding a bearer token
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def create_app(url: str, *, clock: Callable[[], datetime] | None = None, arena_seed: int | None = None,
               daily_cap: int | None = None, sampling: str = "active",
               secure_cookies: bool | None = None, workspace: str | Path | None = None,
               stage_workers: int | None = None, submission_roots: Sequence[str] = ()) -> FastAPI:
    """The app over the store at `url`.  `clock` (UTC-aware `datetime` factory), `arena_seed`
    (battle draws), `daily_cap` (votes per voter per day; default: the spec's, else 50) and
    `sampling` ("active" or "uniform" pair sampling) are for tests and organisers.
    `secure_cookies=True` marks every cookie `Secure` (behind a reverse proxy that ends TLS
    and does not forward the scheme); by default cookies are `Secure` on HTTPS requests.
    `workspace` is the challenge's folder (models, evidence, caches, reports); without it the
    console refuses to run stages or publish.  `stage_workers` is the stages' job processes
    (`gauntlet.rounds.stage_jobs.make_executor`: default one per two cores, 0 in the server).
    Teams submit into the workspace's content store; `submission_roots` are the folders and URL
    prefixes the server may read a team's model from (`gauntlet.artifacts.locations`)."""
    from gauntlet.rounds.stage_jobs import make_executor

    store = Store(url)
    app = FastAPI(title="Gauntlet", version=__version__, docs_url=None, redoc_url=None, responses=ERROR_RESPONSES,
                  description="Public record of a sovereign-AI foundation-model challenge: leaderboard, decisions "
                              "with their inputs, a blind arena, and pages for teams, experts and organisers.")
    app.state.store = store
    app.state.templates = make_templates()
    app.state.signer = Signer(store.web_secret())
    app.state.clock = clock or utc_now
    app.state.secure_cookies = secure_cookies
    app.state.workspace = Workspace(Path(workspace)) if workspace is not None else None
    app.state.stages = StageRunner(lambda: make_executor(stage_workers))
    app.state.submission_roots = tuple(submission_roots)
    app.state.challenges = Challenges(store)
    app.state.spec_components = {}  # slug -> the components its spec weighs (`common.spec_components`)
    # Added before the visitor middleware, so it sits inside it: its body limit then raises
    # where the routes' exception handlers see it (not inside that middleware's task group).
    app.add_middleware(Hardening)
    app.state.arena = ArenaDesk(store, seed=arena_seed, daily_cap=daily_cap, sampling=sampling,
                                challenges=app.state.challenges)

    app.add_middleware(VisitorCookie)
    app.state.spec_languages = SpecLanguages(store)
    app.add_middleware(Language)  # outermost: even the error pages of the layers inside speak it

    def error_response(request: Request, status: int, message: str) -> Response:
        if _wants_json(request):
            return JSONResponse({"error": message}, status_code=status)
        from gauntlet.web.common import render

        try:
            return render(request, "error.html", {"status": status, "message": message}, status)
        except Exception:  # the error page itself must never fail into a traceback
            return HTMLResponse(f"<h1>{status}</h1><p>{escape(message)}</p>", status_code=status)

    @app.exception_handler(GauntletError)
    def gauntlet_error(request: Request, exc: GauntletError) -> Response:
        return error_response(request, _status(exc), str(exc))

    @app.exception_handler(RequestValidationError)
    def bad_request(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body"))
        # Pydantic's own message stays English (it names the rule broken); where is ours.
        where = where or _("request")
        why = first.get("msg") or _("invalid input")
        return error_response(request, 400, f"{where}: {why}")

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else _("request refused")
        if exc.status_code == 404 and message == "Not Found":
            message = _("no page at %(path)s", path=request.url.path)
        elif exc.status_code == 405 and message == "Method Not Allowed":
            message = _("this address does not take a %(method)s request", method=request.method)
        return error_response(request, exc.status_code, message)

    @app.exception_handler(Exception)
    def bug(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s", request.url.path)
        with using(getattr(request.state, "language", None)):  # answered outside the language middleware
            message = _("internal error; the organisers have the details in the server log")
        response = error_response(request, 500, message)
        # Answered outside the middlewares (by the server-error layer), so the headers go on here.
        response.headers.update(security_headers(request.url.scheme, request.url.path))
        return response

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok", "version": __version__, "challenges": len(store.challenges())}

    app.include_router(arena.hot_router)
    for module in (public, arena, accounts, teams, submissions, experts, organisers, organiser_rounds, api, api_docs):
        app.include_router(module.router)
    app.openapi = _without_422(app.openapi)
    api_docs.mount_assets(app)
    return app


def _without_422(openapi: Callable[[], dict]) -> Callable[[], dict]:
    """The document FastAPI writes, less the 422 it lists everywhere: invalid input is a 400
    here (`bad_request`), which `ERROR_RESPONSES` documents."""

    def document() -> dict:
        doc = openapi()  # built once and cached by FastAPI; removing twice is harmless
        for operations in doc.get("paths", {}).values():
            for operation in operations.values():
                operation.get("responses", {}).pop("422", None)
        for name in ("HTTPValidationError", "ValidationError"):
            doc.get("components", {}).get("schemas", {}).pop(name, None)
        return doc

    return document


def app_from_environment() -> FastAPI:
    """The app over the store named by GAUNTLET_DB and the workspace named by GAUNTLET_WORKSPACE:
    what each of `gauntlet serve --workers N`'s processes runs (uvicorn starts them from this
    import path)."""
    import os

    from gauntlet.store.db import default_url

    roots = [r for r in os.environ.get(ROOTS_VAR, "").split("\n") if r]
    return create_app(default_url(), secure_cookies=os.environ.get("GAUNTLET_SECURE_COOKIES") == "1" or None,
                      workspace=os.environ.get(WORKSPACE_VAR) or None, submission_roots=roots)


WORKSPACE_VAR = "GAUNTLET_WORKSPACE"
ROOTS_VAR = "GAUNTLET_SUBMISSION_ROOTS"
