"""The arena's desk: serves blind battles and records votes, for the web app and the demo's crowd.

`ArenaDesk` keeps one `gauntlet.ratings.arena.ArenaSession` per open round
(pair sampling by `gauntlet.ratings.sampling`, prompts and A/B positions drawn
by the session) and puts every served battle and every vote in the store.
Which votes count is `gauntlet.ratings.vote_quality.filter_votes` over all the
round's votes. It knows nothing of HTTP, so the web app and a simulated crowd
share exactly the same serving and voting rules.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass

from gauntlet.errors import GauntletError, StoreError
from gauntlet.ratings.arena import ArenaSession
from gauntlet.ratings.sampling import make_sampler
from gauntlet.ratings.vote_quality import VoteFilterResult, VotePolicy, filter_votes
from gauntlet.store.spec_view import daily_vote_cap

DEFAULT_DAILY_CAP = VotePolicy().daily_cap
REDRAWS = 20
SCORE_A = {"a": 1.0, "b": 0.0, "tie": 0.5, "both_bad": 0.5}


class DailyCapReached(GauntletError):
    """This voter has used today's votes (HTTP 429)."""


class ArenaClosed(StoreError):
    """No round has enough answers for a battle (HTTP 404: there is nothing to serve)."""


@dataclass
class _OpenRound:
    version: tuple[int, int]
    session: ArenaSession
    sampler: object
    languages: dict[str, str]


def voter_alias(voter_id: str) -> str:
    """How a voter appears in public files: a short one-way hash of the cookie id."""
    return hashlib.sha256(voter_id.encode()).hexdigest()[:12]


class ArenaDesk:
    def __init__(self, store, *, seed: int | None = None, daily_cap: int | None = None, sampling: str = "active"):
        self.store = store
        self.seed = seed
        self.daily_cap = daily_cap
        self.sampling = sampling
        self._open: dict[tuple[str, str], _OpenRound] = {}
        self._lock = threading.Lock()

    def policy(self, slug: str) -> VotePolicy:
        if self.daily_cap is not None:
            return VotePolicy(daily_cap=self.daily_cap)
        return VotePolicy(daily_cap=daily_vote_cap(self.store.spec_text(slug)) or DEFAULT_DAILY_CAP)

    def open_round(self, slug: str, round_key: str | None) -> str:
        round_key = round_key or self.store.arena_round(slug)
        if round_key is None:
            raise ArenaClosed("the arena is not open: no round has arena prompts yet")
        return round_key

    def _session(self, slug: str, round_key: str) -> _OpenRound:
        version = self.store.arena_version(slug, round_key)
        current = self._open.get((slug, round_key))
        if current is not None and current.version == version:
            return current
        pool = self.store.arena_pool(slug, round_key)
        models = sorted(pool.answers)
        if len(models) < 2:
            raise ArenaClosed(f"the arena of round {round_key!r} needs answers from at least two models")
        sampler = make_sampler(self.sampling, models)
        for vote in self.store.arena_votes(slug, round_key):  # the active sampler learns from votes so far
            sampler.observe(vote.model_a, vote.model_b, SCORE_A[vote.choice])
        seed = self.seed if self.seed is not None else secrets.randbits(63)
        opened = _OpenRound(version, ArenaSession(pool.prompts, pool.answers, sampler, seed=seed), sampler,
                            pool.languages)
        self._open[(slug, round_key)] = opened
        return opened

    def serve(self, slug: str, round_key: str, voter_id: str, at) -> dict:
        """A blind battle for the voter: prompt, two answers, a random battle id; no names."""
        policy = self.policy(slug)
        day = at.date().isoformat()
        if self.store.votes_cast(slug, round_key, voter_id, day) >= policy.daily_cap:
            raise DailyCapReached(f"you have cast today's {policy.daily_cap} votes; thank you, come back tomorrow")
        judged = self.store.voter_judged(slug, round_key, voter_id)
        with self._lock:
            opened = self._session(slug, round_key)
            # The session remembers what it served since it was opened; the store remembers
            # votes from before a restart, so skip battles this voter has already judged.
            for _ in range(REDRAWS):
                blind = opened.session.serve(voter_id)
                battle = opened.session.battle(blind.battle_id)
                if (battle.prompt_id, frozenset((battle.model_a, battle.model_b))) not in judged:
                    break
            public_id = self.store.record_battle(slug, round_key, voter_id, battle.prompt_id,
                                                 battle.model_a, battle.model_b, at)
        return {"battle_id": public_id, "round": round_key, "prompt": blind.prompt,
                "language": opened.languages.get(battle.prompt_id, ""),
                "answer_a": blind.answer_a, "answer_b": blind.answer_b}

    def vote(self, slug: str, battle_id: str, voter_id: str, choice: str, at) -> dict:
        """Record the vote, then reveal the models and say whether the vote counts."""
        recorded = self.store.record_vote(battle_id, voter_id, choice, at)
        pool = self.store.arena_pool(slug, recorded["round"])
        review = self.review(slug, recorded["round"], pool)
        reason = next((e.reason for e in review.excluded if e.vote.sequence == recorded["vote_id"]), None)
        if reason is None:
            with self._lock:
                opened = self._open.get((slug, recorded["round"]))
                if opened is not None:
                    opened.sampler.observe(recorded["model_a"], recorded["model_b"], SCORE_A[choice])
        names = self.store.team_names(slug)
        prompt = pool.prompts.by_id().get(recorded["prompt_id"])
        return {**recorded, "counted": reason is None, "reason": reason,
                "prompt": prompt.text if prompt else "",
                "answers": {side: pool.answers.get(recorded[f"model_{side}"], {}).get(recorded["prompt_id"], "")
                            for side in ("a", "b")},
                "names": {side: names.get(recorded[f"model_{side}"], {}) for side in ("a", "b")}}

    def review(self, slug: str, round_key: str, pool=None) -> VoteFilterResult:
        pool = pool or self.store.arena_pool(slug, round_key)
        return filter_votes(self.store.arena_votes(slug, round_key), self.policy(slug), pool.revealing)
