"""A round that requires a training-run chain and tests its benchmarks for contamination:
the evidence is stored, the outcome follows from it through the decision's inputs, the
published bundle re-decides it, and the report shows the chains and the table."""

from __future__ import annotations

import json
import re
import shutil
from datetime import datetime, timedelta

import pytest

from gauntlet.evaluation import write_tasks
from gauntlet.evaluation.contamination import published_split
from gauntlet.rounds.own_work import own_work_round
from gauntlet.rounds.pipeline import submit
from gauntlet.rounds.publication import publish_round
from gauntlet.rounds.round_decision import decide_round
from gauntlet.rounds.workspace import open_context

from .conftest import AFTER, BEFORE, ROUND, benchmark_tasks


def _chain(folder, steps_and_models, final):
    """A chain file whose checkpoints are copies of the given model folders."""
    folder.mkdir(parents=True)
    entries = []
    for i, (step, model) in enumerate(steps_and_models):
        shutil.copytree(model, folder / f"ckpt-{i}")
        entries.append({"step": step, "tokens": step * 100, "path": f"ckpt-{i}"})
    shutil.copytree(final, folder / "final")
    (folder / "chain.json").write_text(json.dumps({"checkpoints": entries, "final": "final"}))
    return folder / "chain.json"


@pytest.fixture(scope="module")
def decided(models, materials, tmp_path_factory):
    root = tmp_path_factory.mktemp("own-work")
    spec = materials["spec"].read_text() + '\n[own_work]\nrequire_chain = true\non_contamination = "disqualify"\n'
    (root / "challenge.toml").write_text(spec)
    before, after = datetime.fromisoformat(BEFORE), datetime.fromisoformat(AFTER)
    ctx = open_context(root / "challenge.toml", root / "ws", register=True, at=before - timedelta(days=30))
    for team in ("hanbit", "saebyeok", "mirae"):
        submit(ctx, team, models[team], ROUND, now=before, progress=False)
    chains = {
        # hanbit's run: its own fresh initialisation is its step 0 (a one-link chain)
        "hanbit": _chain(root / "hanbit-chain", [(0, models["hanbit"])], models["hanbit"]),
        # mirae fine-tuned the foreign model and hands in a chain that starts from it
        "mirae": _chain(root / "mirae-chain", [(0, models["foreign"])], models["mirae"]),
    }
    tasks = write_tasks([published_split(t, fraction=0.5, seed=i) for i, t in enumerate(benchmark_tasks())],
                        root / "tasks")
    assert tasks
    evidence = own_work_round(ctx, ROUND, root / "tasks", now=after, chains=chains,
                              references={"foreign": models["foreign"]})
    decision = decide_round(ctx, ROUND, now=after, allow_missing=True)
    published = publish_round(ctx, ROUND, now=after)
    return evidence, decision, published, {"root": root, "ctx": ctx, "chains": chains}


def test_chains_are_verified_and_a_missing_or_broken_one_is_a_stated_reason(decided):
    evidence, decision, *_ = decided
    assert evidence["chains"]["hanbit"]["verdict"] == "consistent"
    assert evidence["chains"]["mirae"]["verdict"] == "broken"
    out = {e["team"]: e for e in decision.outputs["eliminated"]}
    assert out["mirae"]["reason"] == "independence" and "training-run chain broken" in out["mirae"]["detail"]
    assert "first offending step 0" in out["mirae"]["detail"]
    assert "no training-run chain" in out["saebyeok"]["detail"]
    assert "hanbit" not in out or "chain" not in out["hanbit"]["detail"]
    inputs_chain = {t["team"]: t.get("chain") for t in decision.inputs["teams"]}
    assert inputs_chain["hanbit"]["verdict"] == "consistent" and inputs_chain["saebyeok"] is None
    assert decision.inputs["own_work_policy"] == {"require_chain": True, "on_contamination": "disqualify"}


def test_untrained_models_are_not_contaminated_and_the_report_shows_the_evidence(decided):
    evidence, decision, published, _ = decided
    rows = [r for team_rows in evidence["contamination"].values() for r in team_rows]
    assert len(rows) == 6 and all(r["verdict"] == "clean" for r in rows)
    assert not any(e["reason"] == "contamination" for e in decision.outputs["eliminated"])
    page = published.report.read_text()
    # in the spec's language (Korean, the default)
    assert "학습 과정 체인" in page and "벤치마크 오염" in page and "<svg" in page
    assert page.count("(n=") == 12, "each team and task: published and held-out counts"
    assert (published.folder / "audits" / "mirae-chain.html").is_file() and 'href="audits/mirae-chain.html"' in page
    assert "해당 팀은 실격됩니다" in page  # what the spec says a contaminated task leads to


def test_the_evidence_is_in_the_store_and_the_stage_run_again_skips_it(decided, materials):
    from typer.testing import CliRunner

    from gauntlet.cli import app

    evidence, _, _, run = decided
    stored = run["ctx"].store.round_own_work(run["ctx"].slug, ROUND)
    assert {t: k["chain"]["verdict"] for t, k in stored.items() if "chain" in k} == {"hanbit": "consistent",
                                                                                     "mirae": "broken"}
    assert all(k["contamination"]["verdict"] == "clean" for k in stored.values()) and len(stored) == 3
    assert stored["mirae"]["chain"]["report"]["first_offending_step"] == 0
    assert {r["reference"] for r in stored["mirae"]["chain"]["report"]["references"]} == {"foreign", "hanbit",
                                                                                          "saebyeok"}
    assert not (run["ctx"].workspace.audits(ROUND) / "own_work.json").exists(), "the store holds it, not a file"
    chains = [f"--chain={team}={path}" for team, path in run["chains"].items()]
    result = CliRunner().invoke(app, ["challenge", "own-work", str(run["root"] / "challenge.toml"), "--round", ROUND,
                                      *chains, "--tasks", str(run["root"] / "tasks"), "--store", str(run["root"] / "ws"),
                                      "--now", AFTER, "--quiet", "--workers", "0"])
    assert result.exit_code == 0, result.output
    assert "hanbit: chain consistent (verified before)" in result.stdout
    assert "mirae: chain broken (verified before)" in result.stdout
    assert result.stdout.count("contamination (tested before): none found") == 3
    assert run["ctx"].store.round_own_work(run["ctx"].slug, ROUND) == stored
    status = CliRunner().invoke(app, ["challenge", "status", str(run["root"] / "challenge.toml"), "--round", ROUND,
                                      "--store", str(run["root"] / "ws")])
    assert status.exit_code == 0, status.output
    assert "audit -, chain consistent, contamination clean" in status.stdout.split("hanbit:")[-1]


def test_the_published_bundle_re_decides_byte_identically_with_the_evidence(decided):
    import subprocess
    import sys
    from pathlib import Path

    from gauntlet.domain.canonical import canonical_json

    _, decision, published, _ = decided
    bundle = json.loads(published.bundle.read_text())
    assert [t.get("chain", {}).get("verdict") for t in bundle["inputs"]["teams"]] == ["consistent", "broken", None]
    assert all(len(t["contamination"]) == 2 for t in bundle["inputs"]["teams"])
    fresh = subprocess.run([str(Path(sys.executable).parent / "gauntlet"), "round", "decide", str(published.bundle),
                            "--json"], capture_output=True, text=True)
    assert fresh.returncode == 0, fresh.stderr
    assert fresh.stdout.strip() == canonical_json(decision.outputs)


def test_bad_own_work_input_is_one_line_and_exit_2(decided):
    from typer.testing import CliRunner

    from gauntlet.cli import app

    _, _, _, run = decided
    base = ["challenge", "own-work", str(run["root"] / "challenge.toml"), "--round", ROUND,
            "--store", str(run["root"] / "ws"), "--now", AFTER, "--quiet"]
    for args, message in ((["--chain", "nobody=x.json"], "no submission"),
                          (["--chain", f"saebyeok={run['root'] / 'missing.json'}"], "no such file"),
                          (["--tasks", str(run["root"] / "tasks"), "--reference", "glm=/x"], "not one of the spec's"),
                          ([], "nothing to do")):
        result = CliRunner().invoke(app, [*base, *args])
        assert result.exit_code == 2 and message in result.stderr, (args, result.output)
        assert result.stderr.count("\n") == 1


@pytest.fixture(scope="module")
def contaminated(decided, models, materials, tmp_path_factory):
    """A second challenge whose spec disqualifies for contamination: one team's evidence says
    it trained on a task's published items (the rows recorded as the stage records them)."""
    _, _, _, first = decided
    found = first["ctx"].store.round_own_work(first["ctx"].slug, ROUND)
    root = tmp_path_factory.mktemp("contaminated")
    (root / "challenge.toml").write_text(materials["spec"].read_text()
                                         + '\n[own_work]\nrequire_chain = false\non_contamination = "disqualify"\n')
    before, after = datetime.fromisoformat(BEFORE), datetime.fromisoformat(AFTER)
    ctx = open_context(root / "challenge.toml", root / "ws", register=True, at=before - timedelta(days=30))
    ids = {team: submit(ctx, team, models[team], ROUND, now=before, progress=False).submission_id
           for team in ("hanbit", "saebyeok")}
    ctx.require_locked(ROUND, after)
    rows = [dict(r) for r in found["saebyeok"]["contamination"]["tasks"]]
    rows[0] |= {"verdict": "contaminated", "p_value": 2e-5, "gap": 0.31}
    task = rows[0]["task"]
    hanbit_chain = found["hanbit"]["chain"]
    ctx.store.record_own_work([
        (ids["hanbit"], "chain", "consistent", {k: v for k, v in hanbit_chain.items() if k != "verdict"}),
        (ids["hanbit"], "contamination", "clean",
         {k: v for k, v in found["hanbit"]["contamination"].items() if k != "verdict"}),
        (ids["saebyeok"], "contamination", "contaminated", {"level": 0.01, "tasks": rows}),
    ])
    decision = decide_round(ctx, ROUND, now=after, allow_missing=True)
    tokens = {t: ctx.store.create_token(ctx.slug, "team", t, at=after) for t in ids}
    return {"ctx": ctx, "decision": decision, "task": task, "tokens": tokens, "after": after}


def _client(world, team=None):
    from fastapi.testclient import TestClient

    from gauntlet.web.app import create_app

    client = TestClient(create_app(world["ctx"].store.url, clock=lambda: world["after"] + timedelta(days=1)))
    client.headers["Accept-Language"] = "en"  # the assertions read the English page
    if team:
        client.headers["Authorization"] = f"Bearer {world['tokens'][team]}"
    return client


def test_a_contamination_finding_disqualifies_as_the_spec_says_and_its_reason_is_on_record(contaminated):
    out = {e["team"]: e for e in contaminated["decision"].outputs["eliminated"]}
    assert out["saebyeok"]["reason"] == "contamination" and contaminated["task"] in out["saebyeok"]["detail"]
    assert "hanbit" not in out or out["hanbit"]["reason"] != "contamination"
    inputs = {t["team"]: t for t in contaminated["decision"].inputs["teams"]}
    assert inputs["saebyeok"]["contamination"][0] == {"task": contaminated["task"], "verdict": "contaminated",
                                                      "p_value": 2e-5, "gap": 0.31}


def test_own_work_is_embargoed_until_publication_then_on_the_leaderboard_and_team_pages(contaminated):
    task = contaminated["task"]
    for viewer in (None, "hanbit"):  # the public and a rival team, on every page without a form to fill
        client = _client(contaminated, viewer)
        paths = [p.replace("{team}", "saebyeok").replace("{round_key}", ROUND)
                 for p, ops in client.app.openapi()["paths"].items()
                 if "get" in ops and not set(re.findall(r"{(\w+)}", p)) - {"team", "round_key"}]
        assert len(paths) >= 10
        for path in paths:
            page = client.get(path)
            assert page.status_code < 500, path
            text = page.text.split("\n", 1)[1] if path == "/ledger.jsonl" else page.text  # the spec is public
            # a rival's own pages name its own tasks; the finding and its p-value are saebyeok's
            assert (viewer is not None or task not in text) and "contaminated" not in text and "2.0e-05" not in text, path
    own = _client(contaminated, "saebyeok").get("/teams/saebyeok")
    assert task in own.text and "contaminated" in own.text, "a team sees its own evidence before publication"

    publish_round(contaminated["ctx"], ROUND, now=contaminated["after"])
    public = _client(contaminated)
    board = public.get("/").text
    assert f"{task} →" in board and "disqualified" in board and "chain: consistent" in board
    team_page = public.get("/teams/saebyeok").text
    assert "better on published than on held-out benchmark items" in team_page and "2.0e-05" in team_page
    assert public.get("/api/leaderboard").json()["own_work"]["saebyeok"]["contaminated"] == [task]
