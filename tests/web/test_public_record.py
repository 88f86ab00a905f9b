"""What the public reads about a decision, served by the app from the store: the totals as a
plot, each team's scores over rounds, the audit evidence, the bundle and the ledger to check it
with, and which appeal caused a re-decision."""

from __future__ import annotations

import json
import re

from gauntlet.domain.ledger import verify_chain
from gauntlet.rounds.bundle import replay

# An audit report as `gauntlet audit --json` writes a reference (`ReferenceResult.to_dict()`).
FULL_REPORT = {
    "reference": "llama-3-8b", "verdict": "derived", "screened_out": False, "invariant": None,
    "p_value": 2e-12, "p_value_raw": 1e-12, "p_value_calibrated": 2e-12, "p_value_bound": 4e-12,
    "origin": {"organisation": "Meta"}, "tensors_compared": 3,
    "whole_model": {"widths": [64], "z": 41.5, "fixed_points": 60, "units": 64, "p_value": 2e-12},
    "shared_axes": [{"length": 64, "fixed_points": 60, "units": 64, "p_value": 3e-12}],
    "modules": [
        {"name": "layers.0.attention", "kind": "attention", "counterpart": "layers.0.attention", "verdict": "derived",
         "p_value": 1e-11, "p_value_raw": 1e-12, "statistic": 58, "test": "permutation", "tensors": []},
        {"name": "layers.0.mlp", "kind": "mlp", "counterpart": None, "verdict": "independent",
         "p_value": 0.7, "p_value_raw": 0.6, "statistic": 1, "test": "permutation", "tensors": []},
    ],
    "tokenizer": None,
    "excluded": [{"side": "candidate", "tensor": "rope.inv_freq", "shape": [32], "axis": 0, "reason": "formula",
                  "detail": "fixed by the configuration", "identical_in_both": True}],
    "alpha": 1e-6, "evidence": "naver.html",
}


def _add_full_report(world) -> None:
    sub = world.store.submission_id(world.slug, "naver", world.round)
    world.store.record_audit(sub, "llama-3-8b", "derived", 2e-12, FULL_REPORT)


def test_the_leaderboard_draws_each_total_with_its_interval_and_the_cut(world):
    page = world.client().get("/").text
    svg = re.search(r"<svg[^>]*class=\"plot\"[^>]*>.*?</svg>", page, re.S)
    assert svg, "the leaderboard carries its plot inline"
    figure = svg.group(0)
    assert 'width="' not in figure.split(">", 1)[0], "the plot scales to its container (a phone's width too)"
    for name, _ in world.teams.values():
        assert f">{name}<" in figure, name  # names are text, drawn in the reader's fonts
    assert ">cut<" in figure and "elimination cut" in page


def test_the_cut_falls_between_the_last_team_through_and_the_first_cut_for_performance():
    from gauntlet.plots import cut_between

    ranking = [{"team": t, "total": v} for t, v in (("a", 90), ("b", 80), ("c", 71), ("d", 70), ("e", 60))]
    assert cut_between(ranking, [{"team": "b", "reason": "independence"}, {"team": "d", "reason": "performance"},
                                 {"team": "e", "reason": "performance"}]) == 70.5
    assert cut_between(ranking, [{"team": "b", "reason": "independence"}]) is None


def test_a_team_page_plots_its_scores_over_rounds_only_as_far_as_the_viewer_may_see(world, draft_world):
    public = world.client().get("/teams/lg").text
    assert 'id="rounds-plot"' in public and ">total<" in public and ">benchmark<" in public
    assert 'id="rounds-plot"' not in draft_world.client("skt").get("/teams/lg").text  # a rival, before publication
    own = draft_world.client("lg").get("/teams/lg").text
    assert 'id="rounds-plot"' in own and ">benchmark<" in own and ">total<" not in own  # no published total yet


def test_the_audit_pages_show_each_submissions_evidence(world):
    _add_full_report(world)
    client = world.client()
    listing = client.get("/rounds/first/audits")
    assert listing.status_code == 200
    for name, _ in world.teams.values():
        assert name in listing.text
    assert "/rounds/first/audits/naver" in listing.text and "llama-3-8b" in listing.text
    evidence = client.get("/rounds/first/audits/naver")
    assert evidence.status_code == 200
    text = evidence.text
    assert "layers.0.attention" in text and "layers.0.mlp" in text, "the per-module table"
    assert text.count("<svg") >= 1 and "-log10(p)" in text, "the per-module plot"
    assert "rope.inv_freq" in text and "Left out of the evidence" in text and "What it cannot see" in text
    assert "60/64" in text  # the whole-model test's units in place
    # The fixture's other references were stored without module detail: their page still reads.
    assert client.get("/rounds/first/audits/lg").status_code == 200
    api = client.get("/api/rounds/first/audits").json()
    naver = next(a for a in api if a["team"] == "naver")
    assert [r["reference"] for r in naver["references"]] == ["glm-4.5-air", "llama-3-8b"]
    round_page = client.get("/rounds/first").text
    assert "Independence audits" in round_page and "/rounds/first/audits/naver" in round_page
    assert client.get("/rounds/first/audits/nobody").status_code == 404
    assert client.get("/rounds/nope/audits").status_code == 404


def test_the_bundle_and_the_public_ledger_check_out(world):
    client = world.client()
    page = client.get("/rounds/first").text
    assert "/rounds/first/bundle.json" in page and "/ledger.jsonl" in page
    bundle = client.get("/rounds/first/bundle.json")
    assert bundle.headers["content-disposition"].startswith("attachment")
    result = replay(bundle.json())
    assert result.ok, "anyone re-decides the bundle to its published outputs"
    ledger = [json.loads(line) for line in client.get("/ledger.jsonl").text.splitlines()]
    assert verify_chain(ledger, published_head=bundle.json()["chain_head"]) == []
    assert bundle.json()["record"]["hash"] in {r["hash"] for r in ledger}
    assert client.get("/rounds/first/bundle.json", params={"sequence": 9}).status_code == 404


def test_a_re_decision_says_which_appeal_caused_it(world):
    from gauntlet.rounds import service

    lg, organiser = world.client("lg"), world.client("organiser")
    appeal = lg.post("/team/appeals", data={"round": "first", "grounds": "Our benchmark was mis-scored."}).json()["appeal"]
    organiser.post(f"/organiser/appeals/{appeal}/answer", data={"upheld": "yes", "answer": "Re-scored: 50.0."})
    spec = service.spec_of(world.store, world.slug)
    service.redecide(world.store, spec, "first", appeal, {"lg": {"benchmark": "50"}}, world.clock.now)
    draft_page = world.client().get("/rounds/first").text
    assert 'id="redecision-cause"' not in draft_page, "a draft re-decision is not public yet"
    kinds = [json.loads(line)["kind"] for line in world.client().get("/ledger.jsonl").text.splitlines()]
    assert kinds[-2:] == ["appeal", "appeal-answer"], "the public ledger stops before the draft"
    assert json.loads(organiser.get("/ledger.jsonl").text.splitlines()[-1])["kind"] == "re-decision"
    assert organiser.post("/organiser/rounds/first/publish").status_code == 200
    page = world.client().get("/rounds/first").text
    cause = page.split('id="redecision-cause"')[1].split("</div>")[0]
    assert "Our benchmark was mis-scored." in cause and "Re-scored: 50.0." in cause
    assert world.clock.now.date().isoformat() in cause and "K-EXAONE" in cause
    assert f"appeal #{appeal}" in page  # the history row of the re-decision names it
    original = world.client().get("/rounds/first", params={"sequence": 1}).text
    assert 'id="redecision-cause"' not in original
