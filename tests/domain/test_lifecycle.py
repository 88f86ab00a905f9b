"""The one lifecycle: a pure fold of recorded events, with each settled rule checked."""

from __future__ import annotations

import datetime as dt

import pytest

from gauntlet import spec as spec_module
from gauntlet.domain import ledger as chain
from gauntlet.domain.lifecycle import Event, RuleBroken, check, replay
from gauntlet.rounds import decide, decision_inputs
from tests.rounds.conftest import TWO_ROUNDS, at, result

SPEC = spec_module.loads(TWO_ROUNDS)


class Play:
    """Events checked and sealed one after another, as the service appends them."""

    def __init__(self):
        self.state = replay(SPEC, [])
        self.records: list[dict] = []

    def __call__(self, kind, when, round_id=None, payload=None, outputs=None, references=()):
        event = Event(kind, when, round_id, payload or {}, outputs, tuple(references))
        self.state = check(self.state, event)
        record = chain.seal(self.records[-1] if self.records else None, kind=kind, code_version="t",
                            inputs=payload or None, outputs=outputs, round_id=round_id, references=references,
                            recorded_at=when.isoformat())
        self.records.append(record)
        self.state = replay(SPEC, self.records)  # replaying the record gives the same state
        return record

    def decide(self, round_id, when, results, kind="decision", references=()):
        inputs = decision_inputs(SPEC, round_id, results, draws=300)
        return self(kind, when, round_id, inputs, decide(inputs), references)


FIRST = [result("alpha", 90, 90, 90), result("bravo", 80, 80, 80), result("charlie", 70, 70, 70),
         result("delta", 60, 60, 60), result("echo", 50, 50, 50)]


def test_three_stages_of_a_round_and_what_each_rule_refuses():
    play = Play()
    with pytest.raises(RuleBroken, match="newco.*joins at round 'final'"):
        play("submission", at(12, 1, year=2025), "first", {"team": "newco", "artifact": "sha:n"})
    play("submission", at(12, 1, year=2025), "first", {"team": "alpha", "artifact": "sha:a1"})
    play("submission", at(12, 2, year=2025), "first", {"team": "alpha", "artifact": "sha:a2"})  # resubmission
    assert play.state.submissions[("first", "alpha")] == "sha:a2", "the last one before the deadline counts"
    for team in ("bravo", "charlie", "delta", "echo"):
        play("submission", at(12, 3, year=2025), "first", {"team": team, "artifact": f"sha:{team}"})
    with pytest.raises(RuleBroken, match="takes submissions until"):
        play("lock", at(12, 29, year=2025), "first")
    with pytest.raises(RuleBroken, match="before its submissions are locked"):
        play.decide("first", at(12, 31, year=2025), FIRST)
    with pytest.raises(RuleBroken, match="closed for submissions"):
        play("submission", at(12, 31, year=2025), "first", {"team": "alpha", "artifact": "sha:late"})
    play("lock", at(12, 31, year=2025), "first")
    with pytest.raises(RuleBroken, match="'echo' has a locked submission but is missing"):
        play.decide("first", at(1, 10), FIRST[:4])
    decision = play.decide("first", at(1, 10), FIRST)
    assert play.state.draft("first") and not play.state.is_published("first")
    with pytest.raises(RuleBroken, match="no published decision to appeal"):
        play("appeal", at(1, 11), "first", {"appeal": 1, "team": "echo", "grounds": "too early"})
    with pytest.raises(RuleBroken, match="'first' is not decided and published yet"):
        play("team-joined", at(1, 11), "final", {"team": "newco"})
    with pytest.raises(RuleBroken, match="already decided"):
        play.decide("first", at(1, 12), FIRST)
    play("publication", at(1, 15), "first", references=[decision["hash"]])
    assert play.state.standing("echo").status == "out"


def _published_first(play: Play) -> dict:
    for team in ("alpha", "bravo", "charlie", "delta", "echo"):
        play("submission", at(12, 3, year=2025), "first", {"team": team, "artifact": f"sha:{team}"})
    play("lock", at(12, 31, year=2025), "first")
    decision = play.decide("first", at(1, 10), FIRST)
    play("publication", at(1, 15), "first", references=[decision["hash"]])
    return decision


def test_appeals_are_for_participants_within_the_window_counted_from_publication():
    play = Play()
    decision = _published_first(play)
    with pytest.raises(RuleBroken, match="'newco' did not take part"):
        play("appeal", at(1, 16), "first", {"appeal": 1, "team": "newco", "grounds": "x"})
    with pytest.raises(RuleBroken, match="appeal window for round 'first' ran from 2026-01-15"):
        play("appeal", at(1, 26), "first", {"appeal": 1, "team": "echo", "grounds": "late"})
    appeal = play("appeal", at(1, 24), "first", {"appeal": 1, "team": "echo", "grounds": "mis-scored"},
                  references=[decision["hash"]])
    with pytest.raises(RuleBroken, match="already has an unanswered appeal"):
        play("appeal", at(1, 24), "first", {"appeal": 2, "team": "echo", "grounds": "again"})
    with pytest.raises(RuleBroken, match="must answer an appeal"):
        play.decide("first", at(1, 25), FIRST, kind="re-decision", references=[decision["hash"]])
    answer = play("appeal-answer", at(1, 25), "first", {"appeal": 1, "upheld": True, "answer": "re-scored"},
                  references=[appeal["hash"]])
    with pytest.raises(RuleBroken, match="already been answered"):
        play("appeal-answer", at(1, 25), "first", {"appeal": 1, "upheld": False, "answer": "no"})
    with pytest.raises(RuleBroken, match="can no longer be re-decided"):
        play.decide("first", at(7, 1), FIRST, kind="re-decision", references=[decision["hash"], answer["hash"]])
    corrected = [*FIRST[:4], result("echo", 95, 95, 95)]
    play.decide("first", at(1, 26), corrected, kind="re-decision", references=[decision["hash"], answer["hash"]])
    assert play.state.in_force("first").record == decision["hash"], "a re-decision is a draft until published"
    with pytest.raises(RuleBroken, match="already led to a re-decision"):
        play.decide("first", at(1, 27), corrected, kind="re-decision", references=[decision["hash"], answer["hash"]])
    play("publication", at(1, 28), "first")
    assert play.state.standing("echo").status == "active" and len(play.state.history("first")) == 2


def test_an_entrant_joins_with_its_allotment_grants_follow_who_is_in_and_the_final_names_two_winners():
    play = Play()
    _published_first(play)
    out = play.state.standing("echo")
    assert (out.status, out.round) == ("out", "first")
    assert play.state.holdings("first") == {t: {"H100": 200} for t in ("alpha", "bravo", "charlie", "delta", "echo")}
    play("team-joined", at(2, 1), "final", {"team": "newco"})
    with pytest.raises(RuleBroken, match="already joined"):
        play("team-joined", at(2, 2), "final", {"team": "newco"})
    holdings = play.state.holdings("final")
    assert holdings["newco"] == {"B200": 768} and "echo" not in holdings
    assert set(play.state.datasets("final")) == {"alpha", "bravo", "charlie", "delta", "newco"}
    assert play.state.revoked_datasets("final") == {"echo": ("corpus",)}
    with pytest.raises(RuleBroken, match="was eliminated in round 'first'"):
        play("submission", at(3, 1), "final", {"team": "echo", "artifact": "sha:e"})
    final = [result("alpha", 70, 70, 70), result("bravo", 95, 95, 95), result("charlie", 60, 60, 60),
             result("delta", 50, 50, 50), result("newco", 90, 90, 90)]
    for r in final:
        play("submission", at(3, 1), "final", {"team": r.team, "artifact": f"sha:{r.team}2"})
    play("lock", at(7, 1), "final")
    decision = play.decide("final", at(7, 10), final)
    play("publication", at(7, 20), "final", references=[decision["hash"]])
    assert set(play.state.winners) == {"bravo", "newco"}
    assert play.state.standing("bravo").status == "winner" and play.state.current_round() is None


def test_the_record_runs_forward_in_time_and_replay_takes_history_as_it_happened():
    play = Play()
    play("submission", at(12, 3, year=2025), "first", {"team": "alpha", "artifact": "sha:a"})
    with pytest.raises(RuleBroken, match="comes before the previous event"):
        play("submission", at(12, 2, year=2025), "first", {"team": "bravo", "artifact": "sha:b"})
    with pytest.raises(RuleBroken, match="UTC offset"):
        check(play.state, Event("lock", dt.datetime(2026, 1, 1), "first"))
    # A store from before the rules lived here recorded a decision with no lock or submissions: it replays.
    legacy = chain.seal(None, kind="decision", code_version="old", round_id="first", recorded_at=at(1, 10).isoformat(),
                        inputs=decision_inputs(SPEC, "first", FIRST, draws=100),
                        outputs={"eliminated": [{"team": "echo", "reason": "performance"}], "allocation": {}})
    state = replay(SPEC, [legacy])
    assert state.draft("first") is not None and ("first", "echo") in state.submissions
