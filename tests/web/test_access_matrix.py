"""Every route of the app, for every role, answers the status this table says.

The routes are read from the app itself: a route missing from the table fails the test, so
whoever adds one decides here who may use it.  Each role is a browser: it signs in through
the login form (a team, an expert, an organiser) and sends its page's CSRF token with every
POST, so the table checks roles, not forgotten tokens (and without its token every POST is
refused).  A second table checks the embargo: before the round's decision is published, team B
gets 403 for team A's results, and nobody but a team and the organisers sees its audits.
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
    api_appeal: int  # another, for the JSON twin of the answer
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
    ("GET", "/rounds/{round_key}/audits"): (lambda s: {"url": "/rounds/first/audits"}, everyone(200)),
    ("GET", "/rounds/{round_key}/audits/{team}"): (lambda s: {"url": "/rounds/first/audits/lg"}, everyone(200)),
    ("GET", "/rounds/{round_key}/bundle.json"): (lambda s: {"url": "/rounds/first/bundle.json"}, everyone(200)),
    ("GET", "/ledger.jsonl"): (lambda s: {}, everyone(200)),  # the public record; organisers get the drafts too
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
    ("GET", "/organiser/console.js"): (lambda s: {}, everyone(200)),  # a static script, no data in it
    ("GET", "/organiser/rounds/{round_key}/draft"): (lambda s: {"url": "/organiser/rounds/first/draft"},
                                                    only("organiser", 200)),
    ("GET", "/api/organiser/rounds/{round_key}/draft"): (
        lambda s: {"url": "/api/organiser/rounds/first/draft?weight.benchmark=60"}, only("organiser", 200)),
    ("GET", "/api/organiser/jobs"): (lambda s: {}, only("organiser", 200)),
    ("GET", "/api/organiser/rounds"): (lambda s: {}, only("organiser", 200)),
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
    ("POST", "/api/organiser/appeals/{appeal_id}/answer"): (
        lambda s: {"url": f"/api/organiser/appeals/{s.api_appeal}/answer",
                   "json": {"upheld": "no", "answer": "checked"}},
        only("organiser", 200)),
    # The console's round actions, each as a form and as JSON.  Each asks for something the
    # organiser is refused with its reason, so the matrix starts no work and changes no round.
    ("POST", "/organiser/rounds/{round_key}/close"): (  # the second round's deadline is months away
        lambda s: {"url": "/organiser/rounds/second/close", "data": {}}, only("organiser", 400)),
    ("POST", "/api/organiser/rounds/{round_key}/close"): (
        lambda s: {"url": "/api/organiser/rounds/second/close", "json": {}}, only("organiser", 400)),
    ("POST", "/organiser/rounds/{round_key}/stages/{stage}"): (  # a reference outside the workspace
        lambda s: {"url": "/organiser/rounds/first/stages/audit", "data": {"reference.glm-4.5-air": "/etc"}},
        only("organiser", 400)),
    ("POST", "/api/organiser/rounds/{round_key}/stages/{stage}"): (
        lambda s: {"url": "/api/organiser/rounds/first/stages/arena", "json": {"backend": "telnet"}},
        only("organiser", 400)),
    ("POST", "/organiser/rounds/{round_key}/stages/{stage}/retry"): (
        lambda s: {"url": "/organiser/rounds/first/stages/evaluate/retry", "data": {"device": "abacus"}},
        only("organiser", 400)),
    ("POST", "/api/organiser/rounds/{round_key}/stages/{stage}/retry"): (
        lambda s: {"url": "/api/organiser/rounds/first/stages/audit/retry", "json": {"reference.glm-4.5-air": ".."}},
        only("organiser", 400)),
    ("POST", "/organiser/rounds/{round_key}/decide"): (  # already decided
        lambda s: {"url": "/organiser/rounds/first/decide", "data": {}}, only("organiser", 400)),
    ("POST", "/api/organiser/rounds/{round_key}/decide"): (
        lambda s: {"url": "/api/organiser/rounds/first/decide", "json": {}}, only("organiser", 400)),
    ("POST", "/organiser/rounds/{round_key}/publish"): (  # already published
        lambda s: {"url": "/organiser/rounds/first/publish", "data": {}}, only("organiser", 400)),
    ("POST", "/api/organiser/rounds/{round_key}/publish"): (
        lambda s: {"url": "/api/organiser/rounds/first/publish", "json": {}}, only("organiser", 400)),
    ("POST", "/organiser/rounds/{round_key}/redecide"): (  # the appeal is not upheld
        lambda s: {"url": "/organiser/rounds/first/redecide",
                   "data": {"appeal": str(s.appeal), "corrections": "lg.benchmark=50"}}, only("organiser", 400)),
    ("POST", "/api/organiser/rounds/{round_key}/redecide"): (
        lambda s: {"url": "/api/organiser/rounds/first/redecide",
                   "json": {"appeal": str(s.api_appeal), "corrections": "lg.benchmark=50"}}, only("organiser", 400)),
    ("POST", "/organiser/rounds/{round_key}/arena/{action}"): (  # it is open already
        lambda s: {"url": "/organiser/rounds/first/arena/reopen", "data": {"reason": "matrix"}},
        only("organiser", 400)),
    ("POST", "/api/organiser/rounds/{round_key}/arena/{action}"): (  # no reason given
        lambda s: {"url": "/api/organiser/rounds/first/arena/close", "json": {}}, only("organiser", 400)),
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
    fourth = world.store.create_token(world.slug, "team", "nc", at=world.clock())
    appeal, api_appeal = (
        TestClient(_app(world, tmp_path), headers={"Authorization": f"Bearer {token}"})
        .post("/team/appeals", json={"round": "first", "grounds": "the arena counted a bot"}).json()["appeal"]
        for token in (third, fourth))
    token_id = next(t["id"] for t in world.store.tokens(world.slug) if t["subject"] == "e3")
    return Setup(world, code, upload["id"], appeal, api_appeal, token_id, tmp_path / "teams" / "lg" / "v1", files)


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


@pytest.mark.parametrize("role", ROLES)
def test_no_post_is_taken_from_a_browser_without_its_csrf_token(world, tmp_path, role):
    """The matrix's POSTs without the token are refused before they do anything: 403, or 401
    where the matrix expects one (a page to sign in for, or a token the login refuses)."""
    setup = _setup(world, tmp_path)
    client = _browser(_app(world, tmp_path), world, role)
    wrong = []
    for (method, route), (build, expected) in MATRIX.items():
        if method == "POST":
            request = {"url": route, **build(setup)}
            response = client.post(follow_redirects=False, **request)
            if response.status_code not in ((401, 403) if expected[role] == 401 else (403,)):
                wrong.append(f"POST {request['url']}: {response.status_code} ({response.text[:120]!r})")
    assert not wrong, f"as {role}, without the CSRF token:\n" + "\n".join(wrong)


# Before publication: team A's results are team A's and the organisers' alone.
EMBARGO = {
    "/teams/lg/rounds/first": {**everyone(403), "team_a": 200, "organiser": 200},
    "/api/teams/lg/rounds/first": {**everyone(403), "team_a": 200, "organiser": 200},
    "/api/rounds/first/decision": {**everyone(404), "organiser": 200},
    "/api/rounds/first/decisions": {**everyone(404), "organiser": 200},
    "/rounds/first": everyone(404),
    "/rounds/first/inputs.json": everyone(404),
    "/rounds/first/outputs.json": everyone(404),
    "/rounds/first/bundle.json": everyone(404),  # the public record holds no decision of the round yet
    # The audits: each team its own rows, organisers all of them, the rest a round with no decision.
    "/rounds/first/audits": {**everyone(404), "team_a": 200, "team_b": 200, "organiser": 200},
    "/api/rounds/first/audits": {**everyone(404), "team_a": 200, "team_b": 200, "organiser": 200},
    "/rounds/first/audits/lg": {**everyone(404), "team_a": 200, "organiser": 200},
    "/rounds/first/audits/skt": {**everyone(404), "team_b": 200, "organiser": 200},
    "/ledger.jsonl": everyone(200),  # up to the draft; organisers get the draft too (checked below)
    "/organiser/rounds/first/draft": only("organiser", 200),
    "/api/organiser/rounds/first/draft": only("organiser", 200),
}


@pytest.mark.parametrize("role", ROLES)
def test_no_role_but_the_team_and_organisers_opens_unpublished_results(draft_world, tmp_path, role):
    app = _app(draft_world, tmp_path)
    client = TestClient(app) if role == "voter" else _browser(app, draft_world, role)  # no battle before publication
    got = {path: client.get(path).status_code for path in EMBARGO}
    assert got == {path: expected[role] for path, expected in EMBARGO.items()}
    if role == "team_a":
        assert "84.0" in client.get("/api/teams/lg/rounds/first").text
    if role in ("team_a", "team_b", "organiser"):
        teams = [a["team"] for a in client.get("/api/rounds/first/audits").json()]
        assert teams == {"team_a": ["lg"], "team_b": ["skt"]}.get(role, sorted(draft_world.teams))
    draft = draft_world.store.round_decisions(draft_world.slug, "first", drafts=True)[-1]["record_hash"]
    assert (draft in client.get("/ledger.jsonl").text) == (role == "organiser")
