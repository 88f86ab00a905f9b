"""`challenge submit` and `decide` under hostile submissions and a read-only store: one
line, exit 2, and every other team's stored model still verifies."""

from __future__ import annotations

import os
import sqlite3
import subprocess

import pytest

from gauntlet.artifacts.content_store import ContentStore

from .conftest import spec_text

NOW = "2026-03-01T10:00:00+09:00"
EARLIER = "2026-02-01T10:00:00+09:00"
LATE = "2026-04-01T10:00:00+09:00"  # after the first round's deadline, before its decision date


def _gauntlet(*args: str) -> subprocess.CompletedProcess:
    """The command line, in this process (as `gauntlet` runs it: one line and exit 2 on an error)."""
    from typer.testing import CliRunner

    from gauntlet.cli import app

    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


@pytest.fixture()
def challenge(tmp_path):
    from tests.artifacts.hostile import honest_model

    spec = tmp_path / "challenge.toml"
    spec.write_text(spec_text())
    ws = tmp_path / "ws"
    assert _gauntlet("challenge", "init", str(spec), "--now", EARLIER, "--store", str(ws)).returncode == 0
    victim = honest_model(tmp_path / "victim")
    done = _gauntlet("challenge", "submit", str(spec), "hanbit", str(victim), "--round", "first", "--now", NOW,
                     "--store", str(ws))
    assert done.returncode == 0, done.stderr
    return spec, ws, tmp_path


def _store_state(ws):
    from tests.artifacts.hostile import tree_digest

    return {k: v for k, v in tree_digest(ws).items() if k.startswith(("objects", "models"))}


def test_a_refused_submission_stores_nothing(challenge):
    from tests.artifacts.hostile import honest_model

    spec, ws, tmp = challenge
    before = _store_state(ws)
    other = honest_model(tmp / "other", seed=9)
    refused = _gauntlet("challenge", "submit", str(spec), "hanbit", str(other), "--round", "first", "--now", LATE,
                        "--store", str(ws))
    assert refused.returncode == 2 and "closed for submissions" in refused.stderr, refused.stderr
    assert refused.stderr.count("\n") == 1
    assert _store_state(ws) == before
    store = ContentStore(ws)
    assert all(store.verify(i) == [] for i in store.model_ids()) and len(store.model_ids()) == 1


def test_a_non_utf8_file_name_is_one_line_at_submit_and_stores_nothing(challenge):
    from tests.artifacts.hostile import honest_model

    spec, ws, tmp = challenge
    before = _store_state(ws)
    model = honest_model(tmp / "odd-names", seed=4)
    with open(os.path.join(os.fsencode(model), b"notes-\xe9.txt"), "wb") as handle:
        handle.write(b"hello")
    refused = _gauntlet("challenge", "submit", str(spec), "dasan", str(model), "--round", "first", "--now", NOW,
                        "--store", str(ws))
    assert refused.returncode == 2 and "not UTF-8" in refused.stderr and "Traceback" not in refused.stderr
    assert refused.stderr.count("\n") == 1, refused.stderr
    assert _store_state(ws) == before


def test_a_read_only_database_is_one_line_in_submit_decide_and_serve(challenge):
    from tests.artifacts.hostile import honest_model

    spec, ws, tmp = challenge
    db = ws / "gauntlet.sqlite"
    sqlite3.connect(db).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
    read_only = f"sqlite:///file:{db}?mode=ro&uri=true"
    model = honest_model(tmp / "late", seed=11)
    submit = _gauntlet("challenge", "submit", str(spec), "dasan", str(model), "--round", "first", "--now", NOW,
                       "--store", str(ws), "--db", read_only)
    assert submit.returncode == 2 and "read-only" in submit.stderr, submit.stderr
    assert submit.stderr.count("\n") == 1 and "Traceback" not in submit.stderr
    decide = _gauntlet("challenge", "decide", str(spec), "--round", "first", "--allow-missing",
                       "--now", "2026-05-01T10:00:00+09:00", "--store", str(ws), "--db", read_only)
    assert decide.returncode == 2 and "Traceback" not in decide.stderr, decide.stderr
    assert decide.stderr.count("\n") == 1
    # The server, on a store it would have to write to before serving (its cookie key), says so.
    serve = _gauntlet("serve", "--db", read_only, "--port", "0")
    assert serve.returncode == 2 and "read-only" in serve.stderr and "Traceback" not in serve.stderr, serve.stderr
    assert serve.stderr.count("\n") == 1


def test_the_spec_limits_hold_at_submit(tmp_path):
    from tests.artifacts.hostile import honest_model

    spec = tmp_path / "challenge.toml"
    spec.write_text(spec_text() + "\n[submissions]\nmax_files = 2\nmax_bytes = 100000\n")
    ws = tmp_path / "ws"
    assert _gauntlet("challenge", "init", str(spec), "--now", EARLIER, "--store", str(ws)).returncode == 0
    refused = _gauntlet("challenge", "submit", str(spec), "hanbit", str(honest_model(tmp_path / "m")), "--round",
                        "first", "--now", NOW, "--store", str(ws))
    assert refused.returncode == 2 and "3 files, over the limit of 2" in refused.stderr, refused.stderr
    assert not (ws / "models").exists() and not (ws / "objects").exists()
    assert not (ws / "staging").exists() or not any((ws / "staging").iterdir())
