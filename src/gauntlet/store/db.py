"""Opening a store: engine, SQLite pragmas, and migrations to the latest schema."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from gauntlet.errors import StorageUnavailable, StoreError

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


# What an operator can fix (a read-only or full disk, a missing folder), as the database
# reports it: turned into one line at the engine, so every command and page says the same.
_STORAGE_FAULTS = (
    ("readonly database", "the database is read-only"),
    ("read-only", "the database is read-only"),
    ("database or disk is full", "the disk holding the database is full"),
    ("no space left", "the disk holding the database is full"),
    ("unable to open database", "the database file cannot be opened"),
    ("disk i/o error", "the disk holding the database failed to read or write"),
)


def _storage_fault(context) -> None:
    original = context.original_exception
    text = str(original).lower()
    for needle, reason in _STORAGE_FAULTS:
        if needle in text:
            raise StorageUnavailable(f"cannot write to the store: {reason} ({str(original).splitlines()[0][:160]})")


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
    event.listen(engine, "handle_error", _storage_fault)
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
    except StoreError as exc:
        raise StoreError(f"cannot migrate database: {exc}") from None


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
