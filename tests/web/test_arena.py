"""The blind arena over HTTP: nothing identifies a model before the vote, the
vote reveals both, quality rules apply and excluded votes stay on record, and
the published votes refit with `gauntlet ratings fit`."""

import csv
import io
import json
import random
import re
from datetime import datetime, timezone

from typer.testing import CliRunner

from gauntlet.web.security import VISITOR_COOKIE

SLUG, ROUND = "k-sovereign-2026", "first"
TEAMS = ("lg", "skt", "upstage", "naver", "nc")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class ReadingClock:
    """The app's clock for a voter who takes ten seconds over each request."""

    def __init__(self):
        from datetime import datetime, timezone

        self.now = datetime(2026, 5, 1, 9, 0, tzinfo=timezone.utc)

    def __call__(self):
        from datetime import timedelta

        self.now += timedelta(seconds=10)
        return self.now


def csrf_of(page: str) -> str:
    return CSRF.search(page).group(1)


def _battle_id(page: str) -> str:
    return re.search(r'name="battle_id" value="([^"]+)"', page).group(1)


def _vote(client, page: str, choice: str, clock=None):
    if clock is not None:
        clock.advance(seconds=5)  # a voter reads both answers; faster votes break the per-second limit
    return client.post("/arena/vote", data={"csrf": csrf_of(page), "battle_id": _battle_id(page), "choice": choice})


def test_a_battle_names_no_model_until_the_vote_reveals_both(world):
    client = world.client()
    for _ in range(6):
        page = client.get("/arena")
        assert page.status_code == 200
        assert world.leaks(page.text) == []
        reveal = _vote(client, page.text, "a", world.clock)
        assert reveal.status_code == 200
        named = set(world.leaks(reveal.text))
        assert len({k for k in TEAMS if k in named}) == 2, "the reveal names both models"
    data = client.get("/api/arena/battle").json()
    world.clock.advance(seconds=5)
    assert set(data) == {"battle_id", "round", "prompt", "language", "answer_a", "answer_b", "csrf",
                         "proof_of_work_bits"}
    assert world.leaks(json.dumps(data, ensure_ascii=False)) == []
    voted = client.post("/api/arena/votes", json={"battle_id": data["battle_id"], "choice": "tie"},
                        headers={"X-CSRF-Token": data["csrf"]}).json()
    assert voted["counted"] and {voted["model_a"], voted["model_b"]} <= set(TEAMS)
    assert voted["names"]["a"]["name"] == world.teams[voted["model_a"]][0]


def test_an_answer_that_names_its_model_is_never_shown(world):
    client = world.client()
    revealing = world.store.arena_pool(SLUG, ROUND)
    assert world.revealing in revealing.revealing
    shown = set()
    for _ in range(40):
        data = client.get("/api/arena/battle").json()
        shown |= {data["answer_a"], data["answer_b"]}
        assert "K-EXAONE" not in data["answer_a"] + data["answer_b"]
    assert any(text.startswith("차분하게") for text in shown), "lg's clean answers still take part"


def test_the_daily_cap_stops_serving_and_excludes_votes_beyond_it(world):
    client = world.client(daily_cap=3)
    pages = [client.get("/arena").text for _ in range(4)]  # battles served before any vote
    results = [_vote(client, page, "b", world.clock) for page in pages]
    assert [("counted" in r.text and "not counted" not in r.text) for r in results] == [True, True, True, False]
    assert "daily_cap" in results[3].text
    limited = client.get("/arena")
    assert limited.status_code == 429 and "3 votes" in limited.text
    assert client.get("/api/arena/battle").status_code == 429
    world.clock.advance(days=1)  # a new day, a new allowance
    assert client.get("/arena").status_code == 200
    log = list(csv.DictReader(io.StringIO(client.get("/api/arena/vote-log.csv").text)))
    assert len(log) == 4 and [row["counted"] for row in log] == ["yes", "yes", "yes", "no"]
    assert log[3]["reason"].startswith("daily_cap")


def test_a_repeat_vote_on_the_same_prompt_and_pair_is_kept_but_not_counted(tmp_path):
    from gauntlet.ratings.arena import Prompt
    from gauntlet.store.repository import Store
    from gauntlet.web.app import create_app
    from fastapi.testclient import TestClient

    store = Store(f"sqlite:///{tmp_path / 'small.sqlite'}")
    store.register_challenge("c", "Small", "x = 1\n", at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    for key in ("alpha", "beta"):
        store.register_team("c", key, key.title(), key.title() + " Labs", "KR")
    store.add_arena_prompts("c", "r1", [Prompt("p1", "en", "Say hello.")])
    store.add_arena_answers("c", "r1", {"alpha": {"p1": "Hello there."}, "beta": {"p1": "Hi!"}})
    client = TestClient(create_app(store.url, arena_seed=1), headers={"Accept-Language": "en"})
    first = _vote(client, client.get("/arena").text, "a")
    second = _vote(client, client.get("/arena").text, "b")  # the only prompt and pair, again
    assert "not counted" not in first.text
    assert "not counted" in second.text and "duplicate" in second.text
    votes = store.arena_votes("c", "r1")
    assert len(votes) == 2  # both kept
    assert client.get("/api/arena/votes.csv").status_code == 403  # standings: published with the decision
    organiser = {"Authorization": f"Bearer {store.create_token('c', 'organiser', at=datetime(2026, 1, 2, tzinfo=timezone.utc))}"}
    accepted = list(csv.DictReader(io.StringIO(client.get("/api/arena/votes.csv", headers=organiser).text)))
    assert len(accepted) == 1


def test_voting_needs_the_visitors_csrf_token_and_its_own_battle(world):
    client = world.client()
    page = client.get("/arena").text
    forged = client.post("/arena/vote", data={"csrf": "forged", "battle_id": _battle_id(page), "choice": "a"})
    assert forged.status_code == 403 and "CSRF" in forged.text
    # Characters a signature never holds are a refusal like any other forgery, not a 500.
    for token in ("위조", "at\u00e9"):
        for post in (lambda: client.post("/arena/vote", data={"csrf": token, "battle_id": _battle_id(page),
                                                               "choice": "a"}),
                     lambda: client.post("/api/arena/votes", json={"battle_id": _battle_id(page), "choice": "a"},
                                         headers={"X-CSRF-Token": token.encode()})):
            assert post().status_code == 403
    forged_cookie = {"Cookie": f"{VISITOR_COOKIE}=someone.s\u00ecgn".encode()}
    assert world.client().get("/arena", headers=forged_cookie).status_code == 200  # it does not verify: a new visitor
    stranger = world.client()  # another browser: another visitor cookie
    stranger.get("/")
    stolen = stranger.post("/arena/vote", data={"csrf": csrf_of(stranger.get("/login").text),
                                                "battle_id": _battle_id(page), "choice": "a"})
    assert stolen.status_code == 400 and "another voter" in stolen.text
    bad = client.post("/arena/vote", data={"csrf": csrf_of(page), "battle_id": _battle_id(page), "choice": "A!"})
    assert bad.status_code == 400 and "vote must be one of" in bad.text
    assert client.post("/arena/vote", data={"csrf": csrf_of(page), "battle_id": "nope", "choice": "a"}).status_code == 404
    assert world.store.arena_votes(SLUG, ROUND) == []  # nothing was recorded by the refused posts
    assert _vote(client, page, "a").status_code == 200
    again = _vote(client, page, "b")
    assert again.status_code == 400 and "already has your vote" in again.text


def test_exported_votes_refit_with_gauntlet_ratings_fit(world, tmp_path):
    from gauntlet.cli import app

    # Simulated voters: lg's answers (they open with "차분하게", see conftest) win 85% of
    # their battles; other battles are a coin flip with some ties.
    rng = random.Random(5)
    for _ in range(8):
        client = world.client()
        for _ in range(10):
            data = client.get("/api/arena/battle").json()
            lg_side = "a" if data["answer_a"].startswith("차분하게") else "b" if data["answer_b"].startswith("차분하게") else None
            if lg_side:
                choice = lg_side if rng.random() < 0.85 else {"a": "b", "b": "a"}[lg_side]
            else:
                choice = rng.choice(["a", "b", "a", "b", "tie"])
            world.clock.advance(seconds=3)
            client.post("/api/arena/votes", json={"battle_id": data["battle_id"], "choice": choice},
                        headers={"X-CSRF-Token": data["csrf"]})
    exported = world.client().get("/api/arena/votes.csv")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert rows and {"model_a", "model_b", "winner"} <= set(rows[0])
    path = tmp_path / "votes.csv"
    path.write_text(exported.text, encoding="utf-8")
    result = CliRunner().invoke(app, ["ratings", "fit", str(path), "--bootstrap", "20", "--json"])
    assert result.exit_code == 0, result.output
    ratings = {r["model"]: r for r in json.loads(result.stdout)["ratings"]}
    assert set(ratings) == set(TEAMS)
    assert max(ratings, key=lambda m: ratings[m]["rating"]) == "lg"
    assert len(rows) == len(world.store.arena_votes(SLUG, ROUND))  # every vote here was acceptable


def test_after_a_restart_a_voter_is_not_served_what_they_already_judged(tmp_path):
    from fastapi.testclient import TestClient

    from gauntlet.ratings.arena import Prompt
    from gauntlet.store.repository import Store
    from gauntlet.web.app import create_app

    store = Store(f"sqlite:///{tmp_path / 'restart.sqlite'}")
    store.register_challenge("c", "Small", "x = 1\n", at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    for key in ("alpha", "beta"):
        store.register_team("c", key, key.title(), key.title() + " Labs", "KR")
    store.add_arena_prompts("c", "r1", [Prompt("p1", "en", "Say hello."), Prompt("p2", "en", "Say goodbye.")])
    store.add_arena_answers("c", "r1", {"alpha": {"p1": "Hello there.", "p2": "Bye now."},
                                        "beta": {"p1": "Hi!", "p2": "Farewell."}})
    clock = ReadingClock()
    client = TestClient(create_app(store.url, arena_seed=1, clock=clock))
    first = client.get("/arena").text
    assert "not counted" not in _vote(client, first, "a").text
    judged = "Say hello." if "Say hello." in first else "Say goodbye."
    restarted = TestClient(create_app(store.url, arena_seed=1, clock=clock))  # same store, same browser cookie
    restarted.cookies = client.cookies
    client = restarted
    second = client.get("/arena").text
    assert judged not in second
    assert "not counted" not in _vote(client, second, "b").text
