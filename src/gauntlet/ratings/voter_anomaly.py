"""Anomalous voters, tested as their votes arrive.

In the spirit of the Chatbot Arena paper's sequential outlier test: each vote
is compared with the *earlier* votes of everybody else on the same pair, and
the comparisons are combined sequentially over a voter's votes, Bonferroni
over the looks.  Because the reference is the history at the time of the vote,
the test needs only the voter's own running sums and the pair totals, so the
web app can decide a new vote in O(1), and replaying the whole vote log gives
exactly the same flags (`gauntlet.ratings.vote_quality.filter_votes`).

For each vote the outcome distribution of the same pair among other voters'
earlier votes (a half-count prior per cell) is oriented by the side those
voters favour; the voter's votes fall into three cells, "favoured side wins",
"other side wins", "tie or both bad", whose expected counts are the summed
probabilities.  Pearson's chi-square of observed against expected (2 degrees
of freedom, tail exp(-x/2)) is checked at 20, 40, 80, ... tested votes.  A
vote is tested only when its pair already has `min_reference` votes by
others: against a handful of votes the reference itself is noise, and the
first voters of a round would look out of line with the prior.  We test the
whole outcome profile because a brigading voter who always picks the other
side and never calls a tie produces individually plausible votes that only
stand out together.  A second statistic catches position bias (always "A"):
the share of A-side wins among decisive votes, two-sided, since positions are
randomised.  A third catches favouritism, the signature of a rigging attacker
who recognises one model's answers and votes for it (Min et al., ICML 2025):
per model, the group's score for it (win 1, tie 1/2) minus the reference's
expectation, summed over the group's votes and divided by its standard
deviation; the largest |z| over the models is checked, Bonferroni over the
models too.  An attacker who votes like the crowd on other battles dilutes
the outcome profile, not this.

A group is a voter (cookie or account) and, separately, a network (address
prefix): many fresh cookies from one network are one group, which is how the
test still sees a rigging attacker who clears cookies.  Once a group is
flagged its votes stop feeding the reference, so it cannot drag "everybody
else" towards itself.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

CHECKPOINTS = (20, 40, 80, 160, 320, 640, 1280)
MIN_REFERENCE = 20


@dataclass(frozen=True)
class VoterAnomaly:
    voter_id: str  # the group: a voter id, or "network:<key>"
    test: str  # "outcome_profile" (chi-square), "position" or "favouritism" (z)
    statistic: float
    after_votes: int


def outcome_of(model_a: str, model_b: str, choice: str) -> tuple[tuple[str, str], int]:
    """(pair in name order, outcome 0 first wins / 1 second wins / 2 tie / 3 both bad)."""
    first, second = sorted((model_a, model_b))
    if choice == "tie":
        return (first, second), 2
    if choice == "both_bad":
        return (first, second), 3
    winner = model_a if choice == "a" else model_b
    return (first, second), 0 if winner == first else 1


@dataclass
class _Group:
    observed: np.ndarray = field(default_factory=lambda: np.zeros(3))
    expected: np.ndarray = field(default_factory=lambda: np.zeros(3))
    tested: int = 0
    decisive: int = 0
    a_wins: int = 0
    # Its votes still in the reference: pair -> outcome counts, and the vote ids.
    own: dict = field(default_factory=lambda: defaultdict(lambda: np.zeros(4)))
    contributing: list = field(default_factory=list)
    favour: dict = field(default_factory=lambda: defaultdict(lambda: [0.0, 0.0]))  # model -> [score - expected, variance]


class AnomalyMonitor:
    """Pair totals and per-group running sums; `observe` tests one vote and records it."""

    def __init__(self, alpha: float, checkpoints: tuple[int, ...] = CHECKPOINTS,
                 min_reference: int = MIN_REFERENCE) -> None:
        self.checkpoints = frozenset(checkpoints)
        self.min_reference = min_reference
        self._level = level = alpha / (3 * len(checkpoints))
        self._profile_bound = -2.0 * math.log(level)  # chi-square(2) tail is exp(-x/2)
        self._position_bound = NormalDist().inv_cdf(1.0 - level / 2.0)
        self._models: set[str] = set()
        self._totals: dict[tuple[str, str], np.ndarray] = defaultdict(lambda: np.zeros(4))
        self._groups: dict[str, _Group] = defaultdict(_Group)
        self._votes: dict[int, tuple[tuple[str, str], int, tuple[str, ...]]] = {}
        self.flagged: dict[str, VoterAnomaly] = {}

    def observe(self, vote_id: int, groups: tuple[str, ...], model_a: str, model_b: str, choice: str
                ) -> VoterAnomaly | None:
        """Test the vote against the reference, then add it; returns the anomaly of the first
        of `groups` it flags (or already flagged), else None."""
        pair, outcome = outcome_of(model_a, model_b, choice)
        self._models.update(pair)
        found = next((self.flagged[g] for g in groups if g in self.flagged), None)
        for g in groups:
            if g in self.flagged:
                continue
            anomaly = self._test(g, pair, outcome, choice)
            if anomaly is not None:
                self._flag(anomaly)
                found = found or anomaly
        if not any(g in self.flagged for g in groups):
            self._totals[pair][outcome] += 1
            self._votes[vote_id] = (pair, outcome, groups)
            for g in groups:
                group = self._groups[g]
                group.own[pair][outcome] += 1
                group.contributing.append(vote_id)
        return found

    def _test(self, g: str, pair, outcome: int, choice: str) -> VoterAnomaly | None:
        group = self._groups[g]
        anomaly = None
        if choice in ("a", "b"):
            group.decisive += 1
            group.a_wins += choice == "a"
            if group.decisive in self.checkpoints:
                z = (group.a_wins - 0.5 * group.decisive) / math.sqrt(0.25 * group.decisive)
                if abs(z) > self._position_bound:
                    anomaly = VoterAnomaly(g, "position", z, group.decisive)
        others = self._totals[pair] - group.own[pair]
        if others.sum() >= self.min_reference:
            p = (others + 0.5) / (others.sum() + 2.0)
            fav, other = (0, 1) if p[0] >= p[1] else (1, 0)
            group.expected += (p[fav], p[other], p[2] + p[3])
            group.observed[{fav: 0, other: 1}.get(outcome, 2)] += 1
            group.tested += 1
            first_expected = p[0] + 0.5 * (p[2] + p[3])
            variance = p[0] + 0.25 * (p[2] + p[3]) - first_expected ** 2
            deviation = (1.0, 0.0, 0.5, 0.5)[outcome] - first_expected
            for model, sign in ((pair[0], 1.0), (pair[1], -1.0)):
                sums = group.favour[model]
                sums[0] += sign * deviation
                sums[1] += variance
            if group.tested in self.checkpoints and anomaly is None:
                anomaly = self._look(g, group)
        return anomaly

    def _look(self, g: str, group: _Group) -> VoterAnomaly | None:
        chi2 = float(((group.observed - group.expected) ** 2 / group.expected).sum())
        if chi2 > self._profile_bound:
            return VoterAnomaly(g, "outcome_profile", chi2, group.tested)
        bound = NormalDist().inv_cdf(1.0 - self._level / (2.0 * max(1, len(self._models))))
        z = max((d / math.sqrt(v) for d, v in group.favour.values() if v > 0), key=abs, default=0.0)
        if abs(z) > bound:
            return VoterAnomaly(g, "favouritism", z, group.tested)
        return None

    def _flag(self, anomaly: VoterAnomaly) -> None:
        self.flagged[anomaly.voter_id] = anomaly
        group = self._groups[anomaly.voter_id]
        for vote_id in group.contributing:
            held = self._votes.pop(vote_id, None)
            if held is None:
                continue  # already withdrawn with another of its groups
            pair, outcome, groups = held
            self._totals[pair][outcome] -= 1
            for other in groups:
                self._groups[other].own[pair][outcome] -= 1
        group.contributing.clear()
