"""The public web app: leaderboard, health, OpenAPI."""

from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient

from gauntlet.errors import StoreError
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
    client = TestClient(create_app(url), headers={"Accept-Language": "en"})
    empty = client.get("/arena", headers={"accept": "application/json"})
    assert empty.status_code == 404 and empty.json() == {"error": "this store holds no challenge yet"}
    Store(url).register_challenge("k", "K", "x = 1\n", at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    closed = client.get("/api/arena/battle")
    assert closed.status_code == 404 and "not open" in closed.json()["error"]


def test_pages_without_a_decision_show_the_components_the_spec_weighs(url):
    from datetime import timedelta

    from gauntlet import spec as spec_module
    from gauntlet.rounds import service
    from tests.web.conftest import DEADLINE, ROUND, SPEC_PATH, stored_model

    text = SPEC_PATH.read_text(encoding="utf-8").replace(
        "[scoring.weights]\nbenchmark = 40\nexpert = 35\nuser = 25\n", "[scoring.weights]\nbenchmark = 70\nsafety = 30\n")
    spec = spec_module.loads(text)
    store = Store(url)
    service.register(store, spec, text, DEADLINE - timedelta(days=60))
    service.submit(store, spec, "lg", ROUND, stored_model("a"), "apache-2.0", DEADLINE - timedelta(days=1))
    page = TestClient(create_app(url), headers={"Accept-Language": "en"}).get("/teams/lg").text
    rows = [name for name in ("benchmark", "safety", "expert", "user") if f"<tr><td>{name}</td>" in page]
    assert rows == ["benchmark", "safety"]


def test_the_challenges_are_held_and_one_registered_elsewhere_is_found_at_once(url):
    from gauntlet.rounds.challenge_list import Challenges

    store = Store(url)
    store.register_challenge("first", "First", "x = 1\n", at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    reads, later = [], []
    counted = type("CountingStore", (), {"challenges": lambda self: reads.append(1) or store.challenges()})()
    clock = [0.0]
    held = Challenges(counted, max_age=5.0, clock=lambda: clock[0], start=lambda work, what: later.append(work))
    assert [held.find(None) for _ in range(20)] == ["first"] * 20 and len(reads) == 1  # held, not re-read
    # Another process (a second `serve` worker, the CLI) registers a challenge: a miss reads again once.
    Store(url).register_challenge("second", "Second", "x = 2\n", at=datetime(2026, 1, 2, tzinfo=timezone.utc))
    assert held.held("second") is None  # the held list alone cannot tell (an event loop asks a thread)
    assert held.find("second") == "second" and len(reads) == 2
    with pytest.raises(StoreError, match="no challenge 'nope'"):
        held.find("nope")
    assert len(reads) == 3 and held.find("second") == "second" and len(reads) == 3
    # Past max_age the caller goes on with the held list; one read is started behind it.
    clock[0] = 6.0
    assert [held.find(None), held.held("second")] == ["first", "second"] and len(reads) == 3 and len(later) == 1
    later.pop()()
    assert len(reads) == 4 and held.find(None) == "first" and not later


def test_the_arena_knows_a_challenge_registered_elsewhere_at_once(url):
    """The arena's hot routes ask the app's one list of challenges (no second list held apart)."""
    store = Store(url)
    store.register_challenge("first", "First", "x = 1\n", at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    client = TestClient(create_app(url), headers={"Accept-Language": "en"})
    assert client.get("/api/arena/battle", params={"challenge": "first"}).status_code == 404  # no arena round yet
    Store(url).register_challenge("later", "Later", "x = 2\n", at=datetime(2026, 1, 2, tzinfo=timezone.utc))
    reply = client.get("/api/arena/battle", params={"challenge": "later"})
    assert reply.status_code == 404 and reply.json()["error"].startswith("the arena is not open")
    reply = client.get("/api/arena/battle", params={"challenge": "nope"})
    assert reply.status_code == 404 and reply.json()["error"] == "no challenge 'nope' in the store"
    assert client.app.state.arena.challenges is client.app.state.challenges


def test_a_challenge_registered_by_another_process_is_served_not_404(url):
    store = Store(url)
    store.register_challenge("first", "First", "x = 1\n", at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    client = TestClient(create_app(url))
    assert client.get("/api/teams/x", params={"challenge": "first"}).status_code == 404  # no team x: the list is held
    Store(url).register_challenge("later", "Later", "x = 2\n", at=datetime(2026, 1, 2, tzinfo=timezone.utc))
    Store(url).register_team("later", "lg", "K-EXAONE", "LG AI Research", "KR")
    response = client.get("/api/teams/lg", params={"challenge": "later"})
    assert response.status_code == 200 and response.json()["key"] == "lg"
