"""A simulated public arena for the demo and the benchmarks.

Simulated voters judge the real cached answers through the real blind
session, vote-quality filters and Bradley-Terry fit; only the judgement is
simulated: an honest voter prefers the answer of the model with the higher
true quality, through a logistic link with per-vote noise, and calls ties
more often between close models.  Some voters misbehave so the filters have
something to catch: *lazy* voters always click A, *adversarial* voters always
pick the worse answer, *spammers* vote far past the daily cap and re-submit
battles they already judged.

`simulate_arena` runs a whole arena in memory.  `judge_battle` and
`CrowdSchedule` are its per-vote parts, for callers that put the simulated
crowd in front of a real arena instead (the demo votes through the store).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Iterable, Mapping, Sequence

import numpy as np

from gauntlet.errors import InputError
from gauntlet.ratings.arena import (
    ArenaSession, ExcludedAnswer, Prompt, PromptSet, Vote, screen_answers,
)
from gauntlet.ratings.bradley_terry import Leaderboard, fit_leaderboard
from gauntlet.ratings.sampling import make_sampler
from gauntlet.ratings.vote_quality import ExcludedVote, VoteFilterResult, VotePolicy, filter_votes
from gauntlet.ratings.votes import PairwiseVotes

VOTER_KINDS = ("honest", "lazy", "adversarial", "spammer")


@dataclass(frozen=True)
class SimulatedVoter:
    id: str
    kind: str
    activity: float  # relative share of battles this voter asks for


@dataclass(frozen=True)
class ArenaOutcome:
    votes: tuple[Vote, ...]
    accepted: tuple[Vote, ...]
    excluded_votes: tuple[ExcludedVote, ...]
    excluded_answers: tuple[ExcludedAnswer, ...]
    leaderboard: Leaderboard
    voters: tuple[SimulatedVoter, ...]
    filter_result: VoteFilterResult
    policy: str

    seed: int = 0

    def write_counted_votes(self, path) -> None:
        """The counted votes as a FastChat CSV: `gauntlet ratings fit PATH --seed SEED`
        reproduces `leaderboard` exactly (same model order, same bootstrap draws)."""
        from pathlib import Path

        from gauntlet.ratings.synthetic import write_vote_csv

        write_vote_csv(Path(path), [v.model_a for v in self.accepted], [v.model_b for v in self.accepted],
                       [v.winner for v in self.accepted])

    def write_vote_log(self, path) -> None:
        """Every submitted vote, counted or not, as JSONL with `excluded_reason`."""
        import json
        from pathlib import Path

        with open(Path(path), "w", encoding="utf-8") as f:
            for row in self.vote_rows():
                f.write(json.dumps(row, ensure_ascii=False) + "\n")

    def vote_rows(self) -> list[dict]:
        """Every vote as a FastChat-style row with `excluded_reason` (None when counted)."""
        reasons = {e.vote.sequence: e.reason for e in self.excluded_votes}
        return [{**v.to_row(), "excluded_reason": reasons.get(v.sequence)} for v in self.votes]


def default_voters(seed: int, n_honest: int = 40) -> tuple[SimulatedVoter, ...]:
    """A crowd of honest voters plus two of each misbehaving kind."""
    rng = np.random.default_rng(seed)
    voters = [SimulatedVoter(f"voter-{k:03d}", "honest", float(rng.uniform(0.5, 1.5))) for k in range(n_honest)]
    for kind, activity in (("lazy", 2.0), ("adversarial", 3.0), ("spammer", 10.0)):
        voters += [SimulatedVoter(f"{kind}-{k}", kind, activity) for k in range(2)]
    return tuple(voters)


def judge_battle(kind: str, quality_a: float, quality_b: float, rng: np.random.Generator) -> str:
    """One simulated voter's choice ("a", "b", "tie" or "both_bad") between the answers of
    models with true qualities `quality_a` and `quality_b` (Bradley-Terry log-odds scale)."""
    if kind not in VOTER_KINDS:
        raise InputError(f"unknown voter kind {kind!r}; choose one of {', '.join(VOTER_KINDS)}")
    if kind == "lazy":
        return "a"
    if kind == "adversarial":
        # Brigading: always against the better model, never a tie.
        return "b" if quality_a >= quality_b else "a"
    gap = quality_a - quality_b + rng.normal(0.0, 0.5)
    if rng.random() < 0.25 * np.exp(-abs(quality_a - quality_b)):
        return "tie" if (quality_a + quality_b) / 2 > 0 else "both_bad"
    a_better = rng.random() < 1.0 / (1.0 + np.exp(-gap))
    return "a" if a_better else "b"


class CrowdSchedule:
    """Who asks for the next battle: voters drawn in proportion to their activity.  A
    spammer re-submits the battle it judged last about 30% of the time (`resubmits`)."""

    RESUBMIT_SHARE = 0.3

    def __init__(self, crowd: Sequence[SimulatedVoter], rng: np.random.Generator) -> None:
        if not crowd:
            raise InputError("a simulated crowd needs at least one voter")
        self.crowd = tuple(crowd)
        share = np.array([v.activity for v in self.crowd], dtype=np.float64)
        self.share = share / share.sum()
        self.rng = rng

    def next_voter(self) -> SimulatedVoter:
        return self.crowd[int(self.rng.choice(len(self.crowd), p=self.share))]

    def resubmits(self, voter: SimulatedVoter, has_judged: bool) -> bool:
        return voter.kind == "spammer" and has_judged and self.rng.random() < self.RESUBMIT_SHARE


def simulate_arena(
    models: Sequence[str],
    answers: Mapping[str, Mapping[str, str]],
    quality: Mapping[str, float],
    n_votes: int,
    seed: int,
    policy: str = "active",
    *,
    prompts: PromptSet | None = None,
    identities: Mapping[str, Iterable[str]] | None = None,
    voters: Sequence[SimulatedVoter] | None = None,
    vote_policy: VotePolicy = VotePolicy(),
    days: int = 7,
    bootstrap: int = 100,
) -> ArenaOutcome:
    """Run a whole arena: screen answers, serve `n_votes` blind battles to simulated
    voters, filter the votes, fit the leaderboard.

    `quality[model]` is the model's true strength on the Bradley-Terry
    log-odds scale (a difference of 1 means the better answer wins about 73%
    of decisive honest votes).  `answers[model][prompt_id]` are the cached
    answers; `prompts` gives their texts (ids stand in when omitted).
    """
    missing = [m for m in models if m not in quality or m not in answers]
    if missing:
        raise InputError(f"no quality or answers for model(s) {', '.join(missing)}")
    if n_votes < 1:
        raise InputError("n_votes must be positive")
    rng = np.random.default_rng(seed)
    if prompts is None:
        ids = sorted({pid for m in models for pid in answers[m]})
        prompts = PromptSet("simulated", tuple(Prompt(pid, "en", pid) for pid in ids))
    clean, excluded_answers = screen_answers({m: answers[m] for m in models}, identities)
    sampler = make_sampler(policy, models)
    session = ArenaSession(prompts, clean, sampler, seed=int(rng.integers(2**31)))
    crowd = tuple(voters) if voters is not None else default_voters(int(rng.integers(2**31)))
    schedule = CrowdSchedule(crowd, rng)
    start = date(2026, 1, 5)
    last: dict[str, object] = {}
    for k in range(n_votes):
        day = (start + timedelta(days=int(k * days // n_votes))).isoformat()
        voter = schedule.next_voter()
        if schedule.resubmits(voter, voter.id in last):
            blind = last[voter.id]  # re-submit a battle already judged
        else:
            blind = session.serve(voter.id)
            last[voter.id] = blind
        battle = session.battle(blind.battle_id)
        choice = judge_battle(voter.kind, quality[battle.model_a], quality[battle.model_b], rng)
        reveal = session.submit(blind.battle_id, voter.id, choice, day)
        score = {"a": 1.0, "b": 0.0}.get(choice, 0.5)
        sampler.observe(reveal.model_a, reveal.model_b, score)
    revealing = [(e.model, e.prompt_id) for e in excluded_answers]
    result = filter_votes(session.votes, vote_policy, revealing)
    counted = PairwiseVotes.from_records(
        [v.model_a for v in result.accepted], [v.model_b for v in result.accepted],
        [v.winner for v in result.accepted],
    )
    leaderboard = fit_leaderboard(counted, bootstrap=bootstrap, seed=seed)
    return ArenaOutcome(
        votes=tuple(session.votes),
        accepted=result.accepted,
        excluded_votes=result.excluded,
        excluded_answers=tuple(excluded_answers),
        leaderboard=leaderboard,
        voters=crowd,
        filter_result=result,
        policy=policy,
        seed=seed,
    )
