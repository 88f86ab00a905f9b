"""Alembic environment: migrations run programmatically from `gauntlet.store.db`,
which hands over an open connection (so SQLite in-memory and file URLs both work)."""

from alembic import context

from gauntlet.store import models_activity, records, round_records  # noqa: F401  (register their tables on Base)
from gauntlet.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only when someone runs the alembic CLI by hand
    from sqlalchemy import create_engine

    connection = create_engine(context.config.get_main_option("sqlalchemy.url")).connect()

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
