"""The arena's stored record: prompts, cached answers (screened for identity
leaks), served battles, and every vote.

Which votes count is not stored: it is recomputed from all votes by
`gauntlet.ratings.vote_quality.filter_votes`, so every excluded vote keeps its
reason and nothing is ever deleted.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable, Mapping

from sqlalchemy import func, select

from gauntlet.errors import InputError, StoreError
from gauntlet.store.access import AccessDenied
from gauntlet.ratings.arena import CHOICES, Prompt, PromptSet, Vote, screen_answers
from gauntlet.store.models import Team
from gauntlet.store.models_activity import ArenaAnswer, ArenaBattle, ArenaPrompt, ArenaState, ArenaVote


_BATCHER_LOCK = threading.Lock()  # one vote batcher per store, even when its first votes come at once


def _epoch(at: datetime) -> float:
    # SQLite hands back naive datetimes; they were stored in UTC.
    return (at if at.tzinfo else at.replace(tzinfo=timezone.utc)).timestamp()


@dataclass(frozen=True)
class ArenaPool:
    """What a round's arena can show: prompts and the answers safe to show blind."""

    slug: str
    round_key: str
    prompts: PromptSet
    answers: dict[str, dict[str, str]]  # team key -> prompt id -> clean answer
    revealing: frozenset[tuple[str, str]]  # (team key, prompt id) of answers that name their author
    version: tuple[int, int] = (0, 0)  # (answers, last answer id): changes when answers are added
    languages: dict[str, str] = field(default_factory=dict)  # prompt id -> language
    challenge_id: int = 0
    team_ids: dict[str, int] = field(default_factory=dict)  # team key -> row id, for writing votes


class ArenaClosedForVotes(AccessDenied):
    """The round's arena is closed (decided); votes are refused, not counted (HTTP 403)."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason  # why it was closed


@dataclass(frozen=True)
class ServedVote:
    """A vote on a battle the desk served but did not store: both go in one transaction."""

    battle_id: str
    round_key: str
    voter_id: str
    prompt_id: str
    model_a: str
    model_b: str
    served_at: datetime
    choice: str
    voted_at: datetime
    address_key: str = ""
    network_key: str = ""


class ArenaVerbs:
    """Mixed into `Store`."""

    def add_arena_prompts(self, slug: str, round_key: str, prompts: Iterable[Prompt]) -> int:
        """Store a round's prompts (`gauntlet.ratings.arena.Prompt`s, e.g. a `PromptSet.prompts`).
        Re-adding an identical prompt is a no-op; changing a stored one is refused."""
        added = 0
        with self.sessions.begin() as session:
            challenge = self._challenge(session, slug)
            for p in prompts:
                row = session.scalar(select(ArenaPrompt).where(
                    ArenaPrompt.challenge_id == challenge.id, ArenaPrompt.round_key == round_key,
                    ArenaPrompt.prompt_key == p.id))
                if row is None:
                    session.add(ArenaPrompt(challenge_id=challenge.id, round_key=round_key, prompt_key=p.id,
                                            language=p.language, text=p.text))
                    added += 1
                elif (row.language, row.text) != (p.language, p.text):
                    raise StoreError(f"arena prompt {p.id!r} of round {round_key!r} is already stored with other text")
        return added

    def add_arena_answers(self, slug: str, round_key: str, answers: Mapping[str, Mapping[str, str]],
                          identities: Mapping[str, Iterable[str]] | None = None) -> dict[str, int]:
        """Cache each team model's answers (`answers[team_key][prompt_id]`), screened with
        `screen_answers`: an answer naming its team key, team/model name, organisation or any
        of `identities[team_key]` is stored but never shown blind.  Answers are written once:
        voters must all see the same answer to the same prompt."""
        counts = {"stored": 0, "excluded": 0}
        with self.sessions.begin() as session:
            challenge = self._challenge(session, slug)
            prompt_ids = set(session.scalars(select(ArenaPrompt.prompt_key).where(
                ArenaPrompt.challenge_id == challenge.id, ArenaPrompt.round_key == round_key)))
            teams = {}
            terms = {}
            for key in answers:
                team = self._team(session, slug, key)
                teams[key] = team
                terms[key] = [team.name, team.organisation, *((identities or {}).get(key, ()))]
            _, excluded = screen_answers(answers, terms)
            reasons = {(e.model, e.prompt_id): e.reason for e in excluded}
            for key, per_prompt in answers.items():
                for prompt_id, text in per_prompt.items():
                    if prompt_id not in prompt_ids:
                        raise InputError(f"answer of {key!r} to unknown prompt {prompt_id!r} (add the prompts first)")
                    # An empty answer is still the model's answer (it should lose its battles), so it is kept.
                    if not isinstance(text, str):
                        raise InputError(f"answer of {key!r} to {prompt_id!r} must be text")
                    row = session.scalar(select(ArenaAnswer).where(
                        ArenaAnswer.challenge_id == challenge.id, ArenaAnswer.round_key == round_key,
                        ArenaAnswer.team_id == teams[key].id, ArenaAnswer.prompt_key == prompt_id))
                    if row is not None:
                        if row.text != text:
                            raise StoreError(f"the answer of {key!r} to {prompt_id!r} is already stored; answers are cached once")
                        continue
                    reason = reasons.get((key, prompt_id))
                    session.add(ArenaAnswer(challenge_id=challenge.id, round_key=round_key, team_id=teams[key].id,
                                            prompt_key=prompt_id, text=text, excluded_reason=reason))
                    counts["excluded" if reason else "stored"] += 1
        return counts

    def arena_round(self, slug: str) -> str | None:
        """The round whose arena is open: the latest one given prompts."""
        with self.sessions() as session:
            challenge = self._challenge(session, slug)
            return session.scalar(select(ArenaPrompt.round_key).where(ArenaPrompt.challenge_id == challenge.id)
                                  .order_by(ArenaPrompt.id.desc()).limit(1))

    def arena_pool(self, slug: str, round_key: str) -> ArenaPool:
        with self.sessions() as session:
            challenge = self._challenge(session, slug)
            prompts = list(session.scalars(select(ArenaPrompt).where(
                ArenaPrompt.challenge_id == challenge.id, ArenaPrompt.round_key == round_key).order_by(ArenaPrompt.id)))
            if not prompts:
                raise StoreError(f"round {round_key!r} of {slug!r} has no arena prompts")
            rows = list(session.scalars(select(ArenaAnswer).where(
                ArenaAnswer.challenge_id == challenge.id, ArenaAnswer.round_key == round_key).order_by(ArenaAnswer.id)))
            answers: dict[str, dict[str, str]] = {}
            revealing = set()
            team_ids = {}
            for row in rows:
                team_ids[row.team.key] = row.team_id
                if row.excluded_reason:
                    revealing.add((row.team.key, row.prompt_key))
                else:
                    answers.setdefault(row.team.key, {})[row.prompt_key] = row.text
            return ArenaPool(
                slug, round_key, PromptSet(round_key, tuple(Prompt(p.prompt_key, p.language, p.text) for p in prompts)),
                answers, frozenset(revealing), (len(rows), rows[-1].id if rows else 0),
                {p.prompt_key: p.language for p in prompts}, challenge.id, team_ids,
            )

    def arena_version(self, slug: str, round_key: str) -> tuple[int, int]:
        with self.sessions() as session:
            challenge = self._challenge(session, slug)
            count, last = session.execute(select(func.count(ArenaAnswer.id), func.max(ArenaAnswer.id)).where(
                ArenaAnswer.challenge_id == challenge.id, ArenaAnswer.round_key == round_key)).one()
            return int(count), int(last or 0)

    # -- battles and votes ----------------------------------------------------------
    def record_served_vote(self, pool: ArenaPool, vote: ServedVote, then=None) -> tuple[int, object]:
        """Store a served battle and its vote in one transaction, batched with the votes arriving
        at the same time (`gauntlet.store.vote_batches`); returns (vote id, `then(vote id)`),
        once the vote is on disk.  Refused when the arena is closed or the battle already has
        a vote."""
        return self._vote_batcher_for(pool, vote).write(pool, vote, then)

    async def record_served_vote_async(self, pool: ArenaPool, vote: ServedVote, then=None) -> tuple[int, object]:
        """`record_served_vote` for a caller on an event loop: it awaits the commit."""
        return await self._vote_batcher_for(pool, vote).write_async(pool, vote, then)

    def _vote_batcher_for(self, pool: ArenaPool, vote: ServedVote):
        if vote.choice not in CHOICES:
            raise InputError(f"vote must be one of {', '.join(CHOICES)}, got {vote.choice!r}")
        for model in (vote.model_a, vote.model_b):
            if model not in pool.team_ids:
                raise StoreError(f"no team {model!r} in the arena of round {pool.round_key!r}")
        with _BATCHER_LOCK:
            if getattr(self, "_vote_batcher", None) is None:
                from gauntlet.store.vote_batches import VoteBatcher

                self._vote_batcher = VoteBatcher(self)
        return self._vote_batcher

    # -- the arena's state ------------------------------------------------------------
    @staticmethod
    def _arena_state_row(session, challenge_id: int, round_key: str) -> ArenaState | None:
        return session.scalar(select(ArenaState).where(ArenaState.challenge_id == challenge_id,
                                                       ArenaState.round_key == round_key)
                              .order_by(ArenaState.id.desc()).limit(1))

    def arena_state(self, slug: str, round_key: str) -> dict:
        """{"state": "open"|"closed", "reason", "at"}: open until the decision closes it."""
        with self.sessions() as session:
            row = self._arena_state_row(session, self._challenge(session, slug).id, round_key)
            if row is None:
                return {"state": "open", "reason": "", "at": None}
            return {"state": row.state, "reason": row.reason, "at": row.at}

    def set_arena_state(self, slug: str, round_key: str, state: str, reason: str, at: datetime) -> None:
        """Append an open/closed state for the round's arena (states are never edited)."""
        if state not in ("open", "closed"):
            raise InputError(f"an arena is open or closed, not {state!r}")
        if not reason.strip():
            raise InputError("say why the arena is opened or closed")
        with self.sessions.begin() as session:
            challenge = self._challenge(session, slug)
            current = self._arena_state_row(session, challenge.id, round_key)
            if (current.state if current else "open") == state:
                raise InputError(f"the arena of round {round_key!r} is already {state}")
            session.add(ArenaState(challenge_id=challenge.id, round_key=round_key, state=state, reason=reason,
                                   at=at))

    def arena_votes(self, slug: str, round_key: str, *, after: int = 0) -> list[Vote]:
        """Every vote of a round (or those after vote id `after`), in the order cast
        (`Vote.sequence` is the vote's row id)."""
        with self.sessions() as session:
            challenge = self._challenge(session, slug)
            # Plain columns, not ORM objects: a round's decision reads every vote ever cast.
            rows = session.execute(
                select(ArenaBattle.public_id, ArenaVote.voter_id, ArenaBattle.prompt_key, ArenaBattle.team_a_id,
                       ArenaBattle.team_b_id, ArenaVote.choice, ArenaVote.day, ArenaVote.id, ArenaVote.address_key,
                       ArenaVote.network_key, ArenaVote.voted_at)
                .join(ArenaBattle, ArenaVote.battle_id == ArenaBattle.id)
                .where(ArenaBattle.challenge_id == challenge.id, ArenaBattle.round_key == round_key,
                       ArenaVote.id > after)
                .order_by(ArenaVote.id))
            keys = dict(session.execute(select(Team.id, Team.key).where(Team.challenge_id == challenge.id)).all())
            return [Vote(r.public_id, r.voter_id, r.prompt_key, keys[r.team_a_id], keys[r.team_b_id], r.choice, r.day,
                         r.id, r.address_key or "", r.network_key or "", _epoch(r.voted_at))
                    for r in rows]

    def arena_teams(self, slug: str, round_key: str) -> list[str]:
        """Team keys with at least one stored answer in the round."""
        with self.sessions() as session:
            challenge = self._challenge(session, slug)
            return sorted(session.scalars(select(Team.key).join(ArenaAnswer, ArenaAnswer.team_id == Team.id).where(
                ArenaAnswer.challenge_id == challenge.id, ArenaAnswer.round_key == round_key).distinct()))
