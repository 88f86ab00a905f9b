"""A three-round challenge, start to finish, through the CLI and the web app, on SQLite and
PostgreSQL: an entrant joins with its allotment, dataset grants follow who is in, a team
appeals on the web and the upheld appeal re-decides the round, the final names two winners;
the exported ledger verifies and every published bundle re-decides byte-identically.

The benchmark and audit stages are tested on their own (test_round_from_store.py); here their
results are recorded as those stages record them, so the test is about the record."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from gauntlet.cli import app
from gauntlet.domain.canonical import canonical_json

SLUG = "three-rounds"
TEAMS = ("hanbit", "dasan", "saebyeok", "mirae")
ENTRANT = "seoul-ai"
SPEC = f"""
[challenge]
id = "{SLUG}"
name = "Three-round challenge"
organiser = "Gauntlet tests"

[scoring.weights]
benchmark = 100

{"".join(f'[[teams]]{chr(10)}id = "{t}"{chr(10)}name = "{t.title()}"{chr(10)}organisation = "{t.title()} Labs"{chr(10)}country = "KR"{chr(10)}{chr(10)}' for t in TEAMS)}
[[teams]]
id = "{ENTRANT}"
name = "Seoul AI"
organisation = "Seoul AI Corp"
country = "KR"
joins_at_round = "second"
allotment = {{ B200 = 64 }}

[[rounds]]
id = "first"
name = "First"
submission_deadline = 2026-03-31T18:00:00+09:00
decision_date = 2026-04-15T10:00:00+09:00
appeal_window_days = 10
policy = {{ eliminate_lowest = 1 }}
pool = {{ B200 = 96 }}

[[rounds]]
id = "second"
name = "Second"
submission_deadline = 2026-06-30T18:00:00+09:00
decision_date = 2026-07-20T10:00:00+09:00
appeal_window_days = 10
policy = {{ eliminate_lowest = 1 }}
pool = {{ B200 = 96 }}

[[rounds]]
id = "final"
name = "Final"
submission_deadline = 2026-09-30T18:00:00+09:00
decision_date = 2026-10-15T10:00:00+09:00
appeal_window_days = 10
policy = {{ winners = 2 }}

[independence]
disqualifying_modules = ["embedding", "attention", "mlp", "lm_head"]

[[independence.references]]
id = "foreign"
organisation = "Foreign Lab"
country = "XX"
licence = "apache-2.0"

[resources]
allocation = "equal"
opening = {{ B200 = 80 }}
datasets = [{{ id = "corpus", name = "Korean corpus", provider = "NIA" }}]
"""
BENCHMARK = {"first": {"hanbit": 90, "dasan": 80, "saebyeok": 70, "mirae": 60},
             "second": {"hanbit": 70, "dasan": 95, "mirae": 85, ENTRANT: 88},
             "final": {"mirae": 60, "dasan": 95, ENTRANT: 90}}
runner = CliRunner()


def ok(*args) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, (args[:3], result.stdout, result.stderr)
    return result.stdout


def refused(*args) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 2, (args[:3], result.stdout, result.stderr)
    return result.stderr


def _results(store, round_id: str) -> None:
    """What `challenge evaluate` and `challenge audit` record for each submission."""
    for sub in store.round_submissions(SLUG, round_id):
        score = BENCHMARK[round_id][sub["team"]]
        store.record_component(sub["submission_id"], "benchmark", score, score - 1, score + 1)
        store.record_audit(sub["submission_id"], "foreign", "independent", 0.5,
                           {"reference": "foreign", "verdict": "independent", "p_value": 0.5, "modules": []})


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ws' / 'gauntlet.sqlite'}"
    return request.getfixturevalue("postgres_server").database()


def test_three_rounds_through_the_cli_and_the_web(models, tmp_path, url):
    from gauntlet.rounds import Ledger
    from gauntlet.rounds.workspace import open_context
    from gauntlet.store.repository import Store
    from gauntlet.web.app import create_app

    spec = tmp_path / "challenge.toml"
    spec.write_text(SPEC, encoding="utf-8")
    ws = tmp_path / "ws"
    common = ("--store", ws, "--db", url)
    tokens = dict(line.strip().rsplit(": ", 1) for line in
                  ok("challenge", "init", spec, "--now", "2026-03-01T09:00:00+09:00", *common).splitlines()
                  if ": gt_" in line)
    store = Store(url)

    def play(round_id, teams, submit_at, lock_at, decide_at, publish_at):
        for team in teams:
            ok("challenge", "submit", spec, team, models[team], "--round", round_id, "--now", submit_at, "--quiet",
               *common)
        ok("challenge", "lock", spec, "--round", round_id, "--now", lock_at, *common)
        _results(store, round_id)
        ok("challenge", "decide", spec, "--round", round_id, "--now", decide_at, *common)
        return json.loads(ok("challenge", "publish", spec, "--round", round_id, "--now", publish_at, "--json",
                             *common))

    first = play("first", TEAMS, "2026-03-20T09:00:00+09:00", "2026-04-01T09:00:00+09:00",
                 "2026-04-10T09:00:00+09:00", "2026-04-15T10:00:00+09:00")
    assert [e["team"] for e in store.round_decisions(SLUG, "first")[0]["outputs"]["eliminated"]] == ["mirae"]

    # mirae appeals on the web; the organisers uphold it on the web; the round is re-decided on the CLI
    clock = lambda: datetime.fromisoformat("2026-04-16T09:00:00+09:00")  # noqa: E731
    web = create_app(url, clock=clock)
    mirae, organiser = TestClient(web), TestClient(web)
    mirae.headers["Authorization"] = f"Bearer {tokens['team mirae']}"
    organiser.headers["Authorization"] = f"Bearer {tokens['organiser']}"
    appeal = mirae.post("/team/appeals", data={"round": "first", "grounds": "our benchmark run was cut short"})
    assert appeal.status_code == 201, appeal.text
    number = appeal.json()["appeal"]
    assert organiser.post(f"/organiser/appeals/{number}/answer",
                          data={"upheld": "yes", "answer": "re-run in full: 85"}).status_code == 200
    ok("challenge", "redecide", spec, "--round", "first", "--appeal", number, "--correct", "mirae.benchmark=85",
       "--now", "2026-04-17T09:00:00+09:00", *common)
    redecided = json.loads(ok("challenge", "publish", spec, "--round", "first", "--now", "2026-04-18T09:00:00+09:00",
                              "--json", *common))
    assert redecided["sequence"] == 2
    assert [e["team"] for e in store.round_decisions(SLUG, "first")[-1]["outputs"]["eliminated"]] == ["saebyeok"]
    assert TestClient(web).get("/api/leaderboard").json()["components"]["mirae"]["benchmark"]["value"] == 85

    # the entrant joins the second round with its allotment; the team that is out loses its grants
    assert "only entrants" in refused("challenge", "join", spec, "hanbit", "--now", "2026-05-01T09:00:00+09:00",
                                      *common)
    ok("challenge", "join", spec, ENTRANT, "--now", "2026-05-01T09:00:00+09:00", *common)
    state = open_context(spec, ws, url).state()
    assert state.holdings("second")[ENTRANT] == {"B200": 64}
    assert set(state.holdings("second")) == {"hanbit", "dasan", "mirae", ENTRANT}
    assert state.datasets("second")[ENTRANT] == ("corpus",) and "saebyeok" not in state.datasets("second")
    assert state.revoked_datasets("second") == {"saebyeok": ("corpus",)}
    status = ok("challenge", "status", spec, "--round", "second", *common)
    assert f"{ENTRANT}: active; holds 64 B200; datasets corpus" in status
    assert "saebyeok: out (first: performance); holds no GPUs; datasets revoked: corpus" in status
    assert "was eliminated in round 'first'" in refused("challenge", "submit", spec, "saebyeok", models["saebyeok"],
                                                        "--round", "second", "--now", "2026-06-01T09:00:00+09:00",
                                                        "--quiet", *common)

    second = play("second", ("hanbit", "dasan", "mirae", ENTRANT), "2026-06-01T09:00:00+09:00",
                  "2026-07-01T09:00:00+09:00", "2026-07-10T09:00:00+09:00", "2026-07-20T10:00:00+09:00")
    final = play("final", ("mirae", "dasan", ENTRANT), "2026-09-01T09:00:00+09:00", "2026-10-01T09:00:00+09:00",
                 "2026-10-10T09:00:00+09:00", "2026-10-15T10:00:00+09:00")
    state = open_context(spec, ws, url).state()
    assert set(state.winners) == {"dasan", ENTRANT} and state.current_round() is None

    exported = tmp_path / "ledger.jsonl"
    ok("ledger", "export", "-o", exported, "--db", url)
    assert Ledger(exported).verify().intact
    kinds = [r["kind"] for r in Ledger(exported).records()]
    assert kinds.count("publication") == 4 and kinds.count("re-decision") == 1 and "team-joined" in kinds
    assert "appeal" in kinds and "appeal-answer" in kinds
    gauntlet = str(Path(sys.executable).parent / "gauntlet")
    for published in (first, redecided, second, final):
        bundle = json.loads(Path(published["bundle"]).read_text())
        again = subprocess.run([gauntlet, "round", "decide", published["bundle"], "--json"], capture_output=True,
                               text=True)
        assert again.returncode == 0, again.stderr
        assert again.stdout.strip() == canonical_json(bundle["outputs"])
        assert "byte-identical" in ok("round", "replay", published["bundle"], "--ledger", exported)
