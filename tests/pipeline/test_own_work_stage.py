"""A round that requires a training-run chain and tests its benchmarks for contamination:
the outcome follows from the evidence, and the report shows the chains and the table."""

from __future__ import annotations

import json
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
    return evidence, decision, published


def test_chains_are_verified_and_a_missing_or_broken_one_is_a_stated_reason(decided):
    evidence, decision, _ = decided
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
    evidence, decision, published = decided
    rows = [r for team_rows in evidence["contamination"].values() for r in team_rows]
    assert len(rows) == 6 and all(r["verdict"] == "clean" for r in rows)
    assert not any(e["reason"] == "contamination" for e in decision.outputs["eliminated"])
    page = published.report.read_text()
    # in the spec's language (Korean, the default)
    assert "학습 과정 체인" in page and "벤치마크 오염" in page and "<svg" in page
