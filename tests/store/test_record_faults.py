"""A write the database refuses — a full disk, a read-only file — keeps nothing, says so in
one line, and once the cause is gone the same command completes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import event

from gauntlet.artifacts.content_store import FileEntry, Manifest, StoredModel
from gauntlet.errors import StoreError
from gauntlet.store.repository import Store

SPEC_PATH = Path(__file__).resolve().parents[2] / "examples" / "k-sovereign-2026.toml"
BEFORE = datetime(2025, 12, 29, 9, 0, tzinfo=timezone.utc)
INPUTS = {"round": "first", "weights": {"benchmark": 1}, "eliminate_lowest": 0, "resources": {},
          "teams": [{"team": "lg", "benchmark": 50.0, "independence": "independent"}]}


def _stored(tag: str) -> StoredModel:
    manifest = Manifest((FileEntry("model.safetensors", 10, tag * 64),))
    return StoredModel(manifest.sha256, Path("/nowhere"), manifest)


@pytest.fixture
def locked(tmp_path):
    """A SQLite store whose first round has lg's submission, locked: (path, spec)."""
    from gauntlet import spec as spec_module
    from gauntlet.rounds import service

    path = tmp_path / "g.sqlite"
    text = SPEC_PATH.read_text(encoding="utf-8")
    spec = spec_module.loads(text)
    store = Store(f"sqlite:///{path}")
    service.register(store, spec, text, BEFORE - timedelta(days=30))
    service.submit(store, spec, "lg", "first", _stored("a"), None, BEFORE)
    service.lock(store, spec, "first", BEFORE + timedelta(days=2))
    store.sessions.kw["bind"].dispose()
    return path, spec


def test_a_full_disk_keeps_no_half_decision_and_the_rerun_completes(locked):
    from gauntlet.rounds import service

    path, spec = locked
    store = Store(f"sqlite:///{path}")
    before = store.records(spec.id)
    engine = store.sessions.kw["bind"]
    engine.dispose()

    @event.listens_for(engine, "connect")
    def no_room(dbapi_connection, _record):  # the disk is full: the file cannot grow by a page
        cursor = dbapi_connection.cursor()
        pages = cursor.execute("PRAGMA page_count").fetchone()[0]
        cursor.execute(f"PRAGMA max_page_count = {pages}")
        cursor.close()

    with pytest.raises(StoreError, match="full"):  # the record needs pages it cannot get
        service.decide(store, spec, "first", INPUTS, BEFORE + timedelta(days=3), note="x" * 20000)
    engine.dispose()
    again = Store(f"sqlite:///{path}")  # space freed
    assert again.records(spec.id) == before, "nothing of the refused decision was kept"
    service.decide(again, spec, "first", INPUTS, BEFORE + timedelta(days=3))
    assert [r["kind"] for r in again.records(spec.id)][-1] == "decision"
    assert len(again.round_decisions(spec.id, "first", drafts=True)) == 1


def test_a_read_only_database_refuses_in_one_line_and_changes_nothing(locked):
    from gauntlet.rounds import service

    path, spec = locked
    before = Store(f"sqlite:///{path}").records(spec.id)
    read_only = Store(f"sqlite:///file:{path}?mode=ro&uri=true")
    with pytest.raises(StoreError, match="read-only"):
        service.decide(read_only, spec, "first", INPUTS, BEFORE + timedelta(days=3))
    writable = Store(f"sqlite:///{path}")
    assert writable.records(spec.id) == before
    service.decide(writable, spec, "first", INPUTS, BEFORE + timedelta(days=3))
    assert len(writable.round_decisions(spec.id, "first", drafts=True)) == 1
