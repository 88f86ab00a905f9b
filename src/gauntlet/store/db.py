"""Opening a store: engine, SQLite pragmas, and migrations to the latest schema."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from gauntlet.errors import StoreError

ENV_VAR = "GAUNTLET_DB"
MIGRATIONS = Path(__file__).parent / "migrations"


def default_url(workdir: str | os.PathLike | None = None) -> str:
    """`GAUNTLET_DB` if set, else a SQLite file in the workdir (or the current folder)."""
    if os.environ.get(ENV_VAR):
        return os.environ[ENV_VAR]
    base = Path(workdir) if workdir else Path.cwd()
    return f"sqlite:///{(base / 'gauntlet.sqlite').resolve()}"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets the web app read while a round is being written; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str) -> Engine:
    # A server database can drop a pooled connection (restart, failover, idle timeout, an
    # administrator); checking each one before use turns that into a reconnect, not an error.
    server = not url.startswith("sqlite")
    try:
        engine = create_engine(url, pool_pre_ping=server)
    except (ArgumentError, ImportError) as exc:
        raise StoreError(f"cannot open database {url!r}: {exc}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def upgrade(engine: Engine) -> None:
    """Bring the schema to the latest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")
    except OperationalError as exc:
        raise StoreError(f"cannot migrate database: {exc.orig}") from None


def open_database(url: str) -> sessionmaker[Session]:
    """Engine + migrations + a session factory."""
    engine = make_engine(url)
    upgrade(engine)
    return sessionmaker(engine, expire_on_commit=False)


def table_names(engine: Engine) -> list[str]:
    return sorted(inspect(engine).get_table_names())


def head_revision() -> str:
    """The newest migration's revision id (what `upgrade` brings a store to)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head()
