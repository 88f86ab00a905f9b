"""Which votes count: identity leaks, duplicates, daily caps, anomalous voters.

Every submitted vote ends up either accepted or in `excluded` with its
reason; nothing is dropped silently or deleted.  Rules apply in this order:

1. ``identity_revealed``: the battle showed an answer that names its model
   (the voter was not blind).
2. ``duplicate``: the same voter already voted on the same prompt with the
   same two models (in either position); the first vote counts.
3. ``daily_cap``: a voter's votes beyond `daily_cap` on one day.
4. ``anomalous_voter``: all votes of a voter whose choices are implausible
   given everybody else's votes.

Anomalous voters, in the spirit of the Chatbot Arena paper's sequential
outlier test (each vote compared with the historical votes on the same pair,
combined sequentially over a voter's votes, Bonferroni over the looks).  For
each of a voter's votes we take the outcome distribution of the same pair
among all *other* voters (a half-count prior keeps sparse pairs finite) and
orient it by the side those voters favour; the voter's votes then fall into
three cells, "favoured side wins", "other side wins", "tie or both bad",
whose expected counts are the summed probabilities.  Pearson's chi-square of
observed against expected counts (2 degrees of freedom, tail exp(-x/2)) is
checked at j = 20, 40, 80, ... votes and at the voter's last vote.  We test
the whole outcome profile rather than the likelihood of each choice because
a brigading voter who always picks the other side and never calls a tie
produces individually plausible votes that only stand out together.  A
second statistic at the same looks catches position bias (always "A"): the
share of A-side wins among decisive votes, two-sided, since positions are
randomised.  With the Bonferroni split over both statistics and all looks,
an honest voter is flagged with probability about `anomaly_alpha` or less
(large-sample approximations).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from statistics import NormalDist
from typing import Iterable, Sequence

import numpy as np

from gauntlet.ratings.arena import Vote

CHECKPOINTS = (20, 40, 80, 160, 320, 640, 1280)


@dataclass(frozen=True)
class VotePolicy:
    daily_cap: int = 50
    anomaly_alpha: float = 1e-3
    checkpoints: tuple[int, ...] = CHECKPOINTS


@dataclass(frozen=True)
class ExcludedVote:
    vote: Vote
    reason: str


@dataclass(frozen=True)
class VoterAnomaly:
    voter_id: str
    test: str  # "outcome_profile" (chi-square) or "position" (z)
    statistic: float
    after_votes: int


@dataclass(frozen=True)
class VoteFilterResult:
    accepted: tuple[Vote, ...]
    excluded: tuple[ExcludedVote, ...]
    anomalous_voters: dict[str, VoterAnomaly]

    def reasons(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for e in self.excluded:
            counts[e.reason.split(":")[0]] += 1
        return dict(counts)


def _outcome(vote: Vote) -> tuple[tuple[str, str], int]:
    """(pair in name order, outcome 0 first wins / 1 second wins / 2 tie / 3 both bad)."""
    first, second = sorted((vote.model_a, vote.model_b))
    if vote.choice == "tie":
        return (first, second), 2
    if vote.choice == "both_bad":
        return (first, second), 3
    winner = vote.model_a if vote.choice == "a" else vote.model_b
    return (first, second), 0 if winner == first else 1


def find_anomalous_voters(votes: Sequence[Vote], policy: VotePolicy = VotePolicy()) -> dict[str, VoterAnomaly]:
    """Voters whose choices depart from everybody else's (see module docstring).

    The reference distribution is re-estimated without the voters flagged so
    far until the flagged set stops changing: otherwise a few brigading or
    lazy voters skew "everybody else" enough that a very active honest voter
    looks out of line with it."""
    by_voter: dict[str, list[Vote]] = defaultdict(list)
    for v in votes:
        by_voter[v.voter_id].append(v)
    flagged: dict[str, VoterAnomaly] = {}
    for _ in range(10):
        totals: dict[tuple[str, str], np.ndarray] = defaultdict(lambda: np.zeros(4))
        for voter, own in by_voter.items():
            if voter not in flagged:
                for v in own:
                    pair, outcome = _outcome(v)
                    totals[pair][outcome] += 1
        found = {}
        for voter, own in by_voter.items():
            anomaly = _test_voter(voter, own, totals, subtract_own=voter not in flagged, policy=policy)
            if anomaly is not None:
                found[voter] = anomaly
        if found.keys() == flagged.keys():
            return found
        flagged = found
    return flagged


def _test_voter(voter, own, totals, *, subtract_own: bool, policy: VotePolicy) -> VoterAnomaly | None:
    looks = 2 * (len(policy.checkpoints) + 1)
    level = policy.anomaly_alpha / looks
    profile_bound = -2.0 * math.log(level)  # chi-square(2) tail is exp(-x/2)
    position_bound = NormalDist().inv_cdf(1.0 - level / 2.0)
    own = sorted(own, key=lambda v: v.sequence)
    mine: dict[tuple[str, str], np.ndarray] = defaultdict(lambda: np.zeros(4))
    if subtract_own:
        for v in own:
            pair, outcome = _outcome(v)
            mine[pair][outcome] += 1
    checkpoints = {c for c in policy.checkpoints if c <= len(own)}
    if len(own) >= min(policy.checkpoints):
        checkpoints.add(len(own))  # and once more on everything the voter did
    observed = np.zeros(3)
    expected = np.zeros(3)
    a_wins = decisive = 0
    for j, v in enumerate(own, start=1):
        pair, outcome = _outcome(v)
        others = totals[pair] - mine[pair] + 0.5
        p = others / others.sum()
        fav, other = (0, 1) if p[0] >= p[1] else (1, 0)
        expected += (p[fav], p[other], p[2] + p[3])
        observed[{fav: 0, other: 1}.get(outcome, 2)] += 1
        if v.choice in ("a", "b"):
            decisive += 1
            a_wins += v.choice == "a"
        if j not in checkpoints:
            continue
        chi2 = float(((observed - expected) ** 2 / expected).sum())
        if chi2 > profile_bound:
            return VoterAnomaly(voter, "outcome_profile", chi2, j)
        if decisive:
            z = (a_wins - 0.5 * decisive) / math.sqrt(0.25 * decisive)
            if abs(z) > position_bound:
                return VoterAnomaly(voter, "position", z, j)
    return None


def filter_votes(
    votes: Iterable[Vote],
    policy: VotePolicy = VotePolicy(),
    revealing_answers: Iterable[tuple[str, str]] = (),
) -> VoteFilterResult:
    """Apply the rules in order; `revealing_answers` holds (model, prompt_id) pairs
    whose answers name their author."""
    revealing = set(revealing_answers)
    excluded: list[ExcludedVote] = []
    seen: set[tuple[str, str, frozenset]] = set()
    per_day: dict[tuple[str, str], int] = defaultdict(int)
    kept: list[Vote] = []
    for v in sorted(votes, key=lambda v: v.sequence):
        shown = [m for m in (v.model_a, v.model_b) if (m, v.prompt_id) in revealing]
        if shown:
            excluded.append(ExcludedVote(v, f"identity_revealed: the answer of {shown[0]} names its author"))
            continue
        key = (v.voter_id, v.prompt_id, frozenset((v.model_a, v.model_b)))
        if key in seen:
            excluded.append(ExcludedVote(v, "duplicate: voter already judged this prompt and pair"))
            continue
        seen.add(key)
        per_day[(v.voter_id, v.day)] += 1
        if per_day[(v.voter_id, v.day)] > policy.daily_cap:
            excluded.append(ExcludedVote(v, f"daily_cap: more than {policy.daily_cap} votes on {v.day}"))
            continue
        kept.append(v)
    anomalous = find_anomalous_voters(kept, policy)
    accepted = []
    for v in kept:
        found = anomalous.get(v.voter_id)
        if found:
            excluded.append(ExcludedVote(
                v, f"anomalous_voter: {found.test} test statistic {found.statistic:.1f} after {found.after_votes} votes"))
        else:
            accepted.append(v)
    excluded.sort(key=lambda e: e.vote.sequence)
    return VoteFilterResult(tuple(accepted), tuple(excluded), anomalous)
