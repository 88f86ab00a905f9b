"""SIGKILL at random points of `challenge submit` and `challenge decide`: afterwards the record
and the state agree (no decision without its record, no record without its row), there is
at most one decision per round, the ledger verifies, and running the command again completes.
(Publish is killed the same way in tests/web/test_faults.py.)"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from gauntlet.rounds.ledger_file import Ledger
from tests.pipeline.test_three_rounds import BENCHMARK, SLUG, SPEC, TEAMS, _results

ITERATIONS = 3
GAUNTLET = str(Path(sys.executable).parent / "gauntlet")


def _killed(args: list[str], rng: random.Random, env: dict) -> None:
    process = subprocess.Popen([GAUNTLET, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(rng.uniform(0.3, 5.0))
    process.send_signal(signal.SIGKILL)
    process.wait()


def _consistent(store, tmp_path) -> list[dict]:
    records = store.records(SLUG)
    exported = tmp_path / "ledger.jsonl"
    exported.write_text(store.export_ledger(SLUG), encoding="utf-8")
    assert Ledger(exported).verify().intact
    try:
        rows = store.round_decisions(SLUG, "first", drafts=True)
    except Exception:  # noqa: BLE001 - StoreError: no decision yet
        rows = []
    assert [r["hash"] for r in records if r["kind"] == "decision"] == [d["record_hash"] for d in rows]
    assert len(rows) <= 1
    return records


def test_sigkill_during_submit_and_decide_then_reruns_complete(models, tmp_path):
    from gauntlet.store.repository import Store

    rng = random.Random(5)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    spec = tmp_path / "challenge.toml"
    spec.write_text(SPEC, encoding="utf-8")
    ws = tmp_path / "ws"
    url = f"sqlite:///{ws / 'gauntlet.sqlite'}"
    common = ["--store", str(ws), "--db", url]
    subprocess.run([GAUNTLET, "challenge", "init", str(spec), "--now", "2026-03-01T09:00:00+09:00", *common],
                   env=env, check=True, capture_output=True)
    store = Store(url)
    submit = ["challenge", "submit", str(spec), "hanbit", str(models["hanbit"]), "--round", "first",
              "--now", "2026-03-20T09:00:00+09:00", "--quiet", *common]
    for _ in range(ITERATIONS):
        _killed(submit, rng, env)
        _consistent(store, tmp_path)
        subs = store.round_submissions(SLUG, "first")
        assert all(s["intake_recorded"] for s in subs), "a submission row always has its intake facts"
    for team in TEAMS:
        done = subprocess.run([GAUNTLET, *submit[:3], team, str(models[team]), *submit[5:]], env=env,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    assert sorted(s["team"] for s in store.round_submissions(SLUG, "first")) == sorted(TEAMS)

    subprocess.run([GAUNTLET, "challenge", "lock", str(spec), "--round", "first", "--now",
                    "2026-04-01T09:00:00+09:00", *common], env=env, check=True, capture_output=True)
    _results(store, "first")
    decide = ["challenge", "decide", str(spec), "--round", "first", "--now", "2026-04-10T09:00:00+09:00", *common]
    for _ in range(ITERATIONS):
        _killed(decide, rng, env)
        _consistent(store, tmp_path)
    if not store.records(SLUG)[-1]["kind"] == "decision":
        done = subprocess.run([GAUNTLET, *decide], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    records = _consistent(store, tmp_path)
    assert [r["kind"] for r in records].count("decision") == 1
    assert set(store.round_decisions(SLUG, "first", drafts=True)[0]["outputs"]["advancing"]) == \
        {t for t in TEAMS if t != min(BENCHMARK["first"], key=BENCHMARK["first"].get)}


def test_a_read_only_database_refuses_submit_decide_and_publish_in_one_line_and_damages_nothing(models, tmp_path):
    """The operator mounted the store read-only: each command that would write says so in one
    line and exits 2, the record, the state and the report folders are as they were, and once
    the store is writable again the same commands complete."""
    from sqlalchemy import text

    from gauntlet.store.repository import Store

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    spec = tmp_path / "challenge.toml"
    spec.write_text(SPEC, encoding="utf-8")
    ws = tmp_path / "ws"
    url = f"sqlite:///{ws / 'gauntlet.sqlite'}"
    read_only = f"sqlite:///file:{ws / 'gauntlet.sqlite'}?mode=ro&uri=true"

    def gauntlet(*args: str, db: str = url) -> subprocess.CompletedProcess:
        return subprocess.run([GAUNTLET, *args, "--store", str(ws), "--db", db], env=env, capture_output=True,
                              text=True)

    def refused_read_only(*args: str) -> None:
        before = (store.export_ledger(SLUG), store.round_submissions(SLUG, "first"))
        result = gauntlet(*args, db=read_only)
        assert result.returncode == 2, result.stdout + result.stderr
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
        assert "read-only" in result.stderr and "Traceback" not in result.stderr
        assert (store.export_ledger(SLUG), store.round_submissions(SLUG, "first")) == before, "nothing changed"
        with store.sessions() as session:
            assert session.execute(text("PRAGMA integrity_check")).scalar() == "ok"

    assert gauntlet("challenge", "init", str(spec), "--now", "2026-03-01T09:00:00+09:00").returncode == 0
    store = Store(url)
    submit = ["challenge", "submit", str(spec), "hanbit", str(models["hanbit"]), "--round", "first",
              "--now", "2026-03-20T09:00:00+09:00", "--quiet"]
    refused_read_only(*submit)
    assert store.round_submissions(SLUG, "first") == []
    for team in TEAMS:
        done = gauntlet(*submit[:3], team, str(models[team]), *submit[5:])
        assert done.returncode == 0, done.stderr
    assert gauntlet("challenge", "lock", str(spec), "--round", "first",
                    "--now", "2026-04-01T09:00:00+09:00").returncode == 0
    _results(store, "first")

    decide = ["challenge", "decide", str(spec), "--round", "first", "--now", "2026-04-10T09:00:00+09:00"]
    refused_read_only(*decide)
    assert "decision" not in [r["kind"] for r in store.records(SLUG)]
    assert gauntlet(*decide).returncode == 0

    publish = ["challenge", "publish", str(spec), "--round", "first", "--now", "2026-04-15T10:00:00+09:00"]
    refused_read_only(*publish)
    assert not (ws / "reports").exists() or not any((ws / "reports").rglob("index.html")), "no report yet"
    done = gauntlet(*publish)
    assert done.returncode == 0, done.stderr
    records = _consistent(store, tmp_path)
    assert [r["kind"] for r in records].count("decision") == 1
    assert [r["kind"] for r in records].count("publication") == 1
    assert (ws / "reports" / "first" / "decision-1" / "index.html").is_file()
