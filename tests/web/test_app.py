"""The public web app: leaderboard, health, OpenAPI."""

from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient

from gauntlet.store.repository import Store
from gauntlet.web.app import create_app


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path / 'web.sqlite'}"


def test_empty_store_serves_a_helpful_page(url):
    client = TestClient(create_app(url))
    page = client.get("/")  # no challenge, so no spec to name a language: Korean, the default
    assert page.status_code == 200 and "아직 챌린지가 없습니다" in page.text
    assert "No challenge yet" in client.get("/", headers={"Accept-Language": "en"}).text
    assert client.get("/healthz").json()["status"] == "ok"
    assert "/api/leaderboard" in client.get("/openapi.json").json()["paths"]


def test_leaderboard_shows_ranking_outcomes_and_allocation(world):
    page = world.client().get("/").text
    ranking = world.outputs["ranking"]
    first, last = (world.teams[ranking[i]["team"]][1] for i in (0, -1))
    assert page.index(first) < page.index(last)
    assert "out: independence" in page and "advances" in page
    grant = next(iter(world.outputs["allocation"].values()))
    assert str(next(iter(grant.values()))) in page and f"{ranking[0]['total']:.1f}" in page


def test_unknown_challenge_is_404_with_one_line_message(url):
    response = TestClient(create_app(url)).get("/api/leaderboard", params={"challenge": "nope"})
    assert response.status_code == 404 and response.json() == {"error": "no challenge 'nope' in the store"}


def test_the_arena_says_plainly_when_it_is_not_open(url):
    client = TestClient(create_app(url))
    empty = client.get("/arena", headers={"accept": "application/json"})
    assert empty.status_code == 404 and empty.json() == {"error": "this store holds no challenge yet"}
    Store(url).register_challenge("k", "K", "x = 1\n", at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    closed = client.get("/api/arena/battle")
    assert closed.status_code == 404 and "not open" in closed.json()["error"]
