"""A two-round challenge with an entrant, an appeal and final winners."""

import pytest

from gauntlet.domain.independence import ModuleFinding, Origin
from gauntlet.rounds import Challenge, LifecycleError

FOREIGN = Origin("CN", "Foreign Lab", "apache-2.0")


def test_two_rounds_with_entrant_appeal_and_winners(tmp_path, two_round_spec, make_result, when):
    c = Challenge(two_round_spec, tmp_path / "challenge")
    state = c.state
    # Opening period: the pool is split equally among the five starting teams.
    assert state.holdings("first") == {t: {"H100": 200} for t in ("alpha", "bravo", "charlie", "delta", "echo")}
    assert state.standing("newco").status == "waiting"

    # Round 1 submissions: a resubmission before the deadline replaces the first one.
    for team in ("alpha", "bravo", "charlie", "delta", "echo"):
        c.submit(team, f"sha256:{team}-v1", when(12, 1, year=2025))
    c.submit("alpha", "sha256:alpha-v2", when(12, 20, year=2025))
    with pytest.raises(LifecycleError, match="cannot be decided before its submissions are locked"):
        c.decide("first", [], when(12, 31, year=2025))
    with pytest.raises(LifecycleError, match="cannot be locked before the deadline"):
        c.lock("first", when(12, 29, year=2025))
    c.lock("first", when(12, 30, 19, year=2025))
    with pytest.raises(LifecycleError, match="closed .* and are locked"):
        c.submit("bravo", "sha256:bravo-v2", when(12, 31, year=2025))
    assert c.state.locked_submission("first", "alpha").artifact == "sha256:alpha-v2"
    with pytest.raises(LifecycleError, match="newco.*cannot submit to round 'first': it has not joined"):
        c.submit("newco", "sha256:x", when(12, 31, year=2025), round_id="first")

    # Round 1 decision: delta reused a foreign vision encoder, echo is lowest.
    vision = ModuleFinding("vision_encoder", "derived", "foreign-vl", FOREIGN, 1e-20)
    results = [
        make_result("alpha", 90, 88, 92),
        make_result("bravo", 85, 84, 86),
        make_result("charlie", 80, 81, 79),
        make_result("delta", 83, 83, 83, independence="derived", findings=[vision]),
        make_result("echo", 60, 62, 61),
    ]
    with pytest.raises(LifecycleError, match="'echo' has a locked submission but is missing"):
        c.decide("first", results[:4], when(1, 15, 10))
    outputs = c.decide("first", results, when(1, 15, 10), draws=500)
    assert {e["team"]: e["reason"] for e in outputs["eliminated"]} == {"delta": "independence", "echo": "performance"}
    assert outputs["uncertainty"]["teams"]["charlie"]["survival_probability"] == 1.0

    # Eliminated teams lose GPUs and datasets from the next period; the entrant brings its own.
    state = c.state
    assert state.standing("delta").status == "out" and state.standing("delta").reason == "independence"
    assert set(state.holdings("final")) == {"alpha", "bravo", "charlie"}
    with pytest.raises(LifecycleError, match="echo.*is out \\(round first: performance\\)"):
        c.submit("echo", "sha256:echo-v2", when(2, 1))

    # Appeal: delta shows the reused part was architecture code, not weights.
    with pytest.raises(LifecycleError, match="appeal window for round 'first' runs from"):
        c.appeal("A1", "first", "delta", "too late", when(1, 26))
    c.appeal("A1", "first", "delta", "the vision encoder was trained in-house; only its architecture is shared", when(1, 20))
    with pytest.raises(LifecycleError, match="was not upheld"):
        c.redecide("first", "A1", results, when(1, 21))  # not answered yet
    c.answer("A1", True, "re-audit: architecture only, weights independent", when(2, 5))
    architecture = ModuleFinding("architecture", "derived", "foreign-vl", FOREIGN, 1e-20)
    corrected = [*results[:3], make_result("delta", 83, 83, 83, independence="derived", findings=[architecture]), results[4]]
    redecided = c.redecide("first", "A1", corrected, when(2, 6), draws=500)
    assert "delta" in redecided["advancing"] and {e["team"] for e in redecided["eliminated"]} == {"echo"}
    assert any(f["team"] == "delta" and f["flag"] == "permitted_reuse" for f in redecided["flags"])

    state = c.state
    assert [d.outputs for d in state.decisions["first"]] == [outputs, redecided]  # the original is kept
    assert state.standing("delta").status == "active"
    assert set(state.holdings("final")) == {"alpha", "bravo", "charlie", "delta"}
    assert state.holdings("final")["alpha"] == {"B200": 384, "H100": 384}

    # Round 2 (final): the entrant joins with its own allotment and is evaluated alongside survivors.
    c.join("newco", when(2, 20))
    state = c.state
    assert state.holdings("final")["newco"] == {"B200": 768}
    assert state.datasets("final") == {t: ("corpus",) for t in ("alpha", "bravo", "charlie", "delta", "newco")}
    for team in ("alpha", "bravo", "delta", "newco"):  # charlie submits nothing
        c.submit(team, f"sha256:{team}-final", when(6, 1))
    c.lock("final", when(6, 30, 19))
    with pytest.raises(LifecycleError, match="round 'final' is already locked; round 'first' can no longer be re-decided"):
        c.redecide("first", "A1", corrected, when(7, 1))
    final = c.decide("final", [
        make_result("alpha", 91, 90, 93),
        make_result("bravo", 86, 85, 80),
        make_result("delta", 84, 86, 85),
        make_result("newco", 88, 87, 90),
    ], when(7, 20, 10), draws=500)
    assert final["winners"] == ["alpha", "newco"]

    state = c.state
    assert state.winners == ("alpha", "newco")
    assert state.standing("newco").status == "winner"
    assert state.standing("charlie").reason == "no_submission"
    assert state.current_round() is None
    with pytest.raises(LifecycleError, match="the challenge is over"):
        c.submit("alpha", "sha256:late", when(8, 1))

    # The journal rebuilds the same state in a fresh object; the ledger holds the whole trail.
    again = Challenge(two_round_spec, tmp_path / "challenge").state
    assert again.winners == state.winners and again.decisions == state.decisions
    records = c.ledger.records()
    assert [r["kind"] for r in records] == ["spec", "decision", "appeal", "appeal-answer", "re-decision", "decision"]
    assert records[0]["inputs"] == two_round_spec.to_document()
    original, appeal, answer, re_decision = records[1:5]
    assert appeal["references"] == [original["hash"]] and answer["references"] == [appeal["hash"]]
    assert re_decision["references"] == [original["hash"], answer["hash"]]
    assert all(r["spec_hash"] == two_round_spec.spec_hash for r in records)
    report = c.ledger.verify(c.ledger.head)
    assert report.intact and report.redecided == 3


def test_events_must_come_in_time_order_and_appeals_need_a_participant(tmp_path, two_round_spec, make_result, when):
    c = Challenge(two_round_spec, tmp_path)
    c.submit("alpha", "sha256:a", when(12, 10, year=2025))
    with pytest.raises(LifecycleError, match="comes before the previous event"):
        c.submit("bravo", "sha256:b", when(12, 1, year=2025))
    with pytest.raises(LifecycleError, match="has no decision to appeal"):
        c.appeal("A", "first", "alpha", "why", when(12, 11, year=2025))
    with pytest.raises(LifecycleError, match="not an entrant"):
        c.join("alpha", when(12, 12, year=2025))
    with pytest.raises(LifecycleError, match="current round is 'first'"):
        c.submit("alpha", "sha256:a", when(12, 12, year=2025), round_id="final")
    c.lock("first", when(12, 31, year=2025))
    c.decide("first", [make_result("alpha", 80, 80, 80)], when(1, 15))
    state = c.state
    # Only alpha submitted: the others are out for not submitting; cutting the lowest one of one leaves nobody.
    assert state.standing("bravo").reason == "no_submission"
    with pytest.raises(LifecycleError, match="'newco' did not take part"):
        c.appeal("A", "first", "newco", "why", when(1, 16))
    with pytest.raises(LifecycleError, match="not upheld"):
        c.appeal("A", "first", "bravo", "our upload failed", when(1, 16))
        c.answer("A", False, "no evidence of a platform fault", when(1, 17))
        c.redecide("first", "A", [make_result("alpha", 80, 80, 80)], when(1, 18))
