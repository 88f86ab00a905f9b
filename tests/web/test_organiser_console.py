"""The organisers' console over HTTP: each action of a round's life is an event of the record,
for organisers only, CSRF-checked for browsers, with its JSON twin under /api/organiser; bad
input is a 4xx with its reason and changes nothing."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gauntlet.web.app import create_app

ACTIONS = [  # (path, form) of every organiser POST the console adds
    ("/organiser/rounds/first/close", {}),
    ("/organiser/rounds/first/stages/audit", {}),
    ("/organiser/rounds/first/stages/evaluate/retry", {}),
    ("/organiser/rounds/first/decide", {}),
    ("/organiser/rounds/first/publish", {}),
    ("/organiser/rounds/first/redecide", {"appeal": "1", "corrections": "lg.benchmark=50"}),
    ("/organiser/rounds/first/arena/close", {"reason": "maintenance"}),
]


def kinds(world) -> list[str]:
    return [r["kind"] for r in world.store.records(world.slug)]


@pytest.mark.parametrize("path,form", ACTIONS)
def test_only_organisers_may_act_and_nothing_is_recorded_otherwise(draft_world, path, form):
    before = kinds(draft_world)
    for who, status in ((None, 401), ("lg", 403), ("e1", 403)):
        for address in (path, "/api" + path):
            reply = draft_world.client(who).post(address, data=form)
            assert reply.status_code == status, (who, address, reply.text)
    assert kinds(draft_world) == before


def test_the_read_routes_are_organiser_only(draft_world):
    for path in ("/organiser/rounds/first/draft", "/api/organiser/rounds/first/draft", "/api/organiser/jobs",
                 "/api/organiser/rounds"):
        assert draft_world.client().get(path).status_code == 401, path
        assert draft_world.client("skt").get(path).status_code == 403, path
        assert draft_world.client("organiser").get(path).status_code == 200, path


def test_a_browser_post_needs_the_csrf_token(draft_world):
    client = draft_world.client()
    page = client.get("/login").text
    client.post("/login", data={"csrf": draft_world.csrf_of(page), "token": draft_world.tokens["organiser"]})
    refused = client.post("/organiser/rounds/first/publish", data={"csrf": "forged"})
    assert refused.status_code == 403 and "CSRF" in refused.text
    assert kinds(draft_world)[-1] == "decision"
    console = client.get("/organiser").text
    done = client.post("/organiser/rounds/first/publish", data={"csrf": draft_world.csrf_of(console)},
                       follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith("/rounds/first")
    assert kinds(draft_world)[-1] == "publication"


def test_publishing_builds_the_report_folder_and_publishing_twice_is_refused(draft_world):
    organiser = draft_world.client("organiser")
    done = organiser.post("/api/organiser/rounds/first/publish")
    assert done.status_code == 200, done.text
    folder = draft_world.workspace / done.json()["report"]
    assert folder.is_file() and (folder.parent / "decision-bundle.json").is_file()
    assert draft_world.client().get("/api/leaderboard").json()["decision"]["round"] == "first"
    again = organiser.post("/api/organiser/rounds/first/publish")
    assert again.status_code == 400 and "no unpublished decision" in again.json()["error"]
    assert kinds(draft_world).count("publication") == 1
    shutil.rmtree(folder.parent)  # as a crash between the event and the folder would leave it
    third = organiser.post("/api/organiser/rounds/first/publish")
    assert third.status_code == 400 and "1 missing report folder(s) were rebuilt" in third.json()["error"]
    assert folder.is_file() and kinds(draft_world).count("publication") == 1


def test_without_a_workspace_the_console_refuses_to_publish(draft_world):
    organiser = draft_world.client("organiser", workspace=None)
    refused = organiser.post("/api/organiser/rounds/first/publish")
    assert refused.status_code == 400 and "--workspace" in refused.json()["error"]
    assert kinds(draft_world)[-1] == "decision"
    assert "--workspace" in organiser.get("/organiser", headers={"Accept": "text/html"}).text


def test_the_draft_page_shows_survival_close_calls_and_a_what_if_beside_the_draft(draft_world):
    organiser = draft_world.client("organiser")
    plain = organiser.get("/api/organiser/rounds/first/draft").json()
    assert plain["status"] == "draft" and plain["scenario"] == {} and plain["close_calls"]
    assert all(row["what_if"] is None and 0 <= row["survival"] <= 1 for row in plain["ranking"])
    cut = organiser.get("/api/organiser/rounds/first/draft", params={"eliminate_lowest": "3"}).json()
    assert cut["scenario"] == {"eliminate_lowest": 3}
    assert sum(r["what_if"]["outcome"].startswith("out") for r in cut["ranking"]) >= 3
    assert cut["outcomes_changed"] >= 1 and [r["team"] for r in cut["ranking"]] == [r["team"] for r in plain["ranking"]]
    weighted = organiser.get("/api/organiser/rounds/first/draft",
                             params={"weight.benchmark": "90", "weight.expert": "5", "weight.user": "5"}).json()
    assert weighted["scenario"]["weights"] == {"benchmark": 90.0, "expert": 5.0, "user": 5.0}
    page = organiser.get("/organiser/rounds/first/draft", params={"eliminate_lowest": "3"}, headers={"Accept": "text/html"})
    assert "What-if outcome" in page.text and "too close to call" in page.text and "P(survive)" in page.text
    echoed = organiser.get("/api/organiser/rounds/first/draft", params={"weight.benchmark": "40"}).json()
    assert echoed["scenario"] == {}, "the weights in force are no change"


@pytest.mark.parametrize("query,reason", [
    ({"weight.style": "10"}, "not 'style'"), ({"eliminate_lowest": "two"}, "whole number"),
    ({"min_total": "nan"}, "from 0 to 10,000"), ({"weight.user": "-1"}, "from 0 to 10,000"),
    ({"allocation": "lottery"}, "allocation must be"),
])
def test_a_bad_what_if_is_a_400_with_its_reason(draft_world, query, reason):
    reply = draft_world.client("organiser").get("/api/organiser/rounds/first/draft", params=query)
    assert reply.status_code == 400 and reason in reply.json()["error"]


def test_deciding_a_decided_round_and_a_round_that_does_not_exist_are_refused(draft_world):
    organiser = draft_world.client("organiser")
    again = organiser.post("/api/organiser/rounds/first/decide")
    assert again.status_code == 400 and "already decided" in again.json()["error"]
    missing = organiser.post("/api/organiser/rounds/nope/decide")
    assert missing.status_code == 400 and "no round 'nope'" in missing.json()["error"]
    assert kinds(draft_world)[-1] == "decision"


def test_re_deciding_needs_an_upheld_appeal(world):
    organiser, lg = world.client("organiser"), world.client("lg")
    appeal = lg.post("/team/appeals", data={"round": "first", "grounds": "mis-scored"}).json()["appeal"]
    early = organiser.post("/api/organiser/rounds/first/redecide", data={"appeal": appeal, "corrections": "lg.benchmark=50"})
    assert early.status_code == 400 and "not answered yet" in early.json()["error"]
    assert organiser.post(f"/api/organiser/appeals/{appeal}/answer",
                          data={"upheld": "yes", "answer": "Re-scored: 50."}).status_code == 200
    for corrections, reason in (("", "at least one correction"), ("lg.style=3", "FIELD must be one of"),
                                ("nobody.benchmark=3", "not in the decision"), ("lg.benchmark=300", "0 to 100")):
        bad = organiser.post("/api/organiser/rounds/first/redecide", data={"appeal": appeal, "corrections": corrections})
        assert bad.status_code == 400 and reason in bad.json()["error"], corrections
    assert "re-decision" not in kinds(world)
    page = organiser.get("/organiser/rounds/first/draft", headers={"Accept": "text/html"}).text
    assert f'name="appeal" value="{appeal}"' in page
    done = organiser.post("/api/organiser/rounds/first/redecide", data={"appeal": appeal, "corrections": "lg.benchmark=50"})
    assert done.status_code == 201 and done.json()["sequence"] == 2, done.text
    assert kinds(world)[-1] == "re-decision"
    twice = organiser.post("/api/organiser/rounds/first/redecide", data={"appeal": appeal, "corrections": "lg.benchmark=60"})
    assert twice.status_code == 400
    published = organiser.post("/api/organiser/rounds/first/publish")
    assert published.status_code == 200 and published.json()["sequence"] == 2
    assert world.client().get("/api/leaderboard").json()["components"]["lg"]["benchmark"]["value"] == 50.0


def test_the_arena_is_closed_and_reopened_with_its_reason(draft_world):
    organiser = draft_world.client("organiser")
    assert organiser.post("/api/organiser/rounds/first/arena/close", data={"reason": ""}).status_code == 400
    closed = organiser.post("/api/organiser/rounds/first/arena/close", data={"reason": "a prompt leaked"})
    assert closed.status_code == 200 and closed.json()["arena"]["state"] == "closed"
    assert draft_world.client().get("/arena").status_code != 200
    assert organiser.post("/api/organiser/rounds/first/arena/close", data={"reason": "again"}).status_code == 400
    opened = organiser.post("/api/organiser/rounds/first/arena/reopen", data={"reason": "prompt replaced"})
    assert opened.status_code == 200 and opened.json()["arena"] == {**opened.json()["arena"], "state": "open",
                                                                     "reason": "prompt replaced"}
    assert draft_world.client().get("/arena").status_code == 200
    assert organiser.post("/api/organiser/rounds/first/arena/reopen", data={"reason": "x"}).status_code == 400
    records = draft_world.store.records(draft_world.slug)
    assert [(r["kind"], r["inputs"]["reason"]) for r in records[-2:]] == [
        ("arena-closed", "a prompt leaked"), ("arena-reopened", "prompt replaced")]
    assert organiser.post("/api/organiser/rounds/first/arena/explode", data={"reason": "x"}).status_code == 400


def test_the_console_lists_each_rounds_phase_and_its_jobs(draft_world):
    organiser = draft_world.client("organiser")
    phases = {r["key"]: r["phase"] for r in organiser.get("/api/organiser/rounds").json()["rounds"]}
    assert phases["first"] == "decided" and set(phases.values()) - {"decided"} == {"waiting"}
    board = organiser.get("/api/organiser/jobs").json()
    assert board["counts"]["failed"] == 2 and {j["stage"] for j in board["jobs"]} == {"audit", "evaluate"}
    page = organiser.get("/organiser", headers={"Accept": "text/html"}).text
    assert 'id="job-board"' in page and "/organiser/console.js" in page
    script = organiser.get("/organiser/console.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")


# ----------------------------------------------------------------------------- stages on real inputs


@pytest.fixture(scope="module")
def _stage_template(tmp_path_factory):
    from tests.web.stage_world import build

    return build(tmp_path_factory.mktemp("stage-world"))


@pytest.fixture
def stage_world(_stage_template, tmp_path):
    from tests.web.stage_world import StageWorld

    ws = tmp_path / "workspace"
    shutil.copytree(_stage_template.workspace, ws)
    url = f"sqlite:///{(ws / 'gauntlet.sqlite').resolve()}"
    return StageWorld(ws, url, _stage_template.tokens, _stage_template.now)


def console(world, **options) -> tuple:
    app = create_app(world.url, clock=world.clock, workspace=world.workspace, stage_workers=0, **options)
    client = TestClient(app)
    client.headers["Authorization"] = f"Bearer {world.tokens['organiser']}"
    return app, client


@pytest.mark.parametrize("stage,form,reason", [
    ("audit", {"reference.foreign": "/etc"}, "must be relative to the workspace"),
    ("audit", {"reference.foreign": "../.."}, "leaves the workspace"),
    ("audit", {"reference.foreign": "inputs/nothing"}, "no folder or file"),
    ("evaluate", {"tasks": "inputs/prompts.jsonl"}, "no folder"),
    ("arena", {"prompts": "inputs/tasks"}, "no file"),
    ("arena", {"max_new_tokens": "100000"}, "max_new_tokens"),
    ("evaluate", {"device": "gpu; rm -rf"}, "device must be"),
    ("arena", {"backend": "local-completions"}, "backend must be hf or vllm"),
    ("train", {}, "no stage 'train'"),
])
def test_bad_stage_inputs_are_refused_before_anything_runs(stage_world, stage, form, reason):
    app, organiser = console(stage_world)
    reply = organiser.post(f"/api/organiser/rounds/first/stages/{stage}", data=form)
    assert reply.status_code == 400 and reason in reply.json()["error"], reply.text
    assert app.state.stages.runs("pipeline-challenge") == [] and organiser.get("/api/organiser/jobs").json()["jobs"] == []


def test_a_round_cannot_be_closed_before_its_deadline(stage_world):
    from datetime import timedelta

    early = type(stage_world)(stage_world.workspace, stage_world.url, stage_world.tokens,
                              stage_world.now - timedelta(days=3))
    _, organiser = console(early)
    for path in ("/api/organiser/rounds/first/close", "/api/organiser/rounds/first/stages/evaluate"):
        reply = organiser.post(path)
        assert reply.status_code == 400 and "takes submissions until" in reply.json()["error"], path


def test_an_organiser_runs_every_stage_from_the_console_then_decides_and_publishes(stage_world):
    app, organiser = console(stage_world)
    assert organiser.get("/api/organiser/rounds").json()["rounds"][0]["phase"] == "due"
    closed = organiser.post("/api/organiser/rounds/first/close")
    assert closed.status_code == 200 and closed.json()["newly"] is True
    for stage, form in (("audit", {}), ("evaluate", {}), ("arena", {"max_new_tokens": "4"})):
        started = organiser.post(f"/api/organiser/rounds/first/stages/{stage}", data=form)
        assert started.status_code == 202 and started.json()["state"] == "running", started.text
        assert app.state.stages.wait(300)
        run = next(r for r in organiser.get("/api/organiser/jobs").json()["stages"] if r["stage"] == stage)
        assert run["state"] == "done", run
    board = organiser.get("/api/organiser/jobs").json()
    assert board["counts"]["done"] == len(board["jobs"]) and board["counts"]["failed"] == 0
    # Each stage's summary is written in the language of whoever reads the console.
    assert "아레나 공개: 답변 6개 저장" in organiser.get("/organiser?lang=ko").text  # 3 teams, 2 prompts
    assert "arena open: 6 answers stored" in organiser.get("/organiser?lang=en").text
    assert {j["kind"] for j in board["jobs"]} == {"fingerprint", "audit", "evaluate", "arena"}
    assert organiser.get("/api/organiser/rounds").json()["rounds"][0]["arena"]["state"] == "open"
    decided = organiser.post("/api/organiser/rounds/first/decide")
    assert decided.status_code == 201 and decided.json()["gaps"] == [], decided.text
    published = organiser.post("/api/organiser/rounds/first/publish").json()
    folder = stage_world.workspace / Path(published["report"]).parent
    assert (folder / "index.html").is_file() and (folder / "decision-bundle.json").is_file()
    assert re.search(r"audits/\w+\.html", (folder / "index.html").read_text())
    assert organiser.get("/api/organiser/rounds").json()["rounds"][0]["phase"] == "published"


def test_a_failed_stage_is_retried_with_its_inputs_and_runs_only_what_failed(stage_world):
    app, organiser = console(stage_world)
    # The reference model is damaged after the stage was accepted: its fingerprint job fails.
    weights = stage_world.workspace / "inputs" / "references" / "foreign" / "model.safetensors"
    kept = weights.read_bytes()
    weights.write_bytes(b"not safetensors")
    assert organiser.post("/api/organiser/rounds/first/stages/audit").status_code == 202
    assert app.state.stages.wait(300)
    run = organiser.get("/api/organiser/jobs").json()["stages"][0]
    assert run["state"] == "failed" and "retry the rest" in run["error"]
    busy_free = organiser.get("/api/organiser/jobs").json()
    assert busy_free["counts"]["failed"] >= 1
    weights.write_bytes(kept)
    retried = organiser.post("/api/organiser/rounds/first/stages/audit/retry")
    assert retried.status_code == 202 and retried.json()["inputs"] == run["inputs"]
    assert app.state.stages.wait(300)
    board = organiser.get("/api/organiser/jobs").json()
    assert board["stages"][0]["state"] == "done" and board["counts"]["failed"] == 0, board


def test_serve_knows_its_workspace_in_one_process_and_in_each_worker(draft_world, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from gauntlet.cli import app as cli
    from gauntlet.web.app import WORKSPACE_VAR, app_from_environment

    missing = CliRunner().invoke(cli, ["serve", "--workspace", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "no such folder" in missing.output
    monkeypatch.setenv("GAUNTLET_DB", draft_world.url)
    monkeypatch.setenv(WORKSPACE_VAR, str(draft_world.workspace))
    worker = TestClient(app_from_environment())
    worker.headers["Authorization"] = f"Bearer {draft_world.tokens['organiser']}"
    done = worker.post("/api/organiser/rounds/first/publish")
    assert done.status_code == 200 and (draft_world.workspace / done.json()["report"]).is_file()


@pytest.fixture
def failed_team_job(stage_world):
    """The round closed and its audit run from the console while hanbit's stored weights were
    damaged: hanbit's fingerprint job failed. The weights are mended when the test gets them
    (they are the module's template's, so they are mended after it too)."""
    app, organiser = console(stage_world)
    sub = next(s for s in app.state.store.round_submissions("pipeline-challenge", "first") if s["team"] == "hanbit")
    weights = Path(sub["stored_path"]) / "model.safetensors"
    kept = weights.read_bytes()
    try:
        assert organiser.post("/api/organiser/rounds/first/close").status_code == 200
        weights.write_bytes(b"not safetensors")
        assert organiser.post("/api/organiser/rounds/first/stages/audit").status_code == 202
        assert app.state.stages.wait(300)
    finally:
        weights.write_bytes(kept)
    failed = [j for j in organiser.get("/api/organiser/jobs").json()["jobs"] if j["state"] == "failed"]
    assert [(j["team"], j["kind"]) for j in failed] == [("hanbit", "fingerprint")], failed
    yield app, failed[0]["key"]
    weights.write_bytes(kept)


def _team_client(world, app, team: str) -> TestClient:
    client = TestClient(app)
    client.headers["Authorization"] = f"Bearer {world.tokens[f'team {team}']}"
    return client


def test_a_teams_retry_reruns_the_stage_its_job_belongs_to_with_the_consoles_inputs(stage_world, failed_team_job):
    app, key = failed_team_job
    team = _team_client(stage_world, app, "hanbit")
    asked = team.post(f"/team/jobs/{key}/retry")
    assert asked.status_code == 200 and asked.json()["rerun"]["stage"] == "audit", asked.text
    assert asked.json()["waiting_for_organisers"] is False
    assert app.state.stages.wait(300)
    job = next(j for j in team.get("/api/team/jobs").json()["jobs"] if j["key"] == key)
    assert job["state"] == "done" and not job["retry_requested"], job
    assert app.state.store.pending_retries("pipeline-challenge") == []


def test_a_retry_the_server_cannot_run_waits_visibly_until_the_stage_runs_again(stage_world, failed_team_job):
    _, key = failed_team_job
    # Another server process (a fresh app): it never ran the stage, so it has no inputs to rerun it with.
    other, organiser = console(stage_world)
    team = _team_client(stage_world, other, "hanbit")
    asked = team.post(f"/team/jobs/{key}/retry")
    assert asked.status_code == 200 and asked.json()["rerun"] is None and asked.json()["waiting_for_organisers"]
    assert other.state.stages.runs("pipeline-challenge") == []
    assert "Waiting for the organisers" in team.get("/team?lang=en").text
    assert "운영진을 기다리는 중" in team.get("/team?lang=ko").text
    console_page = organiser.get("/organiser", headers={"Accept": "text/html"}).text
    assert 'id="retry-requests"' in console_page and "/organiser/rounds/first/stages/audit/retry" in console_page
    # The organisers' rerun (the same pipeline as `gauntlet challenge audit`) runs the job and clears the request.
    assert organiser.post("/api/organiser/rounds/first/stages/audit/retry").status_code == 202
    assert other.state.stages.wait(300)
    assert other.state.store.pending_retries("pipeline-challenge") == []
    assert 'id="retry-requests"' not in organiser.get("/organiser", headers={"Accept": "text/html"}).text
