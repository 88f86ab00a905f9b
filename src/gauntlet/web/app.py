"""The public web application: leaderboard for everyone, JSON for machines.

`create_app(url)` opens (and migrates) the store once; pages only read it.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates

from gauntlet import __version__
from gauntlet.errors import GauntletError, StoreError
from gauntlet.store.repository import Store

TEMPLATES = Path(__file__).parent / "templates"
COMPONENTS = ("benchmark", "expert", "user")


def create_app(url: str) -> FastAPI:
    store = Store(url)
    templates = Jinja2Templates(directory=str(TEMPLATES))
    app = FastAPI(title="Gauntlet", version=__version__,
                  description="Public record of a sovereign-AI foundation-model challenge.")

    @app.exception_handler(GauntletError)
    def gauntlet_error(_request: Request, exc: GauntletError) -> JSONResponse:
        status = 404 if isinstance(exc, StoreError) else 400
        return JSONResponse({"error": str(exc)}, status_code=status)

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok", "version": __version__, "challenges": len(store.challenges())}

    @app.get("/api/leaderboard")
    def api_leaderboard(challenge: str | None = None) -> JSONResponse:
        return JSONResponse(store.leaderboard(challenge))

    @app.get("/", response_class=HTMLResponse)
    def leaderboard(request: Request, challenge: str | None = None) -> HTMLResponse:
        board = store.leaderboard(challenge)
        return templates.TemplateResponse(
            request, "leaderboard.html", {"board": board, "component_names": COMPONENTS}
        )

    return app
