"""The store migrates itself, keeps one locked submission per team per round, and never rewrites results."""

import pytest
from sqlalchemy import create_engine, text

from gauntlet.artifacts.content_store import FileEntry, Manifest, StoredModel
from gauntlet.errors import StoreError
from gauntlet.store.db import head_revision, table_names
from gauntlet.store.repository import Store


def _stored(tag: str) -> StoredModel:
    manifest = Manifest((FileEntry("model.safetensors", 10, tag * 64),))
    return StoredModel(manifest.sha256, __import__("pathlib").Path("/nowhere"), manifest)


@pytest.fixture
def store(database_url):
    """The same store on SQLite and on PostgreSQL (a throwaway server; see tests/conftest.py)."""
    s = Store(database_url)
    s.register_challenge("k", "K-Sovereign", "name = 'k'\n")
    s.register_team("k", "lg", "LG AI Research", "LG", "KR")
    return s


def test_migrations_create_every_table_and_record_the_revision(store, database_url):
    engine = create_engine(database_url)
    assert {"challenges", "teams", "submissions", "component_results", "audit_findings", "decisions"} <= set(
        table_names(engine)
    )
    with engine.connect() as conn:
        assert conn.execute(text("select version_num from alembic_version")).scalar() == head_revision()
        if engine.dialect.name == "sqlite":
            assert conn.execute(text("pragma journal_mode")).scalar() == "wal"
    engine.dispose()


def test_reopening_an_existing_store_keeps_its_data(store, database_url):
    again = Store(database_url)
    assert [c["slug"] for c in again.challenges()] == ["k"]


def test_a_challenge_cannot_be_re_registered_with_another_spec(store):
    store.register_challenge("k", "K-Sovereign", "name = 'k'\n")  # same spec: fine
    with pytest.raises(StoreError, match="different spec"):
        store.register_challenge("k", "K-Sovereign", "name = 'changed'\n")


def test_one_locked_submission_per_team_per_round(store):
    first = store.record_submission("k", "lg", "round-1", _stored("a"))
    assert store.record_submission("k", "lg", "round-1", _stored("a")) == first  # same bytes: idempotent
    with pytest.raises(StoreError, match="already has a locked submission"):
        store.record_submission("k", "lg", "round-1", _stored("b"))
    assert store.record_submission("k", "lg", "round-2", _stored("b")) != first


def test_recorded_component_scores_are_not_overwritten(store):
    sub = store.record_submission("k", "lg", "round-1", _stored("a"))
    store.record_component(sub, "benchmark", 84.0, 80.0, 88.0)
    with pytest.raises(StoreError, match="already recorded"):
        store.record_component(sub, "benchmark", 99.0, 99.0, 99.0)


def test_leaderboard_reads_the_latest_decision(store):
    sub = store.record_submission("k", "lg", "round-1", _stored("a"))
    store.record_component(sub, "benchmark", 84.0, 80.0, 88.0)
    store.record_audit(sub, "foreign-ref", "independent", 0.71, {"verdict": "independent"})
    outputs = {"ranking": [{"team": "lg", "total": 90.2, "rank": 1}], "eliminated": [], "advancing": ["lg"],
               "allocation": {"lg": {"B200": 512}}}
    assert store.record_decision("k", "round-1", {"teams": []}, outputs, "ab" * 32) == 1
    board = store.leaderboard("k")
    assert board["decision"]["outputs"] == outputs
    assert board["components"]["lg"]["benchmark"]["value"] == 84.0
    assert board["audits"]["lg"][0]["verdict"] == "independent"


def test_unknown_challenge_is_a_store_error(store):
    with pytest.raises(StoreError, match="no challenge"):
        store.leaderboard("nope")


def test_bad_database_url_is_a_one_line_error():
    with pytest.raises(StoreError, match="cannot open database"):
        Store("notadb://x")


def test_a_submission_keeps_the_time_the_caller_received_it(store):
    from datetime import datetime, timezone

    from sqlalchemy import select

    from gauntlet.store.models import Submission

    received = datetime(2025, 12, 29, 9, 0, tzinfo=timezone.utc)
    sub = store.record_submission("k", "lg", "round-1", _stored("a"), at=received)
    with store.sessions() as session:
        stamped = session.scalar(select(Submission.submitted_at).where(Submission.id == sub))
    assert stamped.replace(tzinfo=timezone.utc) == received
