"""Upgrading a store created by an earlier release keeps its data, and the models
match what the migrations build."""

import json
from datetime import datetime, timezone

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import text

from gauntlet.store import models_activity  # noqa: F401  (all tables on the metadata)
from gauntlet.errors import StoreError
from gauntlet.store.db import MIGRATIONS, head_revision, make_engine, table_names
from gauntlet.store.models import Base
from gauntlet.store.repository import Store


def _migrate(engine, revision: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def test_upgrading_a_0001_store_to_0002_keeps_every_row(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = make_engine(url)
    _migrate(engine, "0001")
    assert "arena_votes" not in table_names(engine)
    with engine.begin() as conn:  # what a 0001-era release wrote
        conn.execute(text("insert into challenges (id, slug, name, spec_sha256, spec_toml, created_at) "
                          "values (1, 'k', 'K-Sovereign', :h, 'x = 1', '2026-01-15 01:00:00')"), {"h": "0" * 64})
        conn.execute(text("insert into teams (id, challenge_id, key, name, organisation, country) "
                          "values (1, 1, 'lg', 'K-EXAONE', 'LG AI Research', 'KR')"))
        conn.execute(text("insert into submissions (id, team_id, round_key, manifest_sha256, total_bytes, stored_path, "
                          "submitted_at) values (1, 1, 'first', :m, 10, '/x', '2026-01-01 00:00:00')"), {"m": "a" * 64})
        conn.execute(text("insert into component_results (submission_id, component, value, lower, upper, detail) "
                          "values (1, 'benchmark', 84.0, 80.0, 88.0, '{}')"))
        conn.execute(text("insert into decisions (challenge_id, sequence, round_key, inputs, outputs, record_hash, "
                          "created_at) values (1, 1, 'first', '{}', :o, :h, '2026-01-15 01:00:00')"),
                     {"o": '{"ranking": [{"team": "lg", "total": 90.2, "rank": 1}], "eliminated": [], '
                           '"advancing": ["lg"], "allocation": {}}', "h": "b" * 64})
    engine.dispose()

    store = Store(url)  # opening migrates to the head
    board = store.leaderboard("k")
    assert board["teams"]["lg"]["name"] == "K-EXAONE"
    assert board["decision"]["outputs"]["ranking"][0]["total"] == 90.2
    assert board["decision"]["published_at"] is not None, "a decision made before drafts existed was public"
    with make_engine(url).connect() as conn:
        assert conn.execute(text("select version_num from alembic_version")).scalar() == head_revision()
    # and the new tables work on the upgraded store
    token = store.create_token("k", "team", "lg", at=datetime(2026, 1, 16, tzinfo=timezone.utc))
    assert store.identify_token(token)["subject"] == "lg"
    store.record_job("k", {"key": "audit-lg", "state": "failed", "error": "boom"}, team="lg",
                     at=datetime(2026, 1, 16, tzinfo=timezone.utc))
    assert store.jobs("k", team="lg")[0]["error"] == "boom"


def test_the_models_and_the_migrations_describe_the_same_schema(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'new.sqlite'}")
    engine = store.sessions.kw["bind"]
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert differences == []


def test_0002_downgrades_back_to_0001_without_touching_older_tables(tmp_path):
    url = f"sqlite:///{tmp_path / 'down.sqlite'}"
    store = Store(url)
    store.register_challenge("k", "K", "x = 1\n", at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    engine = make_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0001")
    assert "access_tokens" not in table_names(engine)
    with engine.connect() as conn:
        assert conn.execute(text("select slug from challenges")).scalar() == "k"


def test_a_store_with_a_ledger_file_migrates_with_its_history_intact(tmp_path):
    """A workspace from before the record moved into the database: its decisions stay public
    (published when they were made) and its ledger file becomes the record, record for record."""
    from pathlib import Path

    from gauntlet.domain import ledger as chain
    from gauntlet.domain.canonical import canonical_json
    from gauntlet.rounds import Ledger, code_version, decide
    from gauntlet.rounds.workspace import open_context

    spec = Path(__file__).resolve().parents[2] / "examples" / "k-sovereign-2026.toml"
    ws = tmp_path / "ws"
    ws.mkdir()
    url = f"sqlite:///{ws / 'gauntlet.sqlite'}"
    engine = make_engine(url)
    _migrate(engine, "0003")
    inputs = {"round": "first", "weights": {"benchmark": 1}, "eliminate_lowest": 0, "resources": {},
              "teams": [{"team": "lg", "benchmark": 80.0, "independence": "independent"}]}
    # The ledger file such a workspace kept: sealed records, one a line.
    first = chain.seal(None, kind="spec", code_version=code_version(), note="challenge spec k-sovereign-2026",
                       recorded_at="2026-01-01T00:00:00+00:00")
    record = chain.seal(first, kind="decision", code_version=code_version(), inputs=inputs, outputs=decide(inputs),
                        round_id="first", recorded_at="2026-01-15T01:00:00+00:00")
    old = Ledger(ws / "ledger.jsonl")
    old.path.write_text(canonical_json(first) + "\n" + canonical_json(record) + "\n", encoding="utf-8")
    with engine.begin() as conn:
        conn.execute(text("insert into challenges (id, slug, name, spec_sha256, spec_toml, created_at) values "
                          "(1, 'k-sovereign-2026', 'K', :h, :t, '2026-01-01 00:00:00')"),
                     {"h": "0" * 64, "t": spec.read_text(encoding="utf-8")})
        conn.execute(text("insert into teams (id, challenge_id, key, name, organisation, country) "
                          "values (1, 1, 'lg', 'K-EXAONE', 'LG AI Research', 'KR')"))
        conn.execute(text("insert into decisions (challenge_id, sequence, round_key, inputs, outputs, record_hash, "
                          "created_at) values (1, 1, 'first', :i, :o, :h, '2026-01-15 01:00:00')"),
                     {"i": json.dumps(inputs), "o": json.dumps(decide(inputs)),
                      "h": record["hash"]})
    engine.dispose()

    ctx = open_context(spec, ws, url)  # migrates to the head and imports the ledger file
    records = ctx.store.records(ctx.slug)
    assert records[:2] == old.records(), "every old record, byte for byte"
    assert [r["kind"] for r in records[2:]] == ["publication"] and records[2]["references"] == [record["hash"]]
    assert chain.verify_chain(records) == []
    state = ctx.state()
    assert state.in_force("first").record == record["hash"]
    assert ctx.store.leaderboard(ctx.slug)["decision"]["record_hash"] == record["hash"]
    assert open_context(spec, ws, url).store.records(ctx.slug) == records, "imported once"


def test_0004_adds_own_work_evidence_to_a_store_that_holds_submissions_and_downgrades_cleanly(tmp_path):
    url = f"sqlite:///{tmp_path / 'own.sqlite'}"
    engine = make_engine(url)
    _migrate(engine, "0004_expert_drafts")
    assert "own_work_evidence" not in table_names(engine)
    with engine.begin() as conn:  # a round's submission, written before own-work evidence was stored
        conn.execute(text("insert into challenges (id, slug, name, spec_sha256, spec_toml, created_at) "
                          "values (1, 'k', 'K', :h, 'x = 1', '2026-01-15 01:00:00')"), {"h": "0" * 64})
        conn.execute(text("insert into teams (id, challenge_id, key, name, organisation, country) "
                          "values (1, 1, 'lg', 'K-EXAONE', 'LG AI Research', 'KR')"))
        conn.execute(text("insert into submissions (id, team_id, round_key, manifest_sha256, total_bytes, stored_path, "
                          "submitted_at) values (1, 1, 'first', :m, 10, '/x', '2026-01-01 00:00:00')"), {"m": "a" * 64})
    engine.dispose()

    store = Store(url)
    assert store.round_own_work("k", "first") == {}
    store.record_own_work([(1, "chain", "consistent", {"detail": "every link derived"})])
    assert store.round_own_work("k", "first") == {"lg": {"chain": {"verdict": "consistent",
                                                                    "detail": "every link derived"}}}
    with pytest.raises(StoreError, match="already recorded"):  # evidence is never overwritten
        store.record_own_work([(1, "chain", "broken", {"detail": "a later run"})])
    assert store.round_own_work("k", "first")["lg"]["chain"]["verdict"] == "consistent"
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with make_engine(url).begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0004_expert_drafts")
    engine = make_engine(url)
    assert "own_work_evidence" not in table_names(engine) and "submissions" in table_names(engine)
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from submissions")).scalar() == 1
