"""The web app decides each new vote with a streaming screen; the round's decision replays
the whole log.  They must agree: same reasons for every per-vote rule, same flagged voters
and networks, and the decision excludes every vote of a flagged group."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gauntlet.ratings.arena import Vote
from gauntlet.ratings.vote_quality import VotePolicy, VoteScreen, filter_votes, network_group

MODELS = ("m1", "m2", "m3", "m4")
CHOICES = ("a", "b", "tie", "both_bad")


@st.composite
def vote_logs(draw):
    """Logs with repeats, shared addresses and networks, bursts, day changes and a lazy voter."""
    n = draw(st.integers(0, 160))
    voters = draw(st.integers(1, 8))
    at = 1_700_000_000.0
    votes = []
    for k in range(n):
        voter = draw(st.integers(0, voters - 1))
        a, b = draw(st.sampled_from([(x, y) for x in MODELS for y in MODELS if x != y]))
        choice = "a" if voter == 0 else draw(st.sampled_from(CHOICES))  # voter 0 always picks A
        at += draw(st.sampled_from((0.0, 0.2, 0.7, 3.0, 40_000.0)))
        day = str(int(at // 86400))
        network = f"n{voter % 3}"
        votes.append(Vote(f"b{k}", f"v{voter}", f"p{draw(st.integers(0, 5))}", a, b, choice, day, k + 1,
                          address=f"{network}.{voter % 2}", network=network, at=at))
    return votes


POLICY = VotePolicy(daily_cap=12, address_daily_cap=20, network_daily_cap=30, voter_per_second=1,
                    address_per_second=2, checkpoints=(20, 40))


@settings(max_examples=60, deadline=None)
@given(vote_logs(), st.sets(st.tuples(st.sampled_from(MODELS), st.sampled_from([f"p{i}" for i in range(6)])),
                            max_size=3))
def test_the_streaming_screen_and_the_batch_filter_agree_on_any_log(votes, revealing):
    screen = VoteScreen(POLICY, revealing)
    live = {v.sequence: screen.admit(v) for v in votes}
    batch = filter_votes(list(reversed(votes)), POLICY, revealing)  # the decision sorts by sequence itself
    assert set(batch.anomalous_voters) == set(screen.flagged)
    decided = {e.vote.sequence: e.reason for e in batch.excluded}
    assert sorted([*decided, *(v.sequence for v in batch.accepted)]) == sorted(live), "every vote accounted for"
    for v in votes:
        said = live[v.sequence]
        if said is not None and not said.startswith("anomalous_voter"):
            assert decided.get(v.sequence) == said  # per-vote rules: the very same reason
        else:
            flagged = v.voter_id in screen.flagged or network_group(v.network) in screen.flagged
            assert (v.sequence in decided) == flagged  # the decision drops all of a flagged group's votes
            if flagged:
                assert decided[v.sequence].startswith("anomalous_voter")


def _vote(k, voter, choice="a", *, address="", network="", at=0.0, day="d1", prompt=None, pair=("x", "y")):
    return Vote(f"b{k}", voter, prompt or f"p{k}", pair[0], pair[1], choice, day, k, address, network, at)


def test_address_and_network_caps_survive_fresh_cookies():
    policy = VotePolicy(daily_cap=50, address_daily_cap=3, network_daily_cap=5)
    votes = [_vote(k, f"fresh-cookie-{k}", address=f"addr{k % 2}", network="net", at=10.0 * k) for k in range(8)]
    reasons = [e.reason.split(":")[0] for e in filter_votes(votes, policy).excluded]
    # addr0 takes votes 0,2,4,6 and addr1 1,3,5,7: the network's 6th vote, then each address's 4th.
    assert reasons == ["network_cap", "address_cap", "address_cap"]
    other_day = [_vote(9 + k, f"c{k}", address="addr0", network="net", at=90_000.0 + k * 10, day="d2")
                 for k in range(3)]
    next_day = filter_votes(votes + other_day, policy)
    assert set(other_day) <= set(next_day.accepted)  # the caps are per day


def test_votes_faster_than_the_per_second_limit_are_excluded_and_slow_ones_are_not():
    policy = VotePolicy(daily_cap=100, voter_per_second=1, address_per_second=3)
    burst = [_vote(k, "bot", address="a1", network="n1", at=100.0 + 0.06 * k) for k in range(60)]
    result = filter_votes(burst, policy)
    # The window counts every attempt, so a voter who keeps hammering never gets another vote in.
    assert len(result.accepted) == 1
    assert result.reasons() == {"rate": 59}
    calm = [_vote(k, "reader", "ab"[k % 2], address="a2", network="n2", at=100.0 + 8.0 * k) for k in range(60)]
    assert len(filter_votes(calm, VotePolicy(daily_cap=100, voter_per_second=1)).accepted) == 60
    shared = [_vote(k, f"v{k}", address="nat", network="n3", at=100.0 + 0.1 * k) for k in range(10)]
    assert len(filter_votes(shared, policy).accepted) == 3  # three distinct voters a second from one address


def test_many_cookies_from_one_network_are_tested_as_one_group():
    """Each cookie casts too few votes to be tested; their network casts many, all for the
    side everybody else rates worse, and is flagged."""
    rng = np.random.default_rng(4)
    votes, k = [], 0
    for round_ in range(200):
        for honest in range(10):
            k += 1
            a, b = ("good", "bad") if rng.random() < 0.5 else ("bad", "good")
            winner = "good" if rng.random() < 0.8 else "bad"
            votes.append(_vote(k, f"h{honest}", "a" if a == winner else "b", address=f"h{honest}",
                               network=f"net-h{honest}", at=10.0 * k, pair=(a, b), prompt=f"q{round_}"))
        k += 1
        a, b = ("good", "bad") if rng.random() < 0.5 else ("bad", "good")
        votes.append(_vote(k, f"cookie-{round_ // 5}", "a" if a == "bad" else "b", address=f"r{round_ % 4}",
                           network="net-rig", at=10.0 * k, pair=(a, b), prompt=f"q{round_}"))
    result = filter_votes(votes, VotePolicy(daily_cap=1000, address_daily_cap=10_000, network_daily_cap=10_000))
    assert set(result.anomalous_voters) == {"network:net-rig"}
    assert result.anomalous_voters["network:net-rig"].test == "outcome_profile"
    excluded = {e.vote.voter_id for e in result.excluded}
    assert excluded == {f"cookie-{i}" for i in range(40)}
    assert all(v.voter_id.startswith("h") for v in result.accepted)


def test_a_pair_without_enough_earlier_votes_is_not_a_reference():
    """The first voters of a round see pairs nobody has voted on yet: nothing to be out of line with."""
    # x always wins, shown on alternating sides: against the prior alone (a quarter each way, half
    # ties) this would be far out of line.
    votes = [_vote(k, "early", "a" if k % 2 else "b", pair=("x", "y") if k % 2 else ("y", "x")) for k in range(1, 60)]
    assert filter_votes(votes, VotePolicy(daily_cap=100)).anomalous_voters == {}


def _crowd(rng, k, voter, network, pair, p_first, *, tie=0.15, at=None):
    a, b = pair if rng.random() < 0.5 else pair[::-1]
    if rng.random() < tie:
        choice = "tie"
    else:
        first_wins = rng.random() < p_first
        choice = "a" if (a == pair[0]) == first_wins else "b"
    return _vote(k, voter, choice, address=network, network=network, at=at if at is not None else 10.0 * k,
                 pair=(a, b), prompt=f"q{k}")


PAIRS = [(("m1", "m2"), 0.7), (("m1", "m3"), 0.8), (("m2", "m3"), 0.6), (("m3", "m4"), 0.5), (("m1", "m4"), 0.9),
         (("m2", "m4"), 0.75)]


def test_a_network_that_votes_for_one_model_and_like_the_crowd_otherwise_is_flagged():
    """The attacker of Min et al.: it recognises m3's answers and votes for them; elsewhere it
    votes like everybody.  Its outcome profile looks ordinary; its favour for m3 does not."""
    rng = np.random.default_rng(11)
    votes, k = [], 0
    for step in range(3000):
        k += 1
        pair, p = PAIRS[int(rng.integers(len(PAIRS)))]
        if step % 5:
            votes.append(_crowd(rng, k, f"h{step % 97}", f"net-{step % 97}", pair, p))
        elif "m3" in pair:
            a, b = pair if rng.random() < 0.5 else pair[::-1]
            votes.append(_vote(k, f"cookie-{step}", "a" if a == "m3" else "b", address="rig", network="rig",
                               at=10.0 * k, pair=(a, b), prompt=f"q{k}"))
        else:
            votes.append(_crowd(rng, k, f"cookie-{step}", "rig", pair, p))
    result = filter_votes(votes, VotePolicy(daily_cap=10_000, address_daily_cap=10_000, network_daily_cap=10_000))
    assert set(result.anomalous_voters) == {"network:rig"}
    assert result.anomalous_voters["network:rig"].test == "favouritism"
    assert all(not v.voter_id.startswith("cookie") for v in result.accepted)


def test_honest_crowds_are_flagged_about_as_rarely_as_alpha_says():
    """A generated null: 300 honest voters (60 votes each) on pairs from clear to even, one pair
    where everybody calls a tie, and one voter who only ever ties on it; with alpha = 0.01 the
    expected number of flagged voters is at most 3."""
    rng = np.random.default_rng(2)
    votes, k = [], 0
    pairs = PAIRS + [(("m5", "m6"), 0.5)]
    for _ in range(60):
        for voter in range(300):
            k += 1
            pair, p = pairs[int(rng.integers(len(pairs)))]
            tie = 1.0 if pair == ("m5", "m6") else 0.15
            votes.append(_crowd(rng, k, f"h{voter}", f"net-{voter // 3}", pair, p, tie=tie, at=float(k)))
        k += 1
        votes.append(_vote(k, "tier", "tie", pair=("m5", "m6"), prompt=f"t{k}", at=float(k)))
    result = filter_votes(votes, VotePolicy(daily_cap=10_000, anomaly_alpha=0.01))
    voters = {g for g in result.anomalous_voters if not g.startswith("network:")}
    assert len(voters) <= 6, result.anomalous_voters
    assert "tier" not in result.anomalous_voters
