"""Hostile requests get a 4xx with the reason, never a 500; every response carries
the security headers; signing out and revoking end sessions on the server."""

from __future__ import annotations

import asyncio
import re
import sqlite3

import pytest

from gauntlet.web.app import create_app
from gauntlet.web.hardening import MAX_BODY_BYTES

from .test_roles import csrf_of, login

HUGE = "9" * 20  # past any 64-bit integer


@pytest.mark.parametrize("path", [f"/rounds/first?sequence={HUGE}", f"/rounds/first/inputs.json?sequence={HUGE}",
                                  f"/rounds/first/outputs.json?sequence={HUGE}", "/rounds/first?sequence=-1",
                                  "/rounds/first?sequence=" + "1" * 5000])
def test_out_of_range_numbers_in_addresses_are_400_with_the_reason(world, path):
    response = world.client().get(path, headers={"accept": "application/json"})
    assert response.status_code in (400, 414), response.text
    assert "sequence" in response.json()["error"] or "query string" in response.json()["error"]


def test_over_long_ids_are_refused_before_any_route_parses_them(world):
    organiser = world.client("organiser")
    assert organiser.post(f"/organiser/appeals/{HUGE}/answer", data={"upheld": "no"}).status_code == 400
    assert organiser.post(f"/organiser/tokens/{HUGE}/revoke", data={}).status_code == 400
    assert organiser.post("/organiser/panel", data={"round": "first", "k": "9" * 5000}).status_code == 400
    for path in ("/teams/" + "x" * 5000, "/rounds/" + "r" * 10_000, "/api/teams/" + "t" * 300):
        response = world.client().get(path)
        assert response.status_code == 414, path
        assert "too long" in response.json()["error"]


def test_deep_or_huge_json_bodies_are_400_not_a_crash(world):
    client = world.client()
    data = client.get("/api/arena/battle").json()
    for body in ("[" * 200_000 + "]" * 200_000, '{"battle_id": ' + "7" * 5000 + "}", '{"a": NaN}'):
        response = client.post("/api/arena/votes", content=body, headers={"X-CSRF-Token": data["csrf"],
                                                                           "content-type": "application/json"})
        assert response.status_code in (400, 413), response.text
        assert "\n" not in response.json()["error"]


def test_a_declared_oversized_body_is_refused_before_it_is_read(world):
    response = world.client().post("/api/arena/votes", content=b"x" * (MAX_BODY_BYTES + 1),
                                   headers={"content-type": "application/json"})
    assert response.status_code == 413 and "larger than" in response.json()["error"]


def test_an_undeclared_oversized_body_is_cut_off_while_it_streams(world):
    """64 chunks of 1 MiB, no Content-Length: the app stops reading just past the limit."""
    app = create_app(world.url)
    chunks, consumed, sent = 64, 0, []

    async def receive():
        nonlocal consumed
        consumed += 1
        return {"type": "http.request", "body": b"{" + b" " * ((1 << 20) - 1), "more_body": consumed < chunks}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/api/arena/votes", "raw_path": b"/api/arena/votes", "query_string": b"",
             "root_path": "", "headers": [(b"content-type", b"application/json"), (b"host", b"testserver")],
             "client": ("127.0.0.1", 1), "server": ("testserver", 80)}
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 413
    assert consumed <= MAX_BODY_BYTES // (1 << 20) + 1  # never the whole 64 MiB


@pytest.mark.parametrize("path", ["/", "/api/leaderboard", "/no/such/page", "/login", "/docs", "/openapi.json"])
def test_every_response_carries_the_security_headers(world, path):
    response = world.client().get(path)
    headers = response.headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"


def test_the_api_docs_work_offline(world):
    client = world.client()
    page = client.get("/docs").text
    assert not re.search(r"""(src|href)=["']https?://""", page), "the docs page must not load from a CDN"
    for asset in re.findall(r"""(?:src|href)=["'](/docs/assets/[^"']+)""", page):
        assert client.get(asset).status_code == 200, asset
    assert "swagger-ui-bundle.js" in page


def test_a_session_cookie_replayed_after_logout_is_refused(world):
    client, home = login(world, "lg")
    assert client.get(home).status_code == 200
    stolen = client.cookies.get("gauntlet_session")
    page = client.get(home).text
    assert client.post("/logout", data={"csrf": csrf_of(page)}, follow_redirects=False).status_code == 303
    replay = world.client()
    replay.cookies.set("gauntlet_session", stolen)
    assert replay.get("/team").status_code == 401


def test_revoking_a_token_ends_its_sessions(world):
    client, home = login(world, "skt")
    assert client.get(home).status_code == 200
    world.store.revoke_token(world.store.identify_token(world.tokens["skt"])["id"], at=world.clock())
    assert client.get(home).status_code == 401


def test_the_visitor_anchor_is_rotated_at_sign_in(world):
    """A visitor cookie planted before sign-in must not predict the CSRF token after it."""
    attacker = world.client()
    planted = attacker.get("/login")
    planted_cookie = attacker.cookies.get("gauntlet_visitor")
    victim = world.client()
    victim.cookies = type(attacker.cookies)(attacker.cookies)  # the planted cookie, as the server set it
    page = victim.get("/login").text
    assert victim.post("/login", data={"csrf": csrf_of(page), "token": world.tokens["lg"]},
                       follow_redirects=False).status_code == 303
    assert victim.cookies.get("gauntlet_visitor") != planted_cookie
    known_csrf = csrf_of(planted.text)  # what the attacker can compute
    assert csrf_of(victim.get("/team").text) != known_csrf
    forged = victim.post("/team/appeals", data={"csrf": known_csrf, "round": "first", "text": "x"})
    assert forged.status_code == 403


def test_cookies_are_secure_behind_an_https_proxy_when_told(world):
    plain = world.client().get("/login")
    assert "secure" not in plain.headers["set-cookie"].lower()
    proxied = world.client(secure_cookies=True).get("/login")
    assert "; secure" in proxied.headers["set-cookie"].lower()


def test_a_read_only_database_refuses_votes_with_503_and_one_line(world, tmp_path):
    client = world.client()
    data = client.get("/api/arena/battle").json()
    db = world.url.removeprefix("sqlite:///")
    sqlite3.connect(db).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
    read_only = create_app(f"sqlite:///file:{db}?mode=ro&uri=true", clock=world.clock)
    from fastapi.testclient import TestClient

    ro = TestClient(read_only)
    ro.cookies = client.cookies
    response = ro.post("/api/arena/votes", json={"battle_id": data["battle_id"], "choice": "a"},
                       headers={"X-CSRF-Token": data["csrf"]})
    assert response.status_code == 503, response.text
    assert "read-only" in response.json()["error"] and "\n" not in response.json()["error"]
    assert ro.get("/").status_code == 200  # reading still works
    # Nothing was half-written: the same vote then goes through on the writable store.
    voted = client.post("/api/arena/votes", json={"battle_id": data["battle_id"], "choice": "a"},
                        headers={"X-CSRF-Token": data["csrf"]})
    assert voted.status_code == 200 and voted.json()["counted"]
