"""`gauntlet serve --workers 2` over one PostgreSQL store: every request may land on
another process, and a visitor's battles, CSRF tokens and votes still hold."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.web.conftest import SLUG, ROUND, populate  # noqa: F401 (the world the other web tests use)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _field(page: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]+)"', page).group(1)


@pytest.fixture
def server(postgres_server, tmp_path):
    from gauntlet.store.repository import Store

    url = postgres_server.database()
    populate(Store(url))
    port = _free_port()
    log = open(tmp_path / "serve.log", "w")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "gauntlet"), "serve", "--workers", "2",
                             "--port", str(port), "--db", url], stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            pytest.fail("the server did not come up: " + (tmp_path / "serve.log").read_text()[-2000:])
        yield base, url, tmp_path / "serve.log"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_two_processes_serve_one_store_and_a_visitors_votes_hold(server):
    from gauntlet.store.repository import Store

    base, url, log = server
    before = len(Store(url).arena_votes(SLUG, ROUND))
    # no keep-alive: every request opens a new connection, so both processes take turns
    with httpx.Client(base_url=base, limits=httpx.Limits(max_keepalive_connections=0), timeout=30,
                      headers={"Accept-Language": "en"}) as client:
        for _ in range(12):
            page = client.get("/arena")
            assert page.status_code == 200, page.text[:300]
            reveal = client.post("/arena/vote", data={"csrf": _field(page.text, "csrf"),
                                                      "battle_id": _field(page.text, "battle_id"), "choice": "a"})
            assert reveal.status_code == 200 and "counted" in reveal.text
        assert client.get("/").status_code == 200
    assert len(Store(url).arena_votes(SLUG, ROUND)) == before + 12
    assert len(set(re.findall(r"Started server process \[(\d+)\]", log.read_text()))) == 2
