"""Vote quality: identity leaks, duplicates, daily caps and anomalous voters are
excluded with their reasons, and nothing is ever lost."""

from __future__ import annotations

import numpy as np

from gauntlet.ratings.arena import Vote
from gauntlet.ratings.vote_quality import VotePolicy, filter_votes


class Ledger:
    def __init__(self):
        self.votes = []

    def add(self, voter, prompt, a, b, choice, day="2026-01-05"):
        self.votes.append(Vote(f"b{len(self.votes)}", voter, prompt, a, b, choice, day, len(self.votes)))
        return self.votes[-1]


def _accounted(result, votes):
    ids = sorted([v.sequence for v in result.accepted] + [e.vote.sequence for e in result.excluded])
    return ids == sorted(v.sequence for v in votes)


def test_daily_cap_duplicates_and_identity_leaks():
    ledger = Ledger()
    for k in range(6):
        ledger.add("busy", f"p{k}", "x", "y", "a")
    ledger.add("busy", "p0", "x", "y", "b", day="2026-01-06")  # next day, but a duplicate
    ledger.add("calm", "p0", "y", "x", "b")
    ledger.add("calm", "p0", "x", "y", "a")  # same prompt and pair, positions swapped
    ledger.add("calm", "p9", "x", "z", "tie")
    result = filter_votes(ledger.votes, VotePolicy(daily_cap=5), revealing_answers=[("z", "p9")])
    reasons = {e.vote.sequence: e.reason.split(":")[0] for e in result.excluded}
    assert reasons == {5: "daily_cap", 6: "duplicate", 8: "duplicate", 9: "identity_revealed"}
    assert _accounted(result, ledger.votes)
    assert all(e.reason for e in result.excluded)


def _population(seed, honest=30, votes_each=60):
    """Honest voters on three pairs with clear preferences, plus misbehaving ones."""
    rng = np.random.default_rng(seed)
    pairs = [("good", "bad", 0.85), ("good", "mid", 0.65), ("mid", "bad", 0.7)]
    ledger = Ledger()

    def battle(voter, k, kind):
        first, second, p_first = pairs[k % 3]
        if rng.random() < 0.5:
            a, b, p_a = first, second, p_first
        else:
            a, b, p_a = second, first, 1 - p_first
        if kind == "lazy":
            choice = "a"
        elif kind == "adversarial":
            choice = "b" if p_a > 0.5 else "a"
        elif rng.random() < 0.15:
            choice = "tie"
        else:
            choice = "a" if rng.random() < p_a else "b"
        ledger.add(voter, f"{voter}-p{k}", a, b, choice)

    for k in range(votes_each):
        for v in range(honest):
            battle(f"honest-{v}", k, "honest")
        battle("lazy", k, "lazy")
        battle("brigade", k, "adversarial")
    return ledger.votes


def test_anomalous_voters_are_caught_and_honest_voters_pass():
    votes = _population(seed=7)
    result = filter_votes(votes, VotePolicy(daily_cap=1000))
    assert set(result.anomalous_voters) == {"lazy", "brigade"}
    assert result.anomalous_voters["lazy"].test == "position"
    assert result.anomalous_voters["brigade"].test == "outcome_profile"
    flagged = [e for e in result.excluded if e.reason.startswith("anomalous_voter")]
    assert {e.vote.voter_id for e in flagged} == {"lazy", "brigade"}
    assert len(flagged) == 2 * 60
    assert _accounted(result, votes)


def test_few_votes_are_never_judged_anomalous():
    votes = [v for v in _population(seed=8, honest=5, votes_each=60) if v.voter_id != "lazy"]
    short = [v for v in votes if v.voter_id != "brigade"] + [v for v in votes if v.voter_id == "brigade"][:10]
    result = filter_votes(short, VotePolicy(daily_cap=1000))
    assert result.anomalous_voters == {}
