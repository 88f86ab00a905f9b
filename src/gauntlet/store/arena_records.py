"""The arena's stored record: prompts, cached answers (screened for identity
leaks), served battles, and every vote.

Which votes count is not stored: it is recomputed from all votes by
`gauntlet.ratings.vote_quality.filter_votes`, so every excluded vote keeps its
reason and nothing is ever deleted.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable, Mapping

from sqlalchemy import func, select

from gauntlet.errors import InputError, StoreError
from gauntlet.ratings.arena import CHOICES, Prompt, PromptSet, Vote, screen_answers
from gauntlet.store.models import Team
from gauntlet.store.models_activity import ArenaAnswer, ArenaBattle, ArenaPrompt, ArenaVote


def _now() -> datetime:
    return datetime.now(timezone.utc)


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
            for row in rows:
                if row.excluded_reason:
                    revealing.add((row.team.key, row.prompt_key))
                else:
                    answers.setdefault(row.team.key, {})[row.prompt_key] = row.text
            return ArenaPool(
                slug, round_key, PromptSet(round_key, tuple(Prompt(p.prompt_key, p.language, p.text) for p in prompts)),
                answers, frozenset(revealing), (len(rows), rows[-1].id if rows else 0),
                {p.prompt_key: p.language for p in prompts},
            )

    def arena_version(self, slug: str, round_key: str) -> tuple[int, int]:
        with self.sessions() as session:
            challenge = self._challenge(session, slug)
            count, last = session.execute(select(func.count(ArenaAnswer.id), func.max(ArenaAnswer.id)).where(
                ArenaAnswer.challenge_id == challenge.id, ArenaAnswer.round_key == round_key)).one()
            return int(count), int(last or 0)

    # -- battles and votes ----------------------------------------------------------
    def record_battle(self, slug: str, round_key: str, voter_id: str, prompt_id: str, model_a: str, model_b: str,
                      at: datetime | None = None) -> str:
        """Remember a served battle; returns its random public id."""
        public_id = secrets.token_urlsafe(18)
        with self.sessions.begin() as session:
            challenge = self._challenge(session, slug)
            team_a, team_b = self._team(session, slug, model_a), self._team(session, slug, model_b)
            session.add(ArenaBattle(public_id=public_id, challenge_id=challenge.id, round_key=round_key,
                                    voter_id=voter_id, prompt_key=prompt_id, team_a_id=team_a.id,
                                    team_b_id=team_b.id, served_at=at or _now()))
        return public_id

    def record_vote(self, battle_id: str, voter_id: str, choice: str, at: datetime | None = None) -> dict:
        """Record a vote on a served battle and return the battle with its models revealed.
        Only the voter it was served to may vote, once."""
        if choice not in CHOICES:
            raise InputError(f"vote must be one of {', '.join(CHOICES)}, got {choice!r}")
        at = at or _now()
        with self.sessions.begin() as session:
            battle = session.scalar(select(ArenaBattle).where(ArenaBattle.public_id == battle_id))
            if battle is None:
                raise StoreError(f"unknown battle {battle_id!r}")
            if battle.voter_id != voter_id:
                raise InputError("this battle was served to another voter")
            if battle.vote is not None:
                raise InputError("this battle already has your vote")
            vote = ArenaVote(battle_id=battle.id, voter_id=voter_id, choice=choice,
                             day=at.astimezone(timezone.utc).date().isoformat(), voted_at=at)
            session.add(vote)
            session.flush()
            return {"battle_id": battle.public_id, "vote_id": vote.id, "round": battle.round_key,
                    "prompt_id": battle.prompt_key, "model_a": battle.team_a.key, "model_b": battle.team_b.key,
                    "choice": choice, "day": vote.day}

    def arena_votes(self, slug: str, round_key: str) -> list[Vote]:
        """Every vote of a round, in the order cast (`Vote.sequence` is the vote's row id)."""
        with self.sessions() as session:
            challenge = self._challenge(session, slug)
            rows = session.execute(
                select(ArenaVote, ArenaBattle).join(ArenaBattle, ArenaVote.battle_id == ArenaBattle.id)
                .where(ArenaBattle.challenge_id == challenge.id, ArenaBattle.round_key == round_key)
                .order_by(ArenaVote.id))
            return [Vote(b.public_id, v.voter_id, b.prompt_key, b.team_a.key, b.team_b.key, v.choice, v.day, v.id)
                    for v, b in rows]

    def voter_judged(self, slug: str, round_key: str, voter_id: str) -> set[tuple[str, frozenset]]:
        """(prompt id, {model, model}) of every battle this voter has voted on in the round."""
        with self.sessions() as session:
            challenge = self._challenge(session, slug)
            rows = session.scalars(select(ArenaBattle).join(ArenaVote, ArenaVote.battle_id == ArenaBattle.id).where(
                ArenaBattle.challenge_id == challenge.id, ArenaBattle.round_key == round_key,
                ArenaVote.voter_id == voter_id))
            return {(b.prompt_key, frozenset((b.team_a.key, b.team_b.key))) for b in rows}

    def votes_cast(self, slug: str, round_key: str, voter_id: str, day: str) -> int:
        with self.sessions() as session:
            challenge = self._challenge(session, slug)
            return int(session.scalar(
                select(func.count(ArenaVote.id)).join(ArenaBattle, ArenaVote.battle_id == ArenaBattle.id)
                .where(ArenaBattle.challenge_id == challenge.id, ArenaBattle.round_key == round_key,
                       ArenaVote.voter_id == voter_id, ArenaVote.day == day)))

    def arena_teams(self, slug: str, round_key: str) -> list[str]:
        """Team keys with at least one stored answer in the round."""
        with self.sessions() as session:
            challenge = self._challenge(session, slug)
            return sorted(session.scalars(select(Team.key).join(ArenaAnswer, ArenaAnswer.team_id == Team.id).where(
                ArenaAnswer.challenge_id == challenge.id, ArenaAnswer.round_key == round_key).distinct()))
