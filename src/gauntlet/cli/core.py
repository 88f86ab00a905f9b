"""Top-level commands: demo, serve, intake."""

from __future__ import annotations

from pathlib import Path
from typing import List

import typer

from gauntlet.cli import app

DB_HELP = "SQLAlchemy database URL (default: $GAUNTLET_DB, else a SQLite file in the working folder)."


@app.command()
def demo(
    workdir: Path = typer.Option(Path("gauntlet-demo"), help="Folder for models, store, report and record."),
    scale: float = typer.Option(1.0, min=0.05, max=4.0, help="Size of models and data; 1.0 is the full demo."),
    seed: int = typer.Option(2026, help="Seed for every generated world, model and simulated voter."),
) -> None:
    """Play a whole first round of a challenge modelled on Korea's 2026 programme.

    Builds a foreign reference model and five team models (four trained from
    scratch, one fine-tuned from the reference), then runs intake, the
    independence audit, lm-eval benchmarks, a simulated arena and expert panel,
    decides the round and writes an HTML report.
    """
    from gauntlet.demo import run_demo

    run_demo(workdir, scale=scale, seed=seed)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="TCP port."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    workspace: Path | None = typer.Option(None, "--workspace", help="The challenge's workspace (as "
                                             "`gauntlet challenge --store`): the organisers' console runs stages "
                                             "and builds report folders there; its SQLite store is the default --db."),
    workers: int = typer.Option(1, "--workers", min=1, help="Server processes. Every bit of the app's state "
                                "lives in the store, so several processes (or machines) can serve one "
                                "PostgreSQL store (SQLite: one)."),
    secure_cookies: bool = typer.Option(False, "--secure-cookies", help="Mark every cookie Secure: for a "
                                        "reverse proxy that ends HTTPS and does not forward the scheme."),
    submission_root: List[str] = typer.Option([], "--submission-root", help="A folder or storage URL prefix "
                                              "(s3://bucket/{team}) the server may read a team's model from; "
                                              "{team} becomes the team's id. Repeatable; none: uploads only."),
) -> None:
    """Serve the web app: public leaderboard (/), team and round pages, the blind arena (/arena),
    sign-in pages for teams, experts and organisers (/login), /healthz and the API (/openapi.json).
    With --workspace, organisers run stages, decide and publish from /organiser as the CLI does."""
    import os

    import uvicorn

    from gauntlet.errors import InputError
    from gauntlet.rounds.workspace import Workspace
    from gauntlet.store.db import ENV_VAR, default_url
    from gauntlet.store.repository import Store
    from gauntlet.web.app import ROOTS_VAR, WORKSPACE_VAR, create_app

    if workspace is not None and not workspace.is_dir():
        raise InputError(f"--workspace {workspace}: no such folder")
    url = db or (Workspace(workspace).db_url() if workspace is not None else default_url())
    if workers > 1 and url.startswith("sqlite"):
        raise InputError("--workers above 1 needs a database server (PostgreSQL): SQLite takes one writer at a "
                         "time, so several processes would fail each other's votes with 'database is locked'")
    if workers == 1:
        uvicorn.run(create_app(url, secure_cookies=secure_cookies or None, workspace=workspace,
                               submission_roots=submission_root), host=host, port=port,
                    log_level="info")
        return
    Store(url)  # migrate once here, before the workers open the store side by side
    os.environ[ENV_VAR] = url
    if workspace is not None:
        os.environ[WORKSPACE_VAR] = str(workspace.resolve())
    if secure_cookies:
        os.environ["GAUNTLET_SECURE_COOKIES"] = "1"
    os.environ[ROOTS_VAR] = "\n".join(submission_root)
    uvicorn.run("gauntlet.web.app:app_from_environment", factory=True, workers=workers, host=host, port=port,
                log_level="info")


@app.command()
def intake(
    model: Path = typer.Argument(..., help="Model folder: config.json + *.safetensors (+ tokenizer.json)."),
    store: Path = typer.Option(Path("gauntlet-store"), help="Content store folder."),
    json_out: bool = typer.Option(False, "--json", help="Print the manifest as JSON."),
) -> None:
    """Validate a model folder and store it immutably under its content hash.

    Refuses pickle-based weights, symlinks leaving the folder and invalid
    safetensors headers before anything is copied.
    """
    import json

    from gauntlet.artifacts.content_store import ContentStore
    from gauntlet.artifacts.intake import intake as run_intake

    stored = run_intake(model, ContentStore(store))
    if json_out:
        files = [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in stored.manifest.files]
        typer.echo(json.dumps({"id": stored.id, "path": str(stored.path), "files": files}, indent=2))
    else:
        typer.echo(f"stored {model} as {stored.id} ({stored.manifest.total_bytes:,} bytes, "
                   f"{len(stored.manifest.files)} files) at {stored.path}")
