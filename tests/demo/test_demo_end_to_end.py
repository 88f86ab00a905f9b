"""`gauntlet demo` at reduced size: the whole round runs, and its outcome follows the models.

One run of the real pipeline (training, intake, audit, lm-eval, arena, panel,
decision, ledger, report) is shared by the tests in this module; a second run
with another team fine-tuning the foreign reference shows the outcome is not
scripted.  The simulated voters and experts act through the store, so the
demo's store is what `gauntlet serve` shows and what the decision was taken from.
"""

import dataclasses
import json
import subprocess
import sys

import pytest

from gauntlet.demo import ROUND, run_demo
from gauntlet.errors import InputError
from gauntlet.rounds import Ledger
from gauntlet.synth import DEMO_CAST

SCALE = 0.05


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return run_demo(tmp_path_factory.mktemp("demo") / "run", scale=SCALE, seed=7, progress=False)


def _finetuner(cast):
    return next(t.name for t in cast.teams if t.finetune_of == cast.reference.name)


def test_the_team_that_fine_tuned_the_reference_is_disqualified(demo):
    eliminated = {e["team"]: e["reason"] for e in demo.outputs["eliminated"]}
    assert eliminated[_finetuner(DEMO_CAST)] == "independence"


def test_exactly_one_eligible_team_is_cut_for_performance_and_it_ranks_lowest(demo):
    out = demo.outputs
    performance = [e["team"] for e in out["eliminated"] if e["reason"] == "performance"]
    assert len(performance) == 1
    eligible = [r for r in out["ranking"] if r["team"] != _finetuner(DEMO_CAST)]
    assert min(eligible, key=lambda r: r["total"])["team"] == performance[0]


def test_the_pool_goes_exactly_to_the_advancing_teams(demo):
    out = demo.outputs
    assert set(out["allocation"]) == set(out["advancing"])
    for gpu, total in {"B200": 1024, "H100": 1024}.items():
        assert sum(grant[gpu] for grant in out["allocation"].values()) == total


def test_report_and_record_are_published_and_recomputable(demo):
    html = demo.report.read_text(encoding="utf-8")
    for team in DEMO_CAST.teams:
        assert team.name.capitalize() in html
    assert demo.ledger_head in html and "derived" in html
    assert Ledger(demo.ledger).verify().intact
    # Anyone can recompute the decision from the published inputs, in a fresh process.
    again = subprocess.run([sys.executable, "-m", "gauntlet.cli", "round", "decide", str(demo.inputs), "--json"],
                           capture_output=True, text=True, check=True)
    assert json.loads(again.stdout) == demo.outputs


def test_component_scores_come_with_intervals(demo):
    inputs = json.loads(demo.inputs.read_text())
    for team in inputs["teams"]:
        for component in ("benchmark", "expert", "user"):
            score = team[component]
            assert score["lower"] <= score["value"] <= score["upper"]
            assert score["upper"] > score["lower"]  # measured, not asserted


def test_outcome_follows_the_models_not_a_script(demo, tmp_path):
    # Swap roles: the weakest-by-recipe team now fine-tunes the reference, and the old fine-tuner trains its own.
    old = {t.name: t for t in DEMO_CAST.teams}
    new_copier = "hanul"
    former = _finetuner(DEMO_CAST)
    teams = tuple(
        dataclasses.replace(old[former], finetune_of=None, shape=old[new_copier].shape,
                            vocab_size=old[new_copier].vocab_size) if t.name == former
        else dataclasses.replace(t, finetune_of=DEMO_CAST.reference.name, shape=None, vocab_size=None)
        if t.name == new_copier else t
        for t in DEMO_CAST.teams
    )
    cast = dataclasses.replace(DEMO_CAST, teams=teams)
    result = run_demo(tmp_path / "swapped", scale=SCALE, seed=7, progress=False, cast=cast)
    reasons = {e["team"]: e["reason"] for e in result.outputs["eliminated"]}
    assert reasons.get(new_copier) == "independence"
    assert reasons.get(former) != "independence"
    # The copier's own training-run chain now starts from the foreign model: broken at step 0.
    chains = {t["team"]: t.get("chain") for t in json.loads(result.inputs.read_text())["teams"]}
    assert chains[new_copier]["verdict"] == "broken" and "first offending step 0" in chains[new_copier]["detail"]


def _store(demo):
    from gauntlet.store.repository import Store

    return Store(f"sqlite:///{(demo.workdir / 'gauntlet.sqlite').resolve()}")


def test_the_decision_counts_the_votes_and_reviews_held_in_the_store(demo):
    store = _store(demo)
    slug = store.challenges()[0]["slug"]
    votes = store.arena_votes(slug, ROUND)
    counted = (demo.report.parent / "arena-votes.csv").read_text().splitlines()[1:]
    assert votes and 0 < len(counted) <= len(votes)
    panel = next(p for p in store.panel_rounds(slug) if p["round"] == ROUND)
    teams = {t.name for t in DEMO_CAST.teams}
    assert {e["team"] for e in panel["entries"]} == teams
    for entry in panel["entries"]:
        # Every assigned expert reviewed, and only the assigned ones.
        assert sorted(r["expert"] for r in entry["reviews"]) == entry["reviewers"]
        assert len(entry["reviewers"]) == panel["k"]


def test_experts_with_a_conflict_never_review_that_team(demo):
    store = _store(demo)
    slug = store.challenges()[0]["slug"]
    conflicts = {e["key"]: set(e["conflicts"]) for e in store.experts(slug)}
    assert any(conflicts.values())
    panel = next(p for p in store.panel_rounds(slug) if p["round"] == ROUND)
    for entry in panel["entries"]:
        for review in entry["reviews"]:
            assert entry["team"] not in conflicts[review["expert"]]


def test_a_folder_that_is_not_a_demo_is_never_emptied(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not a Gauntlet demo folder"):
        run_demo(tmp_path, scale=SCALE, seed=7, progress=False)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_the_team_that_hands_in_its_training_run_is_verified_from_its_checkpoints(demo):
    inputs = json.loads(demo.inputs.read_text())
    chains = {t["team"]: t.get("chain") for t in inputs["teams"]}
    chain_teams = [t.name for t in DEMO_CAST.teams if t.chain_checkpoints]
    assert chain_teams and all(chains[name]["verdict"] == "consistent" for name in chain_teams)
    assert all(chains[t.name] is None for t in DEMO_CAST.teams if not t.chain_checkpoints)
    assert "학습 과정 체인" in demo.report.read_text()  # the spec's language: Korean


def test_every_team_is_tested_for_contamination_and_the_outcome_follows_the_test(demo):
    inputs = json.loads(demo.inputs.read_text())
    assert inputs["own_work_policy"]["on_contamination"] == "drop_task"
    found = {t["team"]: [c for c in t.get("contamination", []) if c["verdict"] == "contaminated"]
             for t in inputs["teams"]}
    assert all("contamination" in t for t in inputs["teams"])
    dropped = {f["team"] for f in demo.outputs["flags"] if f["flag"] == "contamination_task_dropped"}
    assert dropped == {team for team, rows in found.items() if rows}
    assert "벤치마크 오염" in demo.report.read_text()
