"""The arena's defences against bought votes, over HTTP: limits that survive clearing cookies,
the trusted proxy header, signed-in-only voting, the proof of work, sealed battle ids, and
the arena's open/closed state."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gauntlet.ratings.arena import Prompt
from gauntlet.rounds.arena_desk import close_arena
from gauntlet.rounds.vote_gate import client_address, network_of, solve_proof_of_work
from gauntlet.store.repository import Store
from gauntlet.web.app import create_app

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "k-sovereign-2026.toml"
SLUG, ROUND = "k-sovereign-2026", "first"
T0 = datetime(2026, 1, 2, tzinfo=timezone.utc)  # when the tokens are issued
TEAMS = ("lg", "skt", "upstage")


class Clock:
    def __init__(self):
        self.now = datetime(2026, 5, 1, 9, 0, tzinfo=timezone.utc)

    def __call__(self):
        self.now += timedelta(seconds=7)  # every request takes a reader seven seconds
        return self.now


def arena(tmp_path, **rules) -> tuple[Store, callable]:
    """The example challenge with extra [arena] rules, three teams' answers to eight prompts,
    and a factory of browsers (`client(address)`) on one app."""
    lines = "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in rules.items())
    spec = EXAMPLE.read_text(encoding="utf-8").replace("daily_cap_per_voter = 50\n",
                                                       "daily_cap_per_voter = 50\n" + lines)
    store = Store(f"sqlite:///{tmp_path / 'arena.sqlite'}")
    store.register_challenge(SLUG, "Sovereign", spec, at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    for key in TEAMS:
        store.register_team(SLUG, key, key.upper(), f"{key} labs", "KR")
    prompts = [Prompt(f"p{i}", "en", f"Question {i}?") for i in range(8)]
    store.add_arena_prompts(SLUG, ROUND, prompts)
    store.add_arena_answers(SLUG, ROUND, {t: {p.id: f"answer {i} of model {n}" for i, p in enumerate(prompts)}
                                          for n, t in enumerate(TEAMS)})
    app = create_app(store.url, clock=Clock(), arena_seed=3)

    def client(address: str = "203.0.113.9", **headers) -> TestClient:
        browser = TestClient(app, client=(address, 40000))
        browser.headers.update(headers)
        return browser

    return store, client


def battle_and_vote(browser: TestClient, choice: str = "a", **extra):
    battle = browser.get("/api/arena/battle")
    if battle.status_code != 200:
        return battle
    data = battle.json()
    return browser.post("/api/arena/votes", json={"battle_id": data["battle_id"], "choice": choice, **extra},
                        headers={"X-CSRF-Token": data["csrf"]})


def test_clearing_cookies_does_not_reset_the_address_cap(tmp_path):
    store, client = arena(tmp_path, daily_cap_per_address=4)
    counted = []
    for _ in range(3):  # three fresh cookie jars, one address
        browser = client("198.51.100.20")
        for _ in range(2):
            reply = battle_and_vote(browser, "ab"[len(counted) % 2])
            counted.append(reply.status_code == 200 and reply.json()["counted"])
    assert counted == [True, True, True, True, False, False]
    assert battle_and_vote(client("198.51.100.20")).status_code == 429  # a fresh cookie gets no battle
    assert "this address has cast today" in client("198.51.100.20").get("/arena").text
    assert battle_and_vote(client("192.0.2.1")).json()["counted"], "another address votes as usual"


def test_the_network_cap_covers_neighbouring_addresses(tmp_path):
    store, client = arena(tmp_path, daily_cap_per_network=3)
    replies = [battle_and_vote(client(f"198.51.100.{i}")) for i in range(1, 6)]
    assert [r.status_code for r in replies] == [200, 200, 200, 429, 429]
    assert battle_and_vote(client("198.51.101.1")).status_code == 200  # the next /24
    assert network_of("2001:db8:1:2::7") == "2001:db8:1::/48" and network_of("not an address") == ""


def test_the_client_address_comes_from_the_trusted_proxy_header_only(tmp_path):
    store, client = arena(tmp_path, trusted_proxy_header="X-Forwarded-For", trusted_proxies=["10.0.0.0/8"])
    behind = battle_and_vote(client("10.0.0.2", **{"X-Forwarded-For": "198.51.100.7"}))
    spoofed = battle_and_vote(client("203.0.113.50", **{"X-Forwarded-For": "198.51.100.7"}))
    assert behind.status_code == spoofed.status_code == 200
    votes = store.arena_votes(SLUG, ROUND)
    desk_keys = create_app(store.url).state.arena.origins
    assert votes[0].address == desk_keys.of("198.51.100.7")[0], "the proxy's word for the client"
    assert votes[1].address == desk_keys.of("203.0.113.50")[0], "a client cannot choose its address"
    assert "198.51.100.7" not in {v.address for v in votes}, "the raw address is never stored"
    # Read from the right, skipping our own proxies; a forged left-most entry does not help.
    assert client_address("10.0.0.2", "6.6.6.6, 198.51.100.7, 10.0.0.9", ("10.0.0.0/8",)) == "198.51.100.7"
    assert client_address("10.0.0.2", "garbage", ("10.0.0.0/8",)) == "10.0.0.2"


def test_a_signed_in_only_arena_refuses_anonymous_voters_and_caps_the_account(tmp_path):
    store, client = arena(tmp_path, voters="signed_in", proof_of_work_bits=12)
    assert client().get("/api/arena/battle").status_code == 401
    token = store.create_token(SLUG, "voter", "citizen-1", at=T0)
    results = []
    for _ in range(3):  # the same account from three browsers
        browser = client()
        browser.headers["Authorization"] = f"Bearer {token}"
        battle = browser.get("/api/arena/battle").json()
        assert battle["proof_of_work_bits"] == 0, "signed-in voters owe no proof of work"
        results.append(browser.post("/api/arena/votes", json={"battle_id": battle["battle_id"], "choice": "a"}))
    assert all(r.status_code == 200 and r.json()["counted"] for r in results)
    assert {v.voter_id for v in store.arena_votes(SLUG, ROUND)} == {"voter:citizen-1"}


def test_anonymous_voters_send_a_proof_of_work_with_each_vote(tmp_path):
    store, client = arena(tmp_path, proof_of_work_bits=10)
    browser = client()
    data = browser.get("/api/arena/battle").json()
    assert data["proof_of_work_bits"] == 10
    vote = {"battle_id": data["battle_id"], "choice": "b"}
    headers = {"X-CSRF-Token": data["csrf"]}
    missing = browser.post("/api/arena/votes", json=vote, headers=headers)
    assert missing.status_code == 400 and "proof of work" in missing.json()["error"]
    wrong = browser.post("/api/arena/votes", json={**vote, "pow": "nope"}, headers=headers)
    assert wrong.status_code == 400
    assert store.arena_votes(SLUG, ROUND) == []
    good = browser.post("/api/arena/votes", json={**vote, "pow": solve_proof_of_work(data["battle_id"], 10)},
                        headers=headers)
    assert good.status_code == 200 and good.json()["counted"]
    page = browser.get("/arena").text
    assert 'data-pow-bits="10"' in page and "crypto.subtle.digest" in page


def test_a_battle_id_names_nothing_and_cannot_be_forged(tmp_path):
    store, client = arena(tmp_path)
    browser = client()
    data = browser.get("/api/arena/battle").json()
    import base64

    raw = base64.urlsafe_b64decode(data["battle_id"] + "=" * (-len(data["battle_id"]) % 4))
    assert not any(f'"{t}"'.encode() in raw for t in TEAMS), "the sealed id carries no readable model name"
    forged = data["battle_id"][:-4] + ("AAAA" if not data["battle_id"].endswith("AAAA") else "BBBB")
    reply = browser.post("/api/arena/votes", json={"battle_id": forged, "choice": "a"},
                         headers={"X-CSRF-Token": data["csrf"]})
    assert reply.status_code == 404 and "unknown battle" in reply.json()["error"]
    assert store.arena_votes(SLUG, ROUND) == []


def test_a_closed_arena_refuses_votes_with_the_reason_until_an_organiser_reopens_it(tmp_path):
    store, client = arena(tmp_path)
    browser = client()
    data = browser.get("/api/arena/battle").json()  # served while open
    close_arena(store, SLUG, ROUND, reason="round 'first' was decided", at=T0)
    late = browser.post("/api/arena/votes", json={"battle_id": data["battle_id"], "choice": "a"},
                        headers={"X-CSRF-Token": data["csrf"]})
    assert late.status_code == 403 and "closed (round 'first' was decided)" in late.json()["error"]
    assert store.arena_votes(SLUG, ROUND) == [], "a refused vote is not stored, so it can never count"
    page = client().get("/arena")
    assert page.status_code == 403 and "closed" in page.text
    team = client()
    team.headers["Authorization"] = f"Bearer {store.create_token(SLUG, 'team', 'lg', at=T0)}"
    assert team.post("/api/arena/reopen", json={"reason": "I want more votes"}).status_code == 403
    organiser = client()
    organiser.headers["Authorization"] = f"Bearer {store.create_token(SLUG, 'organiser', at=T0)}"
    assert organiser.post("/api/arena/reopen", json={}).status_code == 400, "a reopening says why"
    reopened = organiser.post("/api/arena/reopen", json={"reason": "appeal 3: votes were lost"})
    assert reopened.status_code == 200 and reopened.json()["state"] == "open"
    assert battle_and_vote(client()).json()["counted"]
    with pytest.raises(Exception, match="already open"):
        store.set_arena_state(SLUG, ROUND, "open", "again", T0)


def test_the_readme_shows_an_arena_table_the_spec_accepts():
    import re

    from gauntlet import spec as spec_module
    from gauntlet.rounds.arena_desk import arena_rules

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    table = re.search(r"## The arena and its defences.*?```toml\n(.*?)```", readme, re.S).group(1)
    example = EXAMPLE.read_text(encoding="utf-8")
    text = re.sub(r"\[arena\]\n(?:[^\[#].*\n|\n)*", table + "\n", example, count=1)
    arena = spec_module.loads(text).arena
    assert (arena.daily_cap_per_address, arena.daily_cap_per_network, arena.votes_per_second_per_voter) == (300, 1500, 1)
    assert arena.trusted_proxy_header == "X-Forwarded-For" and arena.trusted_proxies == ("10.0.0.0/8",)
    rules = arena_rules(text)
    assert rules.policy.address_per_second == 5 and rules.voters == "anyone"


def test_what_a_voter_is_told_is_what_the_decision_decides(tmp_path):
    """Each vote's live answer (counted, or the reason) comes from the desk's streaming screen;
    the decision replays the stored log in a fresh process.  They agree vote by vote."""
    store, client = arena(tmp_path, daily_cap_per_address=4, daily_cap_per_network=9)
    told = []
    browsers = [client(f"198.51.100.{i % 3}") for i in range(5)]  # five browsers, three addresses, one network
    served = [(browser, browser.get("/api/arena/battle").json()) for browser in browsers for _ in range(3)]
    for k, (browser, battle) in enumerate(served):  # every battle was served before the caps were used up
        reply = browser.post("/api/arena/votes", json={"battle_id": battle["battle_id"], "choice": "ab"[k % 2]},
                             headers={"X-CSRF-Token": battle["csrf"]})
        assert reply.status_code == 200
        told.append(reply.json()["reason"])
    review = create_app(store.url).state.arena.review(SLUG, ROUND)
    decided = {e.vote.sequence: e.reason for e in review.excluded}
    in_order = [decided.get(v.sequence) for v in store.arena_votes(SLUG, ROUND)]
    assert len(told) == len(in_order) > 8
    assert {r.split(":")[0] for r in told if r} >= {"address_cap", "network_cap"}, told
    assert told == in_order


def test_an_organiser_reopens_a_closed_arena_from_the_shell(tmp_path):
    from typer.testing import CliRunner

    from gauntlet.cli import app

    store, _ = arena(tmp_path)
    spec = tmp_path / "challenge.toml"
    spec.write_text(store.spec_text(SLUG), encoding="utf-8")
    args = ["challenge", "arena", "reopen", str(spec), "--round", ROUND, "--db", store.url]
    refused = CliRunner().invoke(app, [*args, "--reason", "nothing to reopen"])
    assert refused.exit_code == 2 and "already open" in refused.output
    assert close_arena(store, SLUG, ROUND, reason="round 'first' was decided", at=T0)
    assert not close_arena(store, SLUG, ROUND, reason="again", at=T0), "closing twice does nothing"
    done = CliRunner().invoke(app, [*args, "--reason", "appeal 2 upheld"])
    assert done.exit_code == 0, done.output
    assert store.arena_state(SLUG, ROUND) | {"at": None} == {"state": "open", "reason": "appeal 2 upheld", "at": None}
