"""Every route of the app, for every role, answers the status this table says.

The routes are read from the app itself: a route missing from the table fails the test, so
whoever adds one decides here who may use it.  Each role is a browser: it signs in through
the login form (a team, an expert, an organiser) and sends its page's CSRF token with every
POST, so the table checks roles, not forgotten tokens.  A second table checks the embargo:
before the round's decision is published, team B gets 403 for team A's results.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.routing import Mount

from gauntlet.web.app import create_app
from tests.web.tiny_models import declaration, tiny_model

ROLES = ("public", "voter", "team_a", "team_b", "expert", "organiser")
TOKENS = {"team_a": "lg", "team_b": "skt", "expert": "e1", "organiser": "organiser"}


def everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(ROLES, status)


def only(role: str, status: int) -> dict[str, int]:
    """A page for one role: 401 until signed in, 403 for the other roles."""
    return {"public": 401, "voter": 401, **dict.fromkeys(TOKENS, 403), **({"team_a": status, "team_b": status}
                                                                          if role == "team" else {role: status})}


@dataclass
class Setup:
    """What the requests point at, made before the matrix runs."""

    world: object
    code: str  # an anonymous code assigned to expert e1
    upload: str  # an unfinished upload of team A
    appeal: int  # an appeal of a third team, unanswered
    token_id: int  # a token the organiser may revoke (expert e3's)
    model: Path  # team A's model folder inside its submission root
    files: dict  # the tiny model's files


def upload_files(s: Setup) -> dict:
    return {"files": [("files", (name, data)) for name, data in s.files.items()]}


# (method, route) -> (the request: path and body, expected status per role)
MATRIX = {
    ("GET", "/healthz"): (lambda s: {}, everyone(200)),
    ("GET", "/openapi.json"): (lambda s: {}, everyone(200)),
    ("GET", "/docs"): (lambda s: {}, everyone(200)),
    ("GET", "/docs/assets"): (lambda s: {"url": "/docs/assets/swagger-ui.css"}, everyone(200)),
    ("GET", "/"): (lambda s: {}, everyone(200)),
    ("GET", "/api/leaderboard"): (lambda s: {}, everyone(200)),
    ("GET", "/teams/{team}"): (lambda s: {"url": "/teams/lg"}, everyone(200)),
    ("GET", "/api/teams/{team}"): (lambda s: {"url": "/api/teams/lg"}, everyone(200)),
    ("GET", "/teams/{team}/rounds/{round_key}"): (lambda s: {"url": "/teams/lg/rounds/first"}, everyone(200)),
    ("GET", "/api/teams/{team}/rounds/{round_key}"): (lambda s: {"url": "/api/teams/lg/rounds/first"}, everyone(200)),
    ("GET", "/rounds/{round_key}"): (lambda s: {"url": "/rounds/first"}, everyone(200)),
    ("GET", "/rounds/{round_key}/inputs.json"): (lambda s: {"url": "/rounds/first/inputs.json"}, everyone(200)),
    ("GET", "/rounds/{round_key}/outputs.json"): (lambda s: {"url": "/rounds/first/outputs.json"}, everyone(200)),
    ("GET", "/api/rounds"): (lambda s: {}, everyone(200)),
    ("GET", "/api/rounds/{round_key}/decisions"): (lambda s: {"url": "/api/rounds/first/decisions"}, everyone(200)),
    ("GET", "/api/rounds/{round_key}/decision"): (lambda s: {"url": "/api/rounds/first/decision"}, everyone(200)),
    ("GET", "/api/rounds/{round_key}/audits"): (lambda s: {"url": "/api/rounds/first/audits"}, everyone(200)),
    ("GET", "/arena"): (lambda s: {}, everyone(200)),
    ("GET", "/api/arena/battle"): (lambda s: {}, everyone(200)),
    ("GET", "/api/arena/votes.csv"): (lambda s: {}, everyone(200)),
    ("GET", "/api/arena/vote-log.csv"): (lambda s: {}, everyone(200)),
    ("GET", "/login"): (lambda s: {}, everyone(200)),
    ("GET", "/team"): (lambda s: {}, only("team", 200)),
    ("GET", "/api/team"): (lambda s: {}, only("team", 200)),
    ("GET", "/api/team/jobs"): (lambda s: {}, only("team", 200)),
    ("GET", "/api/team/appeals"): (lambda s: {}, only("team", 200)),
    ("GET", "/api/team/intakes"): (lambda s: {}, only("team", 200)),
    # Another team's upload reads exactly like a missing one.
    ("GET", "/api/team/uploads/{upload_id}"): (lambda s: {"url": f"/api/team/uploads/{s.upload}"},
                                               {**only("team", 200), "team_b": 404}),
    ("GET", "/expert"): (lambda s: {}, only("expert", 200)),
    ("GET", "/api/expert/queue"): (lambda s: {}, only("expert", 200)),
    ("GET", "/expert/reviews/{round_key}/{code}"): (lambda s: {"url": f"/expert/reviews/first/{s.code}"},
                                                    only("expert", 200)),
    ("GET", "/organiser"): (lambda s: {}, only("organiser", 200)),
    # POSTs, each with its page's CSRF token.  A vote without a battle is refused for everyone.
    ("POST", "/arena/vote"): (lambda s: {"data": {}}, everyone(404)),
    ("POST", "/api/arena/votes"): (lambda s: {"data": {}}, everyone(404)),
    ("POST", "/api/arena/reopen"): (lambda s: {"data": {"reason": "matrix"}}, only("organiser", 400)),
    ("POST", "/login"): (lambda s: {"data": {"token": "not-a-token"}}, everyone(401)),
    ("POST", "/team/jobs/{job_key}/retry"): (lambda s: {"url": "/team/jobs/audit-lg/retry", "data": {}},
                                             {**only("team", 303), "team_b": 403}),
    ("POST", "/team/appeals"): (lambda s: {"data": {"round": "first", "grounds": "our benchmark was mis-scored"}},
                                only("team", 303)),
    ("POST", "/team/upload"): (lambda s: {"data": {"round": "second"}, **upload_files(s)}, only("team", 303)),
    ("POST", "/team/submissions"): (lambda s: {"data": {"round": "second", "location": str(s.model)}},
                                    {**only("team", 303), "team_b": 403}),  # A's folder is outside B's root
    ("POST", "/api/team/submissions"): (lambda s: {"json": {"round": "second", "location": str(s.model)}},
                                        {**only("team", 201), "team_b": 403}),
    ("POST", "/api/team/uploads"): (lambda s: {"json": {"round": "second", "files": declaration(s.files)}},
                                    only("team", 201)),
    ("POST", "/api/team/uploads/{upload_id}/files/{index}"): (
        lambda s: {"url": f"/api/team/uploads/{s.upload}/files/0?offset=0", "content": b"{"},
        {**only("team", 200), "team_b": 404}),
    ("POST", "/api/team/uploads/{upload_id}/finish"): (  # not every byte is in: refused with the reason
        lambda s: {"url": f"/api/team/uploads/{s.upload}/finish"}, {**only("team", 400), "team_b": 404}),
    ("POST", "/api/team/uploads/{upload_id}/cancel"): (
        lambda s: {"url": f"/api/team/uploads/{s.upload}/cancel"}, {**only("team", 200), "team_b": 404}),
    ("POST", "/expert/reviews/{round_key}/{code}"): (  # no scores given: refused with the reason
        lambda s: {"url": f"/expert/reviews/first/{s.code}", "data": {}}, only("expert", 400)),
    ("POST", "/organiser/appeals/{appeal_id}/answer"): (
        lambda s: {"url": f"/organiser/appeals/{s.appeal}/answer", "data": {"upheld": "no", "answer": "checked"}},
        only("organiser", 303)),
    ("POST", "/organiser/rounds/{round_key}/publish"): (  # already published
        lambda s: {"url": "/organiser/rounds/first/publish", "data": {}}, only("organiser", 400)),
    ("POST", "/organiser/panel"): (lambda s: {"data": {"round": "first"}}, only("organiser", 400)),
    ("POST", "/organiser/tokens"): (lambda s: {"data": {"role": "expert", "subject": "e2"}}, only("organiser", 200)),
    ("POST", "/organiser/tokens/{token_id}/revoke"): (
        lambda s: {"url": f"/organiser/tokens/{s.token_id}/revoke", "data": {}}, only("organiser", 303)),
    ("POST", "/logout"): (lambda s: {"data": {}}, everyone(303)),  # last: it ends the session
}


def app_routes(app) -> list[tuple[str, str]]:
    """(method, path) of every route, the included routers' too (each router's own `routes`)."""
    found, todo = [], list(app.routes)
    while todo:
        route = todo.pop()
        if hasattr(route, "original_router"):  # an included APIRouter
            todo += route.original_router.routes
        elif isinstance(route, Mount):
            found.append(("GET", route.path))
        elif getattr(route, "methods", None):
            found += [(m, route.path) for m in sorted(route.methods) if m != "HEAD"]
    return found


def _app(world, tmp_path: Path):
    return create_app(world.url, clock=world.clock, arena_seed=7, workspace=tmp_path / "workspace",
                      submission_roots=(str(tmp_path / "teams" / "{team}"),))


def _browser(app, world, role: str) -> TestClient:
    client = TestClient(app)
    page = client.get("/login" if role in TOKENS else "/arena")
    if role in TOKENS:
        signed = client.post("/login", data={"token": world.tokens[TOKENS[role]], "csrf": world.csrf_of(page.text)},
                             follow_redirects=False)
        assert signed.status_code == 303
    if role == "voter":
        battle = client.get("/api/arena/battle").json()
        voted = client.post("/api/arena/votes", data={"battle_id": battle["battle_id"], "choice": "a",
                                                      "csrf": battle["csrf"]})
        assert voted.status_code == 200, voted.text
    return client


def _csrf(client: TestClient) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)


def _setup(world, tmp_path: Path) -> Setup:
    from gauntlet.artifacts.content_store import FileEntry, Manifest
    from gauntlet.artifacts.intakes import Intakes

    files = tiny_model(tmp_path / "teams" / "lg" / "v1")
    entries = tuple(FileEntry(f["path"], f["size"], f["sha256"]) for f in declaration(files))
    upload = Intakes(tmp_path / "workspace").create(world.slug, "lg", "second", Manifest(entries), source="upload",
                                                    location=None, at=world.clock())
    code = world.store.expert_queue(world.slug, "e1")[0]["code"]
    third = world.store.create_token(world.slug, "team", "upstage", at=world.clock())
    appeal = TestClient(_app(world, tmp_path), headers={"Authorization": f"Bearer {third}"}).post("/team/appeals", json={"round": "first", "grounds": "the arena counted a bot"}).json()["appeal"]
    token_id = next(t["id"] for t in world.store.tokens(world.slug) if t["subject"] == "e3")
    return Setup(world, code, upload["id"], appeal, token_id, tmp_path / "teams" / "lg" / "v1", files)


def test_every_route_is_in_the_matrix(world, tmp_path):
    routes = set(app_routes(_app(world, tmp_path)))
    missing = sorted(routes - set(MATRIX))
    assert not missing, f"routes without expected statuses (add them to MATRIX): {missing}"
    gone = sorted(set(MATRIX) - routes)
    assert not gone, f"MATRIX lists routes the app no longer has: {gone}"


@pytest.mark.parametrize("role", ROLES)
def test_every_route_answers_each_role_as_the_matrix_says(world, tmp_path, role):
    setup = _setup(world, tmp_path)
    client = _browser(_app(world, tmp_path), world, role)
    wrong = []
    for (method, route), (build, expected) in MATRIX.items():
        request = {"url": route, **build(setup)}
        if method == "POST":
            request.setdefault("data", None)
            if request["data"] is not None:
                request["data"] = {**request["data"], "csrf": _csrf(client)}
            else:
                request["headers"] = {"X-CSRF-Token": _csrf(client)}
                request.pop("data")
        response = client.request(method, follow_redirects=False, **request)
        if response.status_code != expected[role]:
            wrong.append(f"{method} {request['url']}: {response.status_code}, expected {expected[role]} "
                         f"({response.text[:120]!r})")
    assert not wrong, f"as {role}:\n" + "\n".join(wrong)


# Before publication: team A's results are team A's and the organisers' alone.
EMBARGO = {
    "/teams/lg/rounds/first": {**everyone(403), "team_a": 200, "organiser": 200},
    "/api/teams/lg/rounds/first": {**everyone(403), "team_a": 200, "organiser": 200},
    "/api/rounds/first/decision": {**everyone(404), "organiser": 200},
    "/api/rounds/first/decisions": {**everyone(404), "organiser": 200},
    "/rounds/first": everyone(404),
}


@pytest.mark.parametrize("role", ROLES)
def test_no_role_but_the_team_and_organisers_opens_unpublished_results(draft_world, tmp_path, role):
    app = _app(draft_world, tmp_path)
    client = TestClient(app) if role == "voter" else _browser(app, draft_world, role)  # no battle before publication
    got = {path: client.get(path).status_code for path in EMBARGO}
    assert got == {path: expected[role] for path, expected in EMBARGO.items()}
    if role == "team_a":
        assert "84.0" in client.get("/api/teams/lg/rounds/first").text
