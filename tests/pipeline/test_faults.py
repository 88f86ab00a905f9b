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
