"""A whole round the way an organising agency runs it: `gauntlet challenge` commands for
the organisers' steps, the web app for the public's votes and the experts' reviews, and
a decision taken only from what the store holds."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from gauntlet.cli import app

SLUG, ROUND = "pipeline-challenge", "first"
VOTERS, VOTES_EACH = 5, 24
runner = CliRunner()


def gauntlet(*args):
    return runner.invoke(app, [str(a) for a in args])


def ok(*args) -> str:
    result = gauntlet(*args)
    assert result.exit_code == 0, (args[:3], result.stdout, result.stderr)
    return result.stdout


def refused(*args) -> str:
    """The command must fail with one line on stderr and exit code 2."""
    result = gauntlet(*args)
    assert result.exit_code == 2, (args[:3], result.stdout, result.stderr)
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    return result.stderr


def tokens_of(output: str) -> dict[str, str]:
    tokens = {}
    for line in output.splitlines():
        who, sep, token = line.strip().rpartition(": ")
        if sep and token.startswith("gt_"):
            tokens[who] = token
    return tokens


class Workspaces:
    """Round workspaces and their databases: SQLite files inside them, or databases on a
    PostgreSQL server. A copy of a workspace copies its database too."""

    def __init__(self, engine: str, server=None):
        self.engine, self.server = engine, server
        self.urls: dict[Path, str] = {}

    def new(self, ws: Path) -> tuple:
        self.urls[ws] = f"sqlite:///{(ws / 'gauntlet.sqlite').resolve()}" if self.server is None else self.server.database()
        return self.args(ws)

    def copy(self, source: Path, ws: Path) -> tuple:
        shutil.copytree(source, ws)
        self.urls[ws] = (f"sqlite:///{(ws / 'gauntlet.sqlite').resolve()}" if self.server is None
                         else self.server.clone(self.urls[source]))
        return self.args(ws)

    def args(self, ws: Path) -> tuple:
        return ("--store", ws) if self.server is None else ("--store", ws, "--db", self.urls[ws])


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def workspaces(request):
    """The whole round runs on both engines the store supports."""
    if request.param == "sqlite":
        return Workspaces("sqlite")
    return Workspaces("postgresql", request.getfixturevalue("postgres_server"))


@pytest.fixture(scope="module")
def run(models, materials, times, people, tmp_path_factory, workspaces):
    """The round, start to finish, keeping every command's answer for the tests to read."""
    from gauntlet.store.repository import Store
    from gauntlet.web.app import create_app

    ws = tmp_path_factory.mktemp("workspace")
    spec = materials["spec"]
    common = workspaces.new(ws)
    log: dict = {"ws": ws, "spec": spec, "workspaces": workspaces}
    log["tokens"] = tokens_of(ok("challenge", "init", spec, "--now", "2026-03-01T09:00:00+09:00", *common))
    log["init_again"] = refused("challenge", "init", spec, "--now", "2026-03-01T09:00:00+09:00", *common)
    log["receipts"] = {}
    for team in ("hanbit", "dasan", "saebyeok", "mirae"):
        log["receipts"][team] = ok("challenge", "submit", spec, team, models[team], "--round", ROUND,
                                   "--now", times["before"], "--quiet", *common)
    log["submit_to_final_early"] = refused("challenge", "submit", spec, "hanbit", models["hanbit"], "--round",
                                           "final", "--now", times["before"], "--quiet", *common)
    log["late"] = refused("challenge", "submit", spec, "seoul-ai", models["seoul-ai"], "--round", ROUND,
                          "--now", times["after"], "--quiet", *common)
    log["audit_too_early"] = refused("challenge", "audit", spec, "--round", ROUND, "--reference",
                                     f"foreign={models['foreign']}", "--now", times["before"], *common)
    after = ("--now", times["after"], "--workers", "0", "--quiet", *common)
    # The same audit on a Ray started here, on a copy of the store at this point.
    on_ray = workspaces.copy(ws, tmp_path_factory.mktemp("on-ray") / "workspace")
    log["audit_on_ray"] = ok("challenge", "audit", spec, "--round", ROUND, "--reference",
                             f"foreign={models['foreign']}", "--now", times["after"], "--ray", "local", "--quiet",
                             *on_ray)
    log["ray_and_workers"] = refused("challenge", "audit", spec, "--round", ROUND, "--now", times["after"],
                                     "--ray", "local", "--workers", "2", *on_ray)
    log["audit"] = ok("challenge", "audit", spec, "--round", ROUND, "--reference", f"foreign={models['foreign']}",
                      *after)
    # A copy of the store where the benchmark jobs fail (a device that does not exist) ...
    failing = tmp_path_factory.mktemp("failing") / "workspace"
    on_failing = workspaces.copy(ws, failing)
    evaluate = ("challenge", "evaluate", spec, "--round", ROUND, "--tasks", materials["tasks"],
                *after[:-len(common)])
    log["failed_jobs"] = refused(*evaluate, *on_failing, "--device", "no-such-device")
    log["failed_states"] = Store(workspaces.urls[failing]).jobs(SLUG, team="dasan")
    log["evaluate"] = ok("challenge", "evaluate", spec, "--round", ROUND, "--tasks", materials["tasks"], *after)
    # ... and running the stage again retries them (here from the results cache the real run filled).
    shutil.copytree(ws / "eval-cache", failing / "eval-cache", dirs_exist_ok=True)
    log["retried"] = ok(*evaluate, *on_failing)
    log["retried_states"] = Store(workspaces.urls[failing]).jobs(SLUG, team="dasan")
    log["arena"] = ok("challenge", "arena", "open", spec, "--round", ROUND, "--prompts", materials["prompts"],
                      "--max-new-tokens", "16", *after)
    log["panel"] = ok("challenge", "panel", "open", spec, "--round", ROUND, "--now", times["after"], *common)
    decide = ("challenge", "decide", spec, "--round", ROUND, "--now", times["after"], "--seed", "7", *common)
    log["decide_before_votes"] = refused(*decide)
    log["final_before_first"] = refused("challenge", "decide", spec, "--round", "final", "--now",
                                        "2026-10-01T09:00:00+09:00", *common)
    # An organiser may decide despite the gaps, on a copy of the store at this point.
    gap_ws = tmp_path_factory.mktemp("gaps") / "workspace"
    on_gaps = workspaces.copy(ws, gap_ws)
    log["decided_with_gaps"] = json.loads(ok(*decide[:-len(common)], *on_gaps, "--allow-missing", "--json"))
    log["gap_records"] = Store(workspaces.urls[gap_ws]).records(SLUG)

    url = workspaces.urls[ws]
    clock = lambda: datetime.fromisoformat(times["after"])  # noqa: E731
    web = create_app(url, clock=clock, arena_seed=11)
    voters = [people["voter"](TestClient(web), seed) for seed in range(VOTERS)]
    log["votes"] = [v.vote_once() for _ in range(VOTES_EACH) for v in voters]
    log["decide_before_reviews"] = refused(*decide)
    log["reviews"] = {}
    for who, token in log["tokens"].items():
        if who.startswith("expert "):
            expert = TestClient(web)
            expert.headers["Authorization"] = f"Bearer {token}"
            log["reviews"][who.split()[1]] = people["review"](expert, seed=len(log["reviews"]))
    votes_url = f"/api/arena/votes.csv?challenge={SLUG}&round={ROUND}"
    log["votes_before_publication"] = TestClient(web).get(votes_url).status_code
    organiser = TestClient(web, headers={"Authorization": f"Bearer {log['tokens']['organiser']}"})
    log["published_votes"] = organiser.get(votes_url).text
    log["draft"] = json.loads(ok(*decide, "--json"))
    log["draft_public"] = TestClient(web).get(f"/api/teams/hanbit?challenge={SLUG}").json()
    log["decide_again"] = refused(*decide)
    publish = ("challenge", "publish", spec, "--round", ROUND, "--now", "2026-04-15T10:00:00+09:00", "--json", *common)
    log["decision"] = {**log["draft"], **json.loads(ok(*publish))}
    log["publish_again"] = json.loads(ok(*publish))
    log["ledger"] = ws / "exported-ledger.jsonl"
    ok("ledger", "export", "-o", log["ledger"], "--db", url)
    log["store"] = Store(url)
    return log


def test_init_prints_one_token_per_role_once(run):
    assert set(run["tokens"]) == {"organiser", "team hanbit", "team dasan", "team saebyeok", "team mirae",
                                  "team seoul-ai", "expert e1", "expert e2", "expert e3", "expert e4"}
    assert "already registered" in run["init_again"]
    identity = run["store"].identify_token(run["tokens"]["team mirae"])
    assert (identity["role"], identity["subject"]) == ("team", "mirae")


def test_submissions_are_locked_with_their_licence_and_a_late_one_is_refused(run, times):
    assert "licence apache-2.0 (allowed)" in run["receipts"]["hanbit"]
    assert "licence cc-by-nc-4.0 (NOT on the spec's list" in run["receipts"]["dasan"]
    assert "closed for submissions" in run["late"] and times["deadline"] in run["late"]
    subs = {s["team"]: s for s in run["store"].round_submissions(SLUG, ROUND)}
    assert sorted(subs) == ["dasan", "hanbit", "mirae", "saebyeok"], "the late team has no submission"
    assert subs["saebyeok"]["licence"] == "mit"
    assert datetime.fromisoformat(subs["hanbit"]["received_at"]) == datetime.fromisoformat(times["before"])
    # The stage after the deadline refuses to run early: the audit compares every team with every other.
    assert "takes submissions until" in run["audit_too_early"]


def test_the_next_round_takes_survivors_only(run, models, tmp_path):
    """After the first decision: a team that advanced may submit to the final; one that was
    eliminated, or that submitted nothing to the first round, may not."""
    decision = run["decision"]["outputs"]
    survivor = decision["advancing"][0]
    eliminated = decision["eliminated"][0]["team"]
    on_copy = run["workspaces"].copy(run["ws"], tmp_path / "final")
    submit = ("challenge", "submit", run["spec"])
    when = ("--round", "final", "--now", "2026-06-01T09:00:00+09:00", "--quiet", *on_copy)
    assert f"{survivor}" in ok(*submit, survivor, models[survivor], *when)
    assert "was eliminated in round 'first'" in refused(*submit, eliminated, models[eliminated], *when)
    assert "submitted nothing to round 'first'" in refused(*submit, "seoul-ai", models["seoul-ai"], *when)


def test_rounds_are_decided_in_order(run):
    assert "round 'first' is not decided and published yet; rounds run in order" in run["final_before_first"]
    assert "round 'final' opens after it" in run["submit_to_final_early"]


def test_the_audit_stage_runs_on_ray_with_the_same_verdicts(run):
    verdicts = lambda out: sorted(line for line in out.splitlines() if line.startswith("  "))  # noqa: E731
    assert verdicts(run["audit_on_ray"]) == verdicts(run["audit"]) and "mirae: derived" in run["audit_on_ray"]
    assert "not both" in run["ray_and_workers"]


def test_stages_run_as_jobs_whose_states_the_team_pages_show(run):
    jobs = run["store"].jobs(SLUG, team="hanbit")
    kinds = {j["kind"]: j["state"] for j in jobs}
    assert kinds == {"fingerprint": "done", "audit": "done", "evaluate": "done", "arena": "done"}
    assert "mirae: derived" in run["audit"] and "hanbit: independent" in run["audit"]
    assert (run["ws"] / "audits" / ROUND / "mirae.html").is_file()


def test_a_decision_waits_for_votes_and_reviews_and_names_what_is_missing(run):
    before_votes = run["decide_before_votes"]
    assert "has no counted arena votes" in before_votes and "of 2 expert reviews" in before_votes
    before_reviews = run["decide_before_reviews"]
    assert "arena votes" not in before_reviews, "the votes cast on the web are there now"
    assert "team 'hanbit' has 0 of 2 expert reviews" in before_reviews
    assert "already decided" in run["decide_again"]
    assert run["draft"]["status"] == "draft" and run["publish_again"]["published"] is False
    assert run["draft_public"]["submissions"][0]["components"] == {}, "a draft's scores are not public"


def test_the_round_is_decided_from_web_votes_reviews_audits_and_licences(run):
    outputs = run["decision"]["outputs"]
    out = {e["team"]: e["reason"] for e in outputs["eliminated"]}
    assert out["mirae"] == "independence", "the fine-tune of the foreign reference is disqualified"
    assert out["dasan"] == "eligibility", "a non-commercial licence is not an open-weight licence"
    assert len(out) == 3 and len(outputs["advancing"]) == 1, "then the lowest eligible team is cut"
    assert set(outputs["uncertainty"]["teams"]) == {"hanbit", "dasan", "saebyeok", "mirae"}
    assert all(0 <= t["survival_probability"] <= 1 for t in outputs["uncertainty"]["teams"].values())
    assert sum(run["reviews"].values()) == 4 * 2, "every submission got its k = 2 reviews on the web"
    panel = run["store"].panel_rounds(SLUG)[0]
    hanbit = next(e["code"] for e in panel["entries"] if e["team"] == "hanbit")
    assert hanbit not in {q["code"] for q in run["store"].expert_queue(SLUG, "e3")}, "e3 is recused from hanbit"


def test_the_decision_uses_exactly_what_the_store_holds(run):
    """Re-gathering the store gives the same inputs; `gauntlet round decide` on those inputs,
    in a fresh process, gives byte-identical outputs; the ledger and the store agree."""
    from gauntlet.domain.canonical import canonical_json
    from gauntlet.rounds import decision_inputs
    from gauntlet.rounds.gather import gather_round
    from gauntlet.rounds.ledger_file import Ledger
    from gauntlet.rounds.workspace import open_context

    stored = run["store"].round_decisions(SLUG, ROUND)
    assert len(stored) == 1 and stored[0]["record_hash"] == run["decision"]["record_hash"]
    ctx = open_context(run["spec"], run["ws"], run["workspaces"].urls[run["ws"]])
    again = decision_inputs(ctx.spec, ROUND, gather_round(ctx, ROUND, seed=7).team_results(fill_missing=False), seed=7)
    assert canonical_json(again) == canonical_json(stored[0]["inputs"])

    inputs_file = Path(run["decision"]["report"]).parent / "decision-inputs.json"
    assert json.loads(inputs_file.read_text()) == stored[0]["inputs"]
    fresh = subprocess.run([str(Path(sys.executable).parent / "gauntlet"), "round", "decide", str(inputs_file),
                            "--json"], capture_output=True, text=True)
    assert fresh.returncode == 0, fresh.stderr
    assert fresh.stdout.strip() == canonical_json(run["decision"]["outputs"])

    ledger = Ledger(run["ledger"])
    assert ledger.verify().intact
    assert run["store"].ledger_head(SLUG)["head"] == ledger.head == run["decision"]["ledger_head"]
    kinds = [r["kind"] for r in ledger.records()]
    assert kinds[0] == "spec" and kinds.count("submission") == 4 and kinds[-2:] == ["decision", "publication"]
    assert "intact" in ok("ledger", "verify", "--db", run["workspaces"].urls[run["ws"]], "--head", ledger.head)
    replay = ok("round", "replay", run["decision"]["bundle"], "--ledger", run["ledger"])
    assert "byte-identical" in replay


def test_the_user_component_comes_from_the_votes_the_web_publishes(run):
    """The counted votes are the ones `/api/arena/votes.csv` publishes, and the decision's
    user scores follow from refitting them."""
    from gauntlet.ratings.bradley_terry import fit_leaderboard
    from gauntlet.ratings.user_component import user_component_scores
    from gauntlet.ratings.votes import read_votes

    assert run["votes_before_publication"] == 403, "the votes are standings: nobody but organisers sees them early"
    published = run["published_votes"].strip().splitlines()[1:]
    counted = sum(v["counted"] for v in run["votes"])
    assert len(published) == counted > 0
    mine = Path(run["decision"]["report"]).parent / "arena-votes.csv"
    assert mine.is_file()
    assert len(mine.read_text().strip().splitlines()[1:]) == counted
    board = fit_leaderboard(read_votes(mine), bootstrap=100, seed=7)
    user = user_component_scores(board, method="win_rate")
    inputs = run["store"].round_decisions(SLUG, ROUND)[0]["inputs"]
    for team in inputs["teams"]:
        assert team["user"]["value"] == pytest.approx(user[team["team"]].value, abs=1e-9)


def test_the_report_and_the_team_pages_show_the_decision(run):
    report = Path(run["decision"]["report"])
    html = report.read_text()
    assert run["decision"]["ledger_head"] in html and "mirae" in html and "derived" in html
    assert (report.parent / "audits" / "mirae.html").is_file()
    profile = run["store"].team_profile(SLUG, "hanbit")["submissions"][0]
    assert set(profile["components"]) == {"benchmark", "expert", "user"}


def test_a_spec_changed_after_registration_is_refused(run, tmp_path):
    changed = tmp_path / "changed.toml"
    changed.write_text(Path(run["spec"]).read_text().replace("eliminate_lowest = 1", "eliminate_lowest = 2"))
    on_run = run["workspaces"].args(run["ws"])
    message = refused("challenge", "status", changed, "--round", ROUND, *on_run)
    assert "differs from the one challenge" in message
    status = ok("challenge", "status", run["spec"], "--round", ROUND, *on_run)
    assert "ready to decide" in status



def test_allow_missing_decides_with_the_gaps_on_record(run):
    decision = run["decided_with_gaps"]
    assert any("has no counted arena votes" in g for g in decision["gaps"])
    teams = decision["outputs"]["ranking"]
    assert all(t["points"]["user"] == 0 and t["points"]["expert"] == 0 for t in teams), "missing components score 0"
    record = run["gap_records"][-1]
    assert record["kind"] == "decision" and record["note"].startswith("decided with gaps: ") and "0 of 2 expert reviews" in record["note"]


def test_failed_jobs_are_recorded_and_running_the_stage_again_retries_them(run):
    assert "benchmarks: 4 job(s) failed" in run["failed_jobs"] and "run the same command again" in run["failed_jobs"]
    [failed] = [j for j in run["failed_states"] if j["kind"] == "evaluate"]
    assert (failed["state"], failed["attempts"]) == ("failed", 2) and "no-such-device" in failed["error"]
    [retried] = [j for j in run["retried_states"] if j["kind"] == "evaluate"]
    assert retried["state"] == "done" and retried["error"] is None
    assert "dasan: benchmark" in run["retried"]


def test_an_upheld_appeal_re_decides_the_round_without_erasing_the_original(run, times, tmp_path):
    from gauntlet.rounds import Ledger
    from gauntlet.store.repository import Store

    ws = tmp_path / "appeal"
    on_appeal = run["workspaces"].copy(run["ws"], ws)
    store = Store(run["workspaces"].urls[ws])
    original = run["decision"]
    team = next(e["team"] for e in original["outputs"]["eliminated"] if e["reason"] == "independence")
    inside = "2026-04-20T10:00:00+09:00"  # inside the window opened by the publication
    redecide = ("challenge", "redecide", run["spec"], "--round", ROUND, "--now", inside, *on_appeal)
    fix = ("--correct", f"{team}.independence=independent")

    appeal = int(ok("challenge", "appeal", run["spec"], team, "--round", ROUND, "--grounds",
                    "our weights were trained in-house; training logs attached", "--now", inside,
                    *on_appeal).split("#")[1].split()[0])
    assert "not answered yet" in refused(*redecide, "--appeal", appeal, *fix)
    ok("challenge", "answer", run["spec"], appeal, "--upheld", "--reasons", "the panel verified the training logs",
       "--now", inside, *on_appeal)
    assert "expected TEAM.FIELD=VALUE" in refused(*redecide, "--appeal", appeal, "--correct", "nonsense")
    # once the next round has locked its submissions, who advanced can no longer change
    late = [a if a != inside else "2026-10-01T09:00:00+09:00" for a in redecide]
    assert "can no longer be re-decided" in refused(*late, "--appeal", appeal, *fix)
    result = json.loads(ok(*redecide, "--appeal", appeal, *fix, "--json"))
    published = json.loads(ok("challenge", "publish", run["spec"], "--round", ROUND, "--now", inside, "--json",
                              *on_appeal))

    assert result["replaces"] == original["record_hash"] and result["sequence"] == original["sequence"] + 1
    assert published["sequence"] == result["sequence"] and Path(published["report"]).is_file()
    assert {e["team"]: e["reason"] for e in result["outputs"]["eliminated"]}.get(team) != "independence"
    decisions = store.round_decisions(SLUG, ROUND)
    assert decisions[0]["outputs"] == original["outputs"]  # the original is still on record
    assert decisions[-1]["record_hash"] == result["record_hash"]
    board = store.leaderboard(SLUG)
    assert board["decision"]["sequence"] == result["sequence"]
    exported = ws / "ledger.jsonl"
    ok("ledger", "export", "-o", exported, "--db", run["workspaces"].urls[ws])
    records = Ledger(exported).records()
    assert [r["kind"] for r in records[-4:]] == ["appeal", "appeal-answer", "re-decision", "publication"]
    record = next(r for r in records if r["kind"] == "re-decision")
    assert original["record_hash"] in record["references"]
    assert f"appeal #{appeal}" in record["note"] and f"{team}.independence=independent" in record["note"]
    assert Ledger(exported).verify().intact
    assert "byte-identical" in ok("round", "replay", published["bundle"], "--ledger", exported)
    # An appeal answers one decision: once it has been replaced, the same appeal cannot re-decide again.
    assert "already led to a re-decision" in refused(*redecide, "--appeal", appeal, "--correct", f"{team}.expert=90")


def test_the_decision_closes_the_arena_and_a_refused_decision_leaves_it_open(run):
    from gauntlet.web.app import create_app

    assert run["votes"], "votes were cast after the refused decisions: the arena stayed open"
    state = run["store"].arena_state(SLUG, ROUND)
    assert state["state"] == "closed" and "decided" in state["reason"]
    page = TestClient(create_app(run["store"].url)).get(f"/arena?challenge={SLUG}&round={ROUND}")
    assert page.status_code == 403 and "closed" in page.text
