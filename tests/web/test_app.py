"""The public web app: leaderboard, health, OpenAPI."""

import pytest
from fastapi.testclient import TestClient

from gauntlet.store.repository import Store
from gauntlet.web.app import create_app


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path / 'web.sqlite'}"


def test_empty_store_serves_a_helpful_page(url):
    client = TestClient(create_app(url))
    page = client.get("/")
    assert page.status_code == 200 and "No challenge yet" in page.text
    assert client.get("/healthz").json()["status"] == "ok"
    assert "/api/leaderboard" in client.get("/openapi.json").json()["paths"]


def test_leaderboard_shows_ranking_outcomes_and_allocation(url):
    store = Store(url)
    store.register_challenge("k", "K-Sovereign 2026", "x = 1\n")
    for key, name in [("lg", "LG AI Research"), ("nc", "NC AI")]:
        store.register_team("k", key, name, name.split()[0], "KR")
    outputs = {"ranking": [{"team": "lg", "total": 90.2, "rank": 1}, {"team": "nc", "total": 70.1, "rank": 2}],
               "eliminated": [{"team": "nc", "reason": "performance"}], "advancing": ["lg"],
               "allocation": {"lg": {"B200": 1024, "H100": 1024}}}
    store.record_decision("k", "round-1", {}, outputs, "cd" * 32)
    page = TestClient(create_app(url)).get("/").text
    assert page.index("LG AI Research") < page.index("NC AI")
    assert "out: performance" in page and "advances" in page
    assert "1024" in page and "90.2" in page


def test_unknown_challenge_is_404_with_one_line_message(url):
    response = TestClient(create_app(url)).get("/api/leaderboard", params={"challenge": "nope"})
    assert response.status_code == 404 and response.json() == {"error": "no challenge 'nope' in the store"}


def test_the_arena_says_plainly_when_it_is_not_open(url):
    client = TestClient(create_app(url))
    empty = client.get("/arena", headers={"accept": "application/json"})
    assert empty.status_code == 404 and empty.json() == {"error": "this store holds no challenge yet"}
    Store(url).register_challenge("k", "K", "x = 1\n")
    closed = client.get("/api/arena/battle")
    assert closed.status_code == 404 and "not open" in closed.json()["error"]
