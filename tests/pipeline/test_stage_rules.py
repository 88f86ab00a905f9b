"""The rules each stage applies before it touches a model: who may submit to which
round, which prompt files and task folders are accepted, and what the store keeps
about each submission (migration 0003)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text

from gauntlet.artifacts.content_store import FileEntry, Manifest, StoredModel
from gauntlet.errors import InputError
from gauntlet.rounds.pipeline import read_prompts, round_suite, submit
from gauntlet.rounds.workspace import open_context, parse_time
from gauntlet.store.db import MIGRATIONS, make_engine, table_names
from gauntlet.store.repository import Store

EARLY = datetime(2026, 3, 1, tzinfo=timezone.utc)


def _stored(tag: str) -> StoredModel:
    manifest = Manifest((FileEntry("config.json", 10, tag * 64),))
    return StoredModel(manifest.sha256, __import__("pathlib").Path("/nowhere"), manifest)


@pytest.fixture()
def ctx(materials, tmp_path):
    spec = materials["spec"].read_text()
    # A team that joins at the final round, to check entrants wait for their round.
    spec = spec.replace('[[rounds]]\nid = "first"', '[[teams]]\nid = "late-entrant"\nname = "Entrant"\n'
                        'organisation = "Entrant Co"\ncountry = "KR"\njoins_at_round = "final"\n\n[[rounds]]\nid = "first"', 1)
    path = tmp_path / "challenge.toml"
    path.write_text(spec)
    return open_context(path, tmp_path / "ws", register=True, at=EARLY - timedelta(days=30))


def test_who_may_submit_to_which_round(ctx):
    with pytest.raises(InputError, match="no team 'nobody'"):
        submit(ctx, "nobody", "/nowhere", "first", now=EARLY)
    with pytest.raises(InputError, match="joins at round 'final' and cannot submit to 'first'"):
        submit(ctx, "late-entrant", "/nowhere", "first", now=EARLY)
    with pytest.raises(InputError, match="no round 'second'"):
        submit(ctx, "hanbit", "/nowhere", "second", now=EARLY)
    with pytest.raises(InputError, match="'first' is not decided and published yet"):
        submit(ctx, "hanbit", "/nowhere", "final", now=EARLY)
    with pytest.raises(InputError, match="closed for submissions"):
        submit(ctx, "hanbit", "/nowhere", "first", now=datetime(2026, 4, 1, tzinfo=timezone.utc))


def test_stages_after_the_deadline_wait_for_it(ctx):
    deadline = ctx.spec.round("first").submission_deadline
    with pytest.raises(InputError, match="takes submissions until"):
        ctx.require_locked("first", deadline)
    assert ctx.require_locked("first", deadline + timedelta(seconds=1)).id == "first"
    assert [r["kind"] for r in ctx.store.records(ctx.slug)] == ["spec", "lock"]
    assert ctx.require_locked("first", deadline + timedelta(days=1)).id == "first"  # locked once
    with pytest.raises(InputError, match="time zone"):
        parse_time("2026-04-01T00:00:00")
    assert parse_time("2026-04-01T00:00:00Z") == datetime(2026, 4, 1, tzinfo=timezone.utc)


def test_prompt_files_in_three_formats_and_their_errors(tmp_path):
    rows = [{"id": "ko-1", "language": "ko", "text": "안녕하세요"}, {"id": "en-1", "language": "en", "text": "Hello"}]
    (tmp_path / "p.json").write_text(json.dumps({"prompts": rows}, ensure_ascii=False))
    (tmp_path / "p.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    (tmp_path / "p.toml").write_text("".join(f'[[prompts]]\nid = "{r["id"]}"\nlanguage = "{r["language"]}"\n'
                                             f'text = "{r["text"]}"\n' for r in rows))
    for name in ("p.json", "p.jsonl", "p.toml"):
        assert [p.id for p in read_prompts(tmp_path / name, "first").prompts] == ["ko-1", "en-1"]
    (tmp_path / "bad.json").write_text(json.dumps([{"id": "x", "text": "no language"}]))
    with pytest.raises(InputError, match="prompt 1 needs string fields id, language and text"):
        read_prompts(tmp_path / "bad.json", "first")
    (tmp_path / "fr.json").write_text(json.dumps([{"id": "x", "language": "fr", "text": "Bonjour"}]))
    with pytest.raises(InputError, match="language must be one of"):
        read_prompts(tmp_path / "fr.json", "first")
    with pytest.raises(InputError, match="no such file"):
        read_prompts(tmp_path / "missing.json", "first")


def test_the_suite_is_the_specs_benchmarks_found_in_the_task_folder(ctx, materials, tmp_path):
    suite, skipped = round_suite(ctx, materials["tasks"])
    assert [(e.task, e.group, e.weight, e.metric) for e in suite.entries] == [
        ("p_mc", "agency", 2.0, "acc"), ("p_ll", "common", 1.0, "acc")]
    assert skipped == [] and suite.effective_group_weights() == {"agency": 2.0, "common": 1.0}
    import shutil

    partial = tmp_path / "tasks"
    shutil.copytree(materials["tasks"] / "p_mc", partial / "p_mc")
    with pytest.raises(InputError, match="benchmark task 'p_ll' of the spec has no task file"):
        round_suite(ctx, partial)
    suite, skipped = round_suite(ctx, partial, only_available=True)
    assert [e.task for e in suite.entries] == ["p_mc"] and skipped == ["p_ll"]


def test_a_0002_store_upgrades_to_0003_and_back(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    engine = make_engine(url)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0002")
    assert "submission_intake" not in table_names(engine)
    store = Store(url)  # opening migrates to the head
    assert "submission_intake" in table_names(make_engine(url))
    store.register_challenge("k", "K", "x = 1\n", at=EARLY)
    store.register_team("k", "lg", "LG", "LG AI Research", "KR")
    from gauntlet.store.round_records import write_submission

    with store.sessions.begin() as session:
        write_submission(session, store._team(session, "k", "lg"), "first", _stored("b"), licence=None, at=EARLY,
                         deadline=EARLY)
    assert store.round_submissions("k", "first")[0]["intake_recorded"]
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0002")  # through 0003_record (the record table) and 0003
    assert "submission_intake" not in table_names(engine)
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from submissions")).scalar() == 1


def test_references_take_their_name_and_origin_from_the_spec(ctx, tmp_path):
    import numpy as np

    from gauntlet.provenance import Fingerprint, fingerprint_arrays
    from gauntlet.rounds.pipeline import _reference_prints

    rng = np.random.default_rng(0)
    claimed = {"organisation": "Somebody Else", "country": "KR", "licence": "mit"}
    fingerprint_arrays("whatever", {"model.embed_tokens.weight": rng.normal(size=(64, 16)).astype(np.float32)},
                       origin=claimed).save(tmp_path / "ref.gfp")
    prints, jobs = _reference_prints(ctx, {"foreign": tmp_path / "ref.gfp"}, None, "first")
    loaded = Fingerprint.load(prints["foreign"])
    assert jobs == [] and loaded.name == "foreign"
    assert loaded.origin == {"organisation": "Foreign Lab", "country": "XX", "licence": "apache-2.0"}
    with pytest.raises(InputError, match="--reference glm: not one of the spec's"):
        _reference_prints(ctx, {"glm": tmp_path / "ref.gfp"}, None, "first")
    with pytest.raises(InputError, match="the spec's reference 'foreign' was not given"):
        _reference_prints(ctx, {}, None, "first")
    with pytest.raises(InputError, match="no such model folder or fingerprint file"):
        _reference_prints(ctx, {"foreign": tmp_path / "missing"}, None, "first")
