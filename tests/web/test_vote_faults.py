"""The arena's vote path under faults: a server killed (SIGKILL) with votes in flight
loses no acknowledged vote and half-stores none; a full disk refuses votes with a
503 and one line, and voting resumes once there is room."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.web.conftest import ROUND, SLUG

KILLS, VOTES_PER_LIFE = 3, 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _field(page: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]+)"', page).group(1)


def _start(url: str, port: int, log) -> subprocess.Popen:
    proc = subprocess.Popen([str(Path(sys.executable).parent / "gauntlet"), "serve", "--port", str(port),
                             "--db", url], stdout=log, stderr=subprocess.STDOUT)
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    pytest.fail("the server did not come up")


def test_no_acknowledged_vote_is_lost_across_kills_of_the_server(world, tmp_path):
    from gauntlet.store.repository import Store

    stored_before = len(world.store.arena_votes(SLUG, ROUND))
    port, acknowledged, in_flight = _free_port(), [], []
    with open(tmp_path / "serve.log", "w") as log:
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
        for _ in range(KILLS):
            proc = _start(world.url, port, log)
            for _ in range(VOTES_PER_LIFE):
                battle = client.get("/api/arena/battle").json()
                reply = client.post("/api/arena/votes", json={"battle_id": battle["battle_id"], "choice": "a"},
                                    headers={"X-CSRF-Token": battle["csrf"]})
                assert reply.status_code == 200
                acknowledged.append(reply.json()["vote_id"])
            battle = client.get("/api/arena/battle").json()
            in_flight.append(battle["battle_id"])
            # One more vote, and the kill while it may be anywhere between the socket and the commit.
            voter = threading.Thread(target=lambda: _quietly(
                client.post, "/api/arena/votes", json={"battle_id": battle["battle_id"], "choice": "b"},
                headers={"X-CSRF-Token": battle["csrf"]}))
            voter.start()
            time.sleep(0.02)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            voter.join(timeout=30)
        client.close()
    stored = Store(world.url).arena_votes(SLUG, ROUND)
    new = stored[stored_before:]
    assert set(acknowledged) <= {v.sequence for v in new}  # every acknowledged vote is there
    assert len(new) <= len(acknowledged) + len(in_flight)  # and nothing else appeared
    battles = [v.battle_id for v in stored]
    assert len(battles) == len(set(battles))  # no vote stored twice or half
    print(f"kills {KILLS}: acknowledged {len(acknowledged)}, stored {len(new)} "
          f"(of which in flight at a kill: {len(new) - len(acknowledged)} of {len(in_flight)})")


def _quietly(call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except httpx.HTTPError:
        pass  # the server died under this request: not acknowledged


FULL_DISK = textwrap.dedent("""
    import json, os, sys
    from fastapi.testclient import TestClient
    from gauntlet.web.app import create_app
    db, filler, out = sys.argv[1], sys.argv[2], sys.argv[3]
    client = TestClient(create_app(f"sqlite:///{db}"))
    battle = client.get("/api/arena/battle").json()
    with open(filler, "wb", buffering=0) as f:  # fill the disk to the last byte
        try:
            while True:
                f.write(b"\\0" * 65536)
        except OSError:
            pass
        try:
            while True:
                f.write(b"\\0")
        except OSError:
            pass
    results = []
    for _ in range(3):
        page = client.get("/api/arena/battle")
        vote = client.post("/api/arena/votes", json={"battle_id": battle["battle_id"], "choice": "a"},
                           headers={"X-CSRF-Token": battle["csrf"]})
        results.append([page.status_code, vote.status_code, vote.json().get("error", "")])
    os.unlink(filler)
    again = client.post("/api/arena/votes", json={"battle_id": battle["battle_id"], "choice": "a"},
                        headers={"X-CSRF-Token": battle["csrf"]})
    json.dump({"full": results, "after": again.status_code}, open(out, "w"))
""")


def test_a_full_disk_refuses_votes_with_503_and_voting_resumes(world, tmp_path):
    if shutil.which("unshare") is None or subprocess.run(
            ["unshare", "-m", "sh", "-c", f"mount -t tmpfs tmpfs {tmp_path}"], capture_output=True).returncode:
        pytest.skip("needs a private mount namespace (unshare -m) to mount a small disk")
    db = Path(world.url.removeprefix("sqlite:///"))
    mount = tmp_path / "disk"
    mount.mkdir()
    size = (db.stat().st_size // (1 << 20) + 4) << 20
    script = (f'mount -t tmpfs -o size={size} tmpfs "{mount}" && cp "{db}" "{mount}/web.sqlite" && '
              f'"{sys.executable}" -c "$CHILD" "{mount}/web.sqlite" "{mount}/filler" "{tmp_path}/out.json"')
    subprocess.run(["unshare", "-m", "sh", "-c", script], check=True, timeout=180,
                   env={**os.environ, "CHILD": FULL_DISK})
    report = json.loads((tmp_path / "out.json").read_text())
    for page_status, vote_status, error in report["full"]:
        assert vote_status in (503, 200) and page_status in (503, 200)
        if vote_status == 503:
            assert "full" in error and "\n" not in error
    assert any(vote == 503 for _, vote, _ in report["full"]), report
    assert report["after"] == 200
