"""An expert drafts a review, sees the draft again, and submits it once: a draft is the
expert's own and is never counted; a submitted review is final."""

from __future__ import annotations

SCORES = {"score_korean": "4", "score_reasoning": "3", "score_safety": "5", "score_usefulness": "4"}


def _reviews_of(world, team: str) -> list:
    return next(e for e in world.store.panel_rounds(world.slug)[0]["entries"] if e["team"] == team)["reviews"]


def _reviewer(world, team: str) -> str:
    return next(e["reviewers"] for e in world.store.panel_rounds(world.slug)[0]["entries"] if e["team"] == team)[0]


def test_a_draft_is_saved_many_times_seen_again_and_submitted_once(world):
    code, reviewer = world.code_of("lg"), _reviewer(world, "lg")
    expert = world.client(reviewer)
    path = f"/expert/reviews/first/{code}"
    first = expert.post(path, data={"action": "draft", "score_korean": "2", "comment": "Halfway."})
    assert first.status_code == 200 and first.json()["stored"] == "draft"
    again = expert.post(path, data={"action": "draft", "score_korean": "4", "score_safety": "5",
                                    "comment": "Fluent so far."})
    assert again.status_code == 200
    material = world.store.review_material(world.slug, reviewer, "first", code)
    assert material["draft"]["scores"] == {"korean": 4.0, "safety": 5.0}  # the latest draft replaces the first
    assert material["draft"]["comment"] == "Fluent so far." and material["review"] is None
    page = expert.get(path).text
    assert 'value="4" required checked' in page and "Fluent so far." in page and "saved draft" in page
    assert _reviews_of(world, "lg") == [], "a draft is never counted"
    queue = expert.get("/expert")
    assert "draft" in queue.text and world.store.expert_queue(world.slug, reviewer)[0]["reviewed"] is False

    # A draft's scores are checked too; a bad one keeps the previous draft.
    assert expert.post(path, data={"action": "draft", "score_korean": "9"}).status_code == 400
    assert world.store.review_material(world.slug, reviewer, "first", code)["draft"]["scores"]["korean"] == 4.0
    # Submitting needs every criterion.
    incomplete = expert.post(path, data={"score_korean": "4"})
    assert incomplete.status_code == 400 and "give a score" in incomplete.json()["error"]

    submitted = expert.post(path, data={**SCORES, "action": "submit", "comment": "Fluent."})
    assert submitted.status_code == 201 and submitted.json()["stored"] == "submitted"
    assert _reviews_of(world, "lg") == [{"expert": reviewer, "scores": {"korean": 4.0, "reasoning": 3.0,
                                                                        "safety": 5.0, "usefulness": 4.0}}]
    after = world.store.review_material(world.slug, reviewer, "first", code)
    assert after["draft"] is None and after["review"]["comment"] == "Fluent."
    for late in ({"action": "draft", "score_korean": "1"}, SCORES):
        refused = expert.post(path, data=late)
        assert refused.status_code == 400 and "final" in refused.json()["error"]
    assert "submitted review is final" in expert.get(path).text


def test_a_draft_is_invisible_to_everyone_but_its_expert(world):
    code, reviewer = world.code_of("lg"), _reviewer(world, "lg")
    secret = "Draft remark 7731, not for anyone else."
    assert world.client(reviewer).post(f"/expert/reviews/first/{code}",
                                       data={"action": "draft", "score_korean": "2", "comment": secret}).status_code == 200
    other = next(e for e in world.store.panel_rounds(world.slug)[0]["entries"] if e["team"] == "lg")["reviewers"][1]
    assert secret not in world.client(other).get(f"/expert/reviews/first/{code}").text
    for role in (None, "lg", "skt", "organiser", "e3"):
        for path in ("/", "/organiser", "/team", "/expert", f"/expert/reviews/first/{code}", "/teams/lg"):
            assert secret not in world.client(role).get(path).text, (role, path)


def test_a_browser_draft_returns_to_the_page_and_a_stranger_is_refused_in_the_same_words(world):
    code, reviewer = world.code_of("lg"), _reviewer(world, "lg")
    expert = world.client()
    login = expert.get("/login")
    csrf = world.csrf_of(login.text)
    assert expert.post("/login", data={"csrf": csrf, "token": world.tokens[reviewer]},
                       follow_redirects=False).status_code == 303
    csrf = world.csrf_of(expert.get(f"/expert/reviews/first/{code}").text)
    saved = expert.post(f"/expert/reviews/first/{code}", data={"csrf": csrf, "action": "draft", "score_korean": "3"},
                        follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == f"/expert/reviews/first/{code}?saved=1"
    # e3 declared a conflict with lg: drafting is refused exactly like an unassigned code, naming nothing.
    e3 = world.client("e3")
    conflicted = e3.post(f"/expert/reviews/first/{code}", data={"action": "draft", "score_korean": "3"})
    unassigned = next(e["code"] for e in world.store.panel_rounds(world.slug)[0]["entries"]
                      if "e3" not in e["reviewers"] and e["team"] != "lg")
    other = e3.post(f"/expert/reviews/first/{unassigned}", data={"action": "draft", "score_korean": "3"})
    assert conflicted.status_code == other.status_code == 403
    assert conflicted.json()["error"].replace(code, "CODE") == other.json()["error"].replace(unassigned, "CODE")
    assert conflicted.json()["error"] == f"submission {code} is not assigned to you"
