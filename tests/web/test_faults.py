"""Killed at random points, `gauntlet challenge publish` leaves the old state or the new one:
exactly one publication, a report folder that is whole or absent, a ledger that verifies;
running it again completes what was interrupted."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from gauntlet.rounds.ledger_file import Ledger

SPEC = Path(__file__).resolve().parents[2] / "examples" / "k-sovereign-2026.toml"
ITERATIONS = 3


def _publish(world, ws: Path) -> list[str]:
    gauntlet = str(Path(sys.executable).parent / "gauntlet")
    return [gauntlet, "challenge", "publish", str(SPEC), "--round", "first", "--now", "2026-01-15T10:00:00+09:00",
            "--store", str(ws), "--db", world.url]


def test_sigkill_during_publish_then_a_rerun_completes(draft_world, tmp_path):
    rng = random.Random(11)
    ws = tmp_path / "ws"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for i in range(ITERATIONS):
        process = subprocess.Popen(_publish(draft_world, ws), env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 6.0))
        process.send_signal(signal.SIGKILL)
        process.wait()
        records = draft_world.store.records(draft_world.slug)
        assert [r["kind"] for r in records].count("publication") <= 1
        folder = ws / "reports" / "first" / "decision-1"
        if folder.exists():  # whole or absent
            assert (folder / "index.html").is_file() and (folder / "decision-bundle.json").is_file()
    done = subprocess.run(_publish(draft_world, ws), env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    records = draft_world.store.records(draft_world.slug)
    assert [r["kind"] for r in records].count("publication") == 1
    folder = ws / "reports" / "first" / "decision-1"
    assert (folder / "index.html").is_file() and (folder / "decision-bundle.json").is_file()
    assert not list(folder.parent.glob(".*partial*")), "no half-built folder is left"
    exported = tmp_path / "ledger.jsonl"
    exported.write_text(draft_world.store.export_ledger(draft_world.slug), encoding="utf-8")
    assert Ledger(exported).verify().intact
    replay = subprocess.run([str(Path(sys.executable).parent / "gauntlet"), "round", "replay",
                             str(folder / "decision-bundle.json"), "--ledger", str(exported)],
                            env=env, capture_output=True, text=True)
    assert replay.returncode == 0 and "byte-identical" in replay.stdout, replay.stdout + replay.stderr
