"""The store migrates itself, keeps one locked submission per team per round, and never rewrites results."""

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from gauntlet.artifacts.content_store import FileEntry, Manifest, StoredModel
from gauntlet.errors import StoreError
from gauntlet.store.db import head_revision, table_names
from gauntlet.store.repository import Store

T0 = datetime(2025, 11, 1, tzinfo=timezone.utc)
SPEC_PATH = Path(__file__).resolve().parents[2] / "examples" / "k-sovereign-2026.toml"
BEFORE = datetime(2025, 12, 29, 9, 0, tzinfo=timezone.utc)  # the example's first deadline is 12-30 18:00 KST


def _stored(tag: str) -> StoredModel:
    manifest = Manifest((FileEntry("model.safetensors", 10, tag * 64),))
    return StoredModel(manifest.sha256, Path("/nowhere"), manifest)


@pytest.fixture
def store(database_url):
    """The same store on SQLite and on PostgreSQL (a throwaway server; see tests/conftest.py)."""
    s = Store(database_url)
    s.register_challenge("k", "K-Sovereign", "name = 'k'\n", at=T0)
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
    store.register_challenge("k", "K-Sovereign", "name = 'k'\n", at=T0)  # same spec: fine
    with pytest.raises(StoreError, match="different spec"):
        store.register_challenge("k", "K-Sovereign", "name = 'changed'\n", at=T0)


@pytest.fixture
def challenge(database_url):
    """The example challenge registered through the service: (store, spec)."""
    from gauntlet import spec as spec_module
    from gauntlet.rounds import service

    text = SPEC_PATH.read_text(encoding="utf-8")
    spec = spec_module.loads(text)
    store = Store(database_url)
    service.register(store, spec, text, T0)
    return store, spec


def test_a_resubmission_before_the_deadline_replaces_the_first_and_is_on_record(challenge):
    from gauntlet.rounds import service

    store, spec = challenge
    first = service.submit(store, spec, "lg", "first", _stored("a"), "mit", BEFORE)
    assert service.submit(store, spec, "lg", "first", _stored("a"), "mit", BEFORE) == first  # same bytes
    second = service.submit(store, spec, "lg", "first", _stored("b"), "mit", BEFORE + timedelta(hours=1))
    [row] = store.round_submissions("k-sovereign-2026", "first")
    assert row["submission_id"] == second and row["manifest_sha256"] == _stored("b").id
    kinds = [(r["kind"], (r["inputs"] or {}).get("artifact")) for r in store.records("k-sovereign-2026")]
    assert kinds == [("spec", None), ("submission", _stored("a").id), ("submission", _stored("a").id),
                     ("submission", _stored("b").id)]


def test_recorded_component_scores_are_not_overwritten(challenge):
    from gauntlet.rounds import service

    store, spec = challenge
    sub = service.submit(store, spec, "lg", "first", _stored("a"), None, BEFORE)
    store.record_component(sub, "benchmark", 84.0, 80.0, 88.0)
    with pytest.raises(StoreError, match="already recorded"):
        store.record_component(sub, "benchmark", 99.0, 99.0, 99.0)


def test_the_leaderboard_reads_the_latest_published_decision_and_its_own_components(challenge):
    from gauntlet.rounds import decide, service

    store, spec = challenge
    sub = service.submit(store, spec, "lg", "first", _stored("a"), None, BEFORE)
    store.record_component(sub, "benchmark", 84.0, 80.0, 88.0)
    store.record_audit(sub, "foreign-ref", "independent", 0.71, {"verdict": "independent"})
    service.lock(store, spec, "first", BEFORE + timedelta(days=2))
    inputs = {"round": "first", "weights": {"benchmark": 40, "expert": 35, "user": 25}, "eliminate_lowest": 0,
              "resources": {"B200": 512}, "teams": [{"team": "lg", "benchmark": 83.0, "expert": 70.0, "user": 60.0,
                                                     "independence": "independent"}]}
    service.decide(store, spec, "first", inputs, BEFORE + timedelta(days=3))
    assert store.leaderboard("k-sovereign-2026")["decision"] is None, "a draft is not public"
    service.publish(store, spec, "first", BEFORE + timedelta(days=4))
    board = store.leaderboard("k-sovereign-2026")
    assert board["decision"]["outputs"] == decide(inputs)
    assert board["components"]["lg"]["benchmark"]["value"] == 83.0, "what the decision used, not the stored row"
    assert board["audits"]["lg"][0]["verdict"] == "independent"


def test_a_decision_and_its_record_commit_together_or_not_at_all(challenge, monkeypatch):
    """A failure after the decision row is written but before the commit leaves neither."""
    from gauntlet.rounds import service
    from gauntlet.store import records

    store, spec = challenge
    service.submit(store, spec, "lg", "first", _stored("a"), None, BEFORE)
    service.lock(store, spec, "first", BEFORE + timedelta(days=2))
    inputs = {"round": "first", "weights": {"benchmark": 1}, "eliminate_lowest": 0, "resources": {},
              "teams": [{"team": "lg", "benchmark": 50.0, "independence": "independent"}]}
    heads = len(store.records("k-sovereign-2026"))

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(records, "add_sealed", disk_full)
    with pytest.raises(OSError):
        service.decide(store, spec, "first", inputs, BEFORE + timedelta(days=3))
    monkeypatch.undo()
    assert len(store.records("k-sovereign-2026")) == heads
    with pytest.raises(StoreError):
        store.round_decisions("k-sovereign-2026", "first", drafts=True)
    service.decide(store, spec, "first", inputs, BEFORE + timedelta(days=3))  # the re-run completes
    assert len(store.round_decisions("k-sovereign-2026", "first", drafts=True)) == 1


def test_unknown_challenge_is_a_store_error(store):
    with pytest.raises(StoreError, match="no challenge"):
        store.leaderboard("nope")


def test_bad_database_url_is_a_one_line_error():
    with pytest.raises(StoreError, match="cannot open database"):
        Store("notadb://x")


def test_a_submission_keeps_the_time_the_caller_received_it(challenge):
    from sqlalchemy import select

    from gauntlet.rounds import service
    from gauntlet.store.models import Submission

    store, spec = challenge
    sub = service.submit(store, spec, "lg", "first", _stored("a"), None, BEFORE)
    with store.sessions() as session:
        stamped = session.scalar(select(Submission.submitted_at).where(Submission.id == sub))
    assert stamped.replace(tzinfo=timezone.utc) == BEFORE


def test_two_decides_at_once_leave_exactly_one_decision(challenge):
    """Two organisers decide the same round at the same moment: one decision, one record."""
    import threading

    from gauntlet.errors import GauntletError
    from gauntlet.rounds import service

    store, spec = challenge
    service.submit(store, spec, "lg", "first", _stored("a"), None, BEFORE)
    service.lock(store, spec, "first", BEFORE + timedelta(days=2))
    inputs = {"round": "first", "weights": {"benchmark": 1}, "eliminate_lowest": 0, "resources": {},
              "teams": [{"team": "lg", "benchmark": 50.0, "independence": "independent"}]}
    start, outcomes = threading.Barrier(2), []

    def decide():
        start.wait()
        try:
            outcomes.append(service.decide(store, spec, "first", inputs, BEFORE + timedelta(days=3))[0])
        except GauntletError as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=decide) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(isinstance(o, int) for o in outcomes) == 1, outcomes
    assert [r["kind"] for r in store.records("k-sovereign-2026")].count("decision") == 1
    assert len(store.round_decisions("k-sovereign-2026", "first", drafts=True)) == 1
