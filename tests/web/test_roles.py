"""Teams, experts and organisers: who may see and change what, over HTTP."""

import re
from datetime import timedelta

import pytest

from gauntlet.rounds.arena_desk import ArenaDesk

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(page: str) -> str:
    return CSRF.search(page).group(1)


def login(world, who: str):
    client = world.client()
    page = client.get("/login").text
    response = client.post("/login", data={"csrf": csrf_of(page), "token": world.tokens[who]}, follow_redirects=False)
    assert response.status_code == 303
    return client, response.headers["location"]


@pytest.mark.parametrize("path", ["/team", "/expert", "/organiser", "/api/team/jobs"])
def test_role_pages_need_a_token(world, path):
    response = world.client().get(path)
    assert response.status_code == 401
    assert "\n" not in (response.json()["error"] if path.startswith("/api") else "x")


def test_a_token_opens_only_its_own_role_and_revoked_tokens_open_nothing(world):
    assert world.client("lg").get("/organiser").status_code == 403
    assert world.client("e1").get("/team").status_code == 403
    assert world.client("organiser").get("/organiser").status_code == 200
    bogus = world.client()
    bogus.headers["Authorization"] = "Bearer gt_not-a-real-token"
    assert bogus.get("/team").status_code == 401
    token_id = world.store.identify_token(world.tokens["skt"])["id"]
    world.store.revoke_token(token_id, at=world.clock.now)
    assert world.client("skt").get("/team").status_code == 401


def test_tokens_are_stored_only_as_hashes(world, tmp_path):
    raw = open(world.url.removeprefix("sqlite:///"), "rb").read()
    for token in world.tokens.values():
        assert token.encode() not in raw


def test_login_sets_a_session_and_cookie_posts_need_the_csrf_token(world):
    client, home = login(world, "lg")
    assert home == "/team"
    page = client.get("/team")
    assert page.status_code == 200 and "K-EXAONE" in page.text
    assert "worker crashed" in page.text and "global-math" in page.text  # failed job's error, running job's progress
    forged = client.post("/team/jobs/audit-lg/retry", data={"csrf": "nope"})
    assert forged.status_code == 403
    assert world.store.pending_retries(world.slug) == []
    done = client.post("/team/jobs/audit-lg/retry", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert done.status_code == 303
    assert world.store.pending_retries(world.slug) == ["audit-lg"]
    assert "retry requested" in client.get("/team").text
    out = client.post("/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert out.status_code == 303 and client.get("/team").status_code == 401


def test_a_login_with_a_wrong_token_is_refused(world):
    client = world.client()
    page = client.get("/login").text
    assert client.post("/login", data={"csrf": csrf_of(page), "token": "gt_wrong"}).status_code == 401
    assert client.post("/login", data={"token": world.tokens["lg"]}).status_code == 403  # no CSRF token


def test_a_team_retries_only_its_own_failed_jobs(world):
    lg = world.client("lg")
    assert lg.post("/team/jobs/audit-skt/retry").status_code == 403
    running = lg.post("/team/jobs/eval-lg/retry")
    assert running.status_code == 400 and "only a failed job" in running.json()["error"]
    assert lg.post("/team/jobs/nope/retry").status_code == 404
    # This server never ran the audit stage from its console: the request waits for the organisers.
    assert lg.post("/team/jobs/audit-lg/retry").json() == {"job": "audit-lg", "retry_requested": True, "rerun": None,
                                                           "waiting_for_organisers": True}
    assert world.store.pending_retries(world.slug) == ["audit-lg"]
    # the stage's rerun (the console's or the CLI's) runs it again, which clears the request
    world.store.record_job(world.slug, {"key": "audit-lg", "description": "independence audit", "state": "running",
                                        "attempts": 2}, team="lg", at=world.clock.now)
    assert world.store.pending_retries(world.slug) == []


def test_appeals_are_filed_within_the_window_and_answered_once(world):
    lg = world.client("lg")
    assert lg.post("/team/appeals", data={"round": "first", "grounds": "  "}).status_code == 400
    assert lg.post("/team/appeals", data={"round": "second", "grounds": "x"}).status_code == 400  # not decided
    filed = lg.post("/team/appeals", data={"round": "first", "grounds": "Our benchmark run used the wrong precision."})
    assert filed.status_code == 201
    appeal_id = filed.json()["appeal"]
    again = lg.post("/team/appeals", data={"round": "first", "grounds": "And another thing."})
    assert again.status_code == 400 and "unanswered appeal" in again.json()["error"]
    organiser = world.client("organiser")
    assert "Our benchmark run used the wrong precision." in organiser.get("/organiser").text
    assert lg.post(f"/organiser/appeals/{appeal_id}/answer", data={"upheld": "no", "answer": "x"}).status_code == 403
    answered = organiser.post(f"/organiser/appeals/{appeal_id}/answer",
                              data={"upheld": "no", "answer": "The precision was the one you declared."})
    assert answered.status_code == 200
    twice = organiser.post(f"/organiser/appeals/{appeal_id}/answer", data={"upheld": "yes", "answer": "changed"})
    assert twice.status_code == 400
    stored = world.store.appeals(world.slug, team="lg")
    assert len(stored) == 1 and stored[0]["upheld"] is False and "declared" in stored[0]["answer"]
    assert "rejected" in world.client().get("/teams/lg").text  # the public record shows it
    world.clock.advance(days=11)  # the example spec's window is 10 days
    late = world.client("skt").post("/team/appeals", data={"round": "first", "grounds": "Too close to call."})
    assert late.status_code == 400 and "appeal window" in late.json()["error"]


def test_an_expert_sees_and_scores_only_their_own_assignments(world):
    panel = world.store.panel_rounds(world.slug)[0]
    lg_code = world.code_of("lg")
    lg_reviewers = next(e["reviewers"] for e in panel["entries"] if e["team"] == "lg")
    assert "e3" not in lg_reviewers  # e3 declared a conflict with lg
    e3 = world.client("e3")
    home = e3.get("/expert")
    assert home.status_code == 200 and lg_code not in home.text
    conflicted = e3.get(f"/expert/reviews/first/{lg_code}")
    assert conflicted.status_code == 403
    assert e3.post(f"/expert/reviews/first/{lg_code}", data={"score_korean": "5"}).status_code == 403
    assert e3.get("/expert/reviews/first/S-NOPE").status_code == 404
    unassigned = next(e["code"] for e in panel["entries"] if "e3" not in e["reviewers"] and e["team"] != "lg")
    refused = e3.get(f"/expert/reviews/first/{unassigned}")
    assert refused.status_code == 403
    # The refusal names nothing: a conflicted code reads like any code not assigned to this expert.
    assert "conflict" not in conflicted.text.lower()
    assert conflicted.text.replace(lg_code, "CODE") == refused.text.replace(unassigned, "CODE")

    reviewer = lg_reviewers[0]
    client = world.client(reviewer)
    page = client.get(f"/expert/reviews/first/{lg_code}")
    assert page.status_code == 200
    assert world.leaks(page.text) == [] and lg_code in page.text  # blind: names replaced by the code
    assert "Rate grammar" in page.text and "한국어 능력" not in page.text  # the spec's rubric, in the reader's language
    korean = client.get(f"/expert/reviews/first/{lg_code}", headers={"Accept-Language": "ko"}).text
    assert "한국어 능력" in korean and "Rate grammar" not in korean
    scores = {"score_korean": "4", "score_reasoning": "3", "score_safety": "5", "score_usefulness": "4"}
    assert client.post(f"/expert/reviews/first/{lg_code}", data={**scores, "score_safety": "9"}).status_code == 400
    assert client.post(f"/expert/reviews/first/{lg_code}", data={"score_korean": "4"}).status_code == 400
    stored = client.post(f"/expert/reviews/first/{lg_code}", data={**scores, "comment": "Fluent."})
    assert stored.status_code == 201
    final = client.post(f"/expert/reviews/first/{lg_code}", data=scores)
    assert final.status_code == 400 and "final" in final.json()["error"]
    review = next(e for e in world.store.panel_rounds(world.slug)[0]["entries"] if e["team"] == "lg")["reviews"]
    assert review == [{"expert": reviewer, "scores": {"korean": 4.0, "reasoning": 3.0, "safety": 5.0,
                                                      "usefulness": 4.0}}]


def test_the_organiser_overview_flags_what_needs_a_look(world):
    # A voter who always picks the left answer, 30 times, through the desk the app votes through.
    desk = ArenaDesk(world.store, seed=7)
    for i in range(30):
        at = world.clock.now + timedelta(seconds=10 * i)
        desk.vote(world.slug, desk.serve(world.slug, world.round, "v-lazy", at)["battle_id"], "v-lazy", "a", at)
    # Experts who disagree completely on "safety" and agree on the rest.
    panel = world.store.panel_rounds(world.slug)[0]
    for n, entry in enumerate(panel["entries"]):
        for j, expert in enumerate(entry["reviewers"]):
            world.store.record_review(world.slug, expert, world.round, entry["code"],
                                      {"korean": 1 + n, "reasoning": 1 + n % 5, "usefulness": 1 + n,
                                       "safety": [1, 5, 3][j]}, at=world.clock.now)
    page = world.client("organiser").get("/organiser").text
    assert "anomalous voter" in page and "do not count" in page
    assert "low agreement" in page and "safety" in page
    assert "too close to call" in page and "inconclusive audit" in page
    assert "worker crashed" in page  # failed jobs
    for e in panel["entries"]:
        assert e["code"] in page  # organisers see codes with teams


def test_an_organiser_issues_and_revokes_tokens_from_the_overview(world):
    client, home = login(world, "organiser")
    assert home == "/organiser"
    page = client.get("/organiser").text
    issued = client.post("/organiser/tokens", data={"csrf": csrf_of(page), "role": "expert", "subject": "e6",
                                                    "label": "Expert Six"})
    assert issued.status_code == 200
    token = re.search(r"gt_[A-Za-z0-9_-]+", issued.text).group(0)
    expert = world.client()
    expert.headers["Authorization"] = f"Bearer {token}"
    assert expert.get("/expert").status_code == 200
    bad = client.post("/organiser/tokens", data={"csrf": csrf_of(page), "role": "team", "subject": "ghost"})
    assert bad.status_code == 404
    token_id = world.store.identify_token(token)["id"]
    assert client.post(f"/organiser/tokens/{token_id}/revoke", data={"csrf": "x"}).status_code == 403
    revoked = client.post(f"/organiser/tokens/{token_id}/revoke", data={"csrf": csrf_of(page)}, follow_redirects=False)
    assert revoked.status_code == 303 and expert.get("/expert").status_code == 401
