"""Killed at random points, or out of disk, `gauntlet challenge publish` leaves the old state or
the new one: exactly one publication, a report folder that is whole or absent, a ledger that
verifies; running it again completes what was interrupted."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

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


FULL_DISK = textwrap.dedent("""
    set -e
    mount -t tmpfs -o size=8k tmpfs "$WS"
    set +e
    "$@" 2> "$OUT/stderr-full.txt" > /dev/null
    echo $? > "$OUT/rc-full.txt"
    find "$WS" -mindepth 1 | sed "s|^$WS/||" | sort > "$OUT/left-full.txt"
    mount -o remount,size=64m "$WS"
    "$@" 2> "$OUT/stderr-again.txt" > /dev/null
    echo $? > "$OUT/rc-again.txt"
    cp -r "$WS/reports" "$OUT/reports"
""")


def test_a_full_disk_while_publishing_leaves_no_half_report_and_the_rerun_builds_it(draft_world, tmp_path):
    """The publication is on record, but the disk holding the reports is full: one line,
    exit 2, no folder and no half-built one left behind; with room again, the same command
    builds the whole folder."""
    if shutil.which("unshare") is None or subprocess.run(
            ["unshare", "-m", "sh", "-c", f"mount -t tmpfs tmpfs {tmp_path}"], capture_output=True).returncode:
        pytest.skip("needs a private mount namespace (unshare -m) to mount a small disk")
    ws, out = tmp_path / "ws", tmp_path / "out"
    ws.mkdir(), out.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "WS": str(ws), "OUT": str(out)}
    subprocess.run(["unshare", "-m", "sh", "-c", FULL_DISK, "sh", *_publish(draft_world, ws)], check=True, env=env,
                   timeout=600)
    stderr = (out / "stderr-full.txt").read_text()
    assert (out / "rc-full.txt").read_text().strip() == "2", stderr
    assert stderr.startswith("error: cannot write") and stderr.count("\n") == 1 and "Traceback" not in stderr, stderr
    assert "decision-1" not in (out / "left-full.txt").read_text(), "neither the folder nor a partial one is left"
    records = draft_world.store.records(draft_world.slug)
    assert [r["kind"] for r in records].count("publication") == 1, "the publication itself was kept"
    assert (out / "rc-again.txt").read_text().strip() == "0", (out / "stderr-again.txt").read_text()
    folder = out / "reports" / "first" / "decision-1"
    assert (folder / "index.html").is_file() and (folder / "decision-bundle.json").is_file()
    assert [r["kind"] for r in draft_world.store.records(draft_world.slug)].count("publication") == 1
    exported = tmp_path / "ledger.jsonl"
    exported.write_text(draft_world.store.export_ledger(draft_world.slug), encoding="utf-8")
    assert Ledger(exported).verify().intact
