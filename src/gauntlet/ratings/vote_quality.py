"""Which votes count: identity leaks, duplicates, limits, anomalous voters.

Every submitted vote ends up either accepted or in `excluded` with its
reason; nothing is dropped silently or deleted.  Rules apply in this order:

1. ``identity_revealed``: the battle showed an answer that names its model
   (the voter was not blind).
2. ``duplicate``: the same voter already voted on the same prompt with the
   same two models (in either position); the first vote counts.
3. ``daily_cap``: a voter's votes beyond `daily_cap` on one day.
4. ``address_cap`` / ``network_cap``: votes beyond the daily caps of one
   client address or one network prefix (/24 for IPv4, /48 for IPv6), which a
   voter who clears cookies keeps.
5. ``rate``: a vote within one second of `voter_per_second` earlier votes of
   the same voter, or of `address_per_second` of the same address (nobody
   reads two answers that fast).  Off (0) unless the spec sets them.
6. ``anomalous_voter``: the votes of a voter, or of a network, whose choices
   are implausible given everybody else's (`gauntlet.ratings.voter_anomaly`).

`VoteScreen` applies the rules one vote at a time from the voter's own recent
history and streaming statistics: it is what the web app asks whether a new
vote counts, in O(1).  `filter_votes` is the round's decision: it replays the
whole kept vote log through a fresh screen, so both give the same answer for
rules 1-5 and the same flagged voters, and then excludes *every* vote of a
flagged voter or network, including those cast before the flag.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Iterable, Sequence

from gauntlet.ratings.arena import Vote
from gauntlet.ratings.voter_anomaly import CHECKPOINTS, AnomalyMonitor, VoterAnomaly

__all__ = ["VotePolicy", "ExcludedVote", "VoterAnomaly", "VoteFilterResult", "VoteScreen", "filter_votes"]


@dataclass(frozen=True)
class VotePolicy:
    daily_cap: int = 50  # votes per voter (cookie or account) per UTC day
    address_daily_cap: int = 300  # per client address per day
    network_daily_cap: int = 1500  # per network prefix per day
    voter_per_second: int = 0  # votes of one voter within any one second (0: no limit)
    address_per_second: int = 0  # votes of one address within any one second (0: no limit)
    anomaly_alpha: float = 1e-3
    checkpoints: tuple[int, ...] = CHECKPOINTS


@dataclass(frozen=True)
class ExcludedVote:
    vote: Vote
    reason: str


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


def network_group(network: str) -> str:
    return f"network:{network}"


class VoteScreen:
    """The rules above, one vote at a time.  `admit(vote)` records the vote and returns why it
    does not count (None: it counts for now; a later anomaly flag can still exclude it)."""

    def __init__(self, policy: VotePolicy = VotePolicy(), revealing_answers: Iterable[tuple[str, str]] = ()):
        self.policy = policy
        self.revealing = frozenset(revealing_answers)
        self._judged: set[tuple[str, str, frozenset]] = set()
        self._per_day: dict[tuple[str, str, str], int] = defaultdict(int)  # (kind, key, day)
        self._recent: dict[tuple[str, str], deque] = defaultdict(deque)  # (kind, key) -> times
        self.anomalies = AnomalyMonitor(policy.anomaly_alpha, policy.checkpoints)

    @property
    def flagged(self) -> dict[str, VoterAnomaly]:
        return self.anomalies.flagged

    def judged(self, voter_id: str, prompt_id: str, model_a: str, model_b: str) -> bool:
        return (voter_id, prompt_id, frozenset((model_a, model_b))) in self._judged

    def refusal(self, voter_id: str, address: str, network: str, day: str) -> str | None:
        """Why a new battle should not even be served (a daily cap used up), else None.  Rates
        apply to votes only: taking the next battle right after a vote is what voters do."""
        p = self.policy
        for kind, key, cap in (("voter", voter_id, p.daily_cap), ("address", address, p.address_daily_cap),
                               ("network", network, p.network_daily_cap)):
            if key and self._per_day[(kind, key, day)] >= cap:
                return f"{kind}_daily:{cap}"
        return None

    def _in_last_second(self, key, at: float) -> int:
        times = self._recent.get(key)
        if not times:
            return 0
        while times and times[0] <= at - 1.0:
            times.popleft()
        return len(times)

    def _sequential(self, v: Vote) -> str | None:
        shown = [m for m in (v.model_a, v.model_b) if (m, v.prompt_id) in self.revealing]
        if shown:
            return f"identity_revealed: the answer of {shown[0]} names its author"
        key = (v.voter_id, v.prompt_id, frozenset((v.model_a, v.model_b)))
        if key in self._judged:
            return "duplicate: voter already judged this prompt and pair"
        self._judged.add(key)
        p = self.policy
        reason = None
        for kind, who, cap, rule in (("voter", v.voter_id, p.daily_cap, "daily_cap"),
                                     ("address", v.address, p.address_daily_cap, "address_cap"),
                                     ("network", v.network, p.network_daily_cap, "network_cap")):
            if not who:
                continue
            self._per_day[(kind, who, v.day)] += 1
            if reason is None and self._per_day[(kind, who, v.day)] > cap:
                what = {"voter": "votes", "address": "votes from one address", "network": "votes from one network"}
                reason = f"{rule}: more than {cap} {what[kind]} on {v.day}"
        if v.at:
            for kind, who, cap in (("voter", v.voter_id, p.voter_per_second),
                                   ("address", v.address, p.address_per_second)):
                if not who or not cap:
                    continue
                recent = self._in_last_second((kind, who), v.at)
                self._recent[(kind, who)].append(v.at)
                if reason is None and recent >= cap:
                    reason = f"rate: more than {cap} vote(s) from one {kind} within a second"
        return reason

    def admit(self, v: Vote) -> str | None:
        reason = self._sequential(v)
        if reason is not None:
            return reason
        groups = (v.voter_id, network_group(v.network)) if v.network else (v.voter_id,)
        found = self.anomalies.observe(v.sequence, groups, v.model_a, v.model_b, v.choice)
        return None if found is None else _anomaly_reason(found)


def _anomaly_reason(found: VoterAnomaly) -> str:
    who = "network" if found.voter_id.startswith("network:") else "voter"
    return (f"anomalous_voter: {who} {found.test} test statistic {found.statistic:.1f} "
            f"after {found.after_votes} votes")


def filter_votes(votes: Sequence[Vote], policy: VotePolicy = VotePolicy(),
                 revealing_answers: Iterable[tuple[str, str]] = ()) -> VoteFilterResult:
    """Split votes into accepted and excluded (with reasons): the whole log replayed, in
    the order cast, through a `VoteScreen`; then every vote of a flagged voter or network."""
    screen = VoteScreen(policy, revealing_answers)
    excluded: list[ExcludedVote] = []
    kept: list[Vote] = []
    for v in sorted(votes, key=lambda v: v.sequence):
        reason = screen.admit(v)
        if reason is not None and not reason.startswith("anomalous_voter"):
            excluded.append(ExcludedVote(v, reason))
        else:
            kept.append(v)
    flagged = screen.flagged
    accepted = []
    for v in kept:
        found = flagged.get(v.voter_id) or (flagged.get(network_group(v.network)) if v.network else None)
        if found:
            excluded.append(ExcludedVote(v, _anomaly_reason(found)))
        else:
            accepted.append(v)
    excluded.sort(key=lambda e: e.vote.sequence)
    return VoteFilterResult(tuple(accepted), tuple(excluded), dict(flagged))
