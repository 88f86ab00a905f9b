"""The blind public arena: prompts, cached answers, anonymous battles, votes.

Flow: a round has a `PromptSet` (Korean and English prompts).  Each model
answers every prompt once (`collect_answers`, through whatever backend the
caller's `generate` uses) and the answers are cached, so voters never wait on
a model and every voter sees the same answer to the same prompt.  Answers
that name their model, team or organisation are set aside
(`screen_answers`) with their reason.  An `ArenaSession` then serves
battles: a voter sees a prompt and two anonymous answers (positions drawn at
random), votes A, B, tie or both-bad, and only then learns which models they
were.  Every submitted vote is kept; `gauntlet.ratings.vote_quality` decides
which ones count.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

from gauntlet.errors import InputError, StoreError
from gauntlet.ratings.identity import identity_matcher

LANGUAGES = ("ko", "en")
CHOICES = ("a", "b", "tie", "both_bad")
# FastChat's winner strings for each choice.
WINNER_OF_CHOICE = {"a": "model_a", "b": "model_b", "tie": "tie", "both_bad": "tie (bothbad)"}


@dataclass(frozen=True)
class Prompt:
    id: str
    language: str
    text: str

    def __post_init__(self) -> None:
        if self.language not in LANGUAGES:
            raise InputError(f"prompt {self.id!r}: language must be one of {', '.join(LANGUAGES)}")
        if not self.id or not self.text.strip():
            raise InputError("a prompt needs an id and non-empty text")


@dataclass(frozen=True)
class PromptSet:
    """The prompts of one round, in both languages."""

    round: str
    prompts: tuple[Prompt, ...]

    def __post_init__(self) -> None:
        ids = [p.id for p in self.prompts]
        if len(set(ids)) != len(ids):
            raise InputError(f"round {self.round!r}: prompt ids must be unique")
        if not ids:
            raise InputError(f"round {self.round!r}: the prompt set is empty")

    def by_id(self) -> dict[str, Prompt]:
        return {p.id: p for p in self.prompts}

    def in_language(self, language: str) -> tuple[Prompt, ...]:
        return tuple(p for p in self.prompts if p.language == language)


Generate = Callable[[str, Sequence[Prompt]], Mapping[str, str]]


class AnswerCache:
    """Answers per model on disk: one JSON file per model, written atomically.

    `model_id` should identify the exact weights (e.g. the content hash the
    intake assigned), so a changed model never reuses stale answers."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)

    def _path(self, model_id: str) -> Path:
        digest = hashlib.sha256(model_id.encode()).hexdigest()[:24]
        return self.directory / f"answers-{digest}.json"

    def get(self, model_id: str) -> dict[str, str]:
        path = self._path(model_id)
        if not path.exists():
            return {}
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise StoreError(f"answer cache file {path} is unreadable: {exc}") from None
        if stored.get("model") != model_id:
            raise StoreError(f"answer cache file {path} belongs to {stored.get('model')!r}, not {model_id!r}")
        return dict(stored["answers"])

    def put(self, model_id: str, answers: Mapping[str, str]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._path(model_id)
        merged = {**self.get(model_id), **answers}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"model": model_id, "answers": merged}, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)


def collect_answers(
    models: Sequence[str],
    prompts: PromptSet,
    generate: Generate,
    cache: AnswerCache | None = None,
) -> dict[str, dict[str, str]]:
    """Every model's answer to every prompt, generating only what the cache lacks."""
    answers: dict[str, dict[str, str]] = {}
    for model in models:
        have = cache.get(model) if cache else {}
        missing = [p for p in prompts.prompts if p.id not in have]
        if missing:
            produced = dict(generate(model, missing))
            lacking = [p.id for p in missing if not isinstance(produced.get(p.id), str)]
            if lacking:
                raise InputError(f"generator returned no answer from {model!r} for prompt(s) {', '.join(lacking[:5])}")
            fresh = {p.id: produced[p.id] for p in missing}
            if cache:
                cache.put(model, fresh)
            have = {**have, **fresh}
        answers[model] = {p.id: have[p.id] for p in prompts.prompts}
    return answers


@dataclass(frozen=True)
class ExcludedAnswer:
    model: str
    prompt_id: str
    reason: str


def screen_answers(
    answers: Mapping[str, Mapping[str, str]],
    identities: Mapping[str, Iterable[str]] | None = None,
) -> tuple[dict[str, dict[str, str]], list[ExcludedAnswer]]:
    """Split answers into those safe to show blind and those that reveal their author.

    `identities[model]` lists names that would identify the model (its
    name, team, organisation, aliases); the model id itself always counts."""
    clean: dict[str, dict[str, str]] = {}
    excluded: list[ExcludedAnswer] = []
    for model, per_prompt in answers.items():
        terms = [model, *((identities or {}).get(model, ()))]
        matcher = identity_matcher(terms)
        clean[model] = {}
        for prompt_id, text in per_prompt.items():
            found = matcher.search(text) if matcher else None
            if found:
                excluded.append(ExcludedAnswer(model, prompt_id, f"identity_revealed: answer names {found.group(0)!r}"))
            else:
                clean[model][prompt_id] = text
    return clean, excluded


@dataclass(frozen=True)
class Battle:
    """A served battle; the model names stay on the server until the vote."""

    id: str
    voter_id: str
    prompt_id: str
    model_a: str
    model_b: str


@dataclass(frozen=True)
class BlindBattle:
    """What a voter sees: no model names."""

    battle_id: str
    prompt: str
    answer_a: str
    answer_b: str


@dataclass(frozen=True)
class Vote:
    battle_id: str
    voter_id: str
    prompt_id: str
    model_a: str
    model_b: str
    choice: str
    day: str
    sequence: int
    # Where the vote came from, as one-way keys (the raw address is never stored), and when
    # (seconds since the epoch): the limits that survive clearing cookies need them.
    address: str = ""
    network: str = ""
    at: float = 0.0

    @property
    def winner(self) -> str:
        return WINNER_OF_CHOICE[self.choice]

    def to_row(self) -> dict:
        """FastChat's battle columns plus ours."""
        return {"model_a": self.model_a, "model_b": self.model_b, "winner": self.winner,
                "voter": self.voter_id, "question_id": self.prompt_id, "day": self.day,
                "battle_id": self.battle_id}


@dataclass(frozen=True)
class Reveal:
    model_a: str
    model_b: str


@dataclass
class ArenaSession:
    """Serves blind battles and records every vote (nothing is ever deleted).

    `pick_pair(rng)` chooses the two models of the next battle (see
    `gauntlet.ratings.sampling`); the prompt is drawn uniformly among those
    both models answered cleanly, and the A/B positions at random."""

    prompts: PromptSet
    answers: Mapping[str, Mapping[str, str]]
    pick_pair: Callable[[np.random.Generator], tuple[str, str]]
    seed: int = 0
    votes: list[Vote] = field(default_factory=list)
    _served: dict[str, Battle] = field(default_factory=dict, repr=False)
    _judged: set = field(default_factory=set, repr=False)

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng(self.seed)
        self._texts = {p.id: p.text for p in self.prompts.prompts}

    def serve(self, voter_id: str) -> BlindBattle:
        # Draw pairs until one has a prompt this voter has not judged for it;
        # a voter who has seen everything gets a repeat (recorded, then
        # rejected as a duplicate by the vote filter).
        fallback = None
        for _ in range(50):
            first, second = self.pick_pair(self._rng)
            shared = sorted(set(self.answers.get(first, {})) & set(self.answers.get(second, {})))
            if not shared:
                continue
            pair = frozenset((first, second))
            fresh = [p for p in shared if (voter_id, p, pair) not in self._judged]
            if fresh:
                break
            fallback = fallback or (first, second, shared)
        else:
            if fallback is None:
                raise InputError("no pair of models has a clean answer to a common prompt")
            first, second, fresh = fallback
            pair = frozenset((first, second))
        prompt_id = fresh[int(self._rng.integers(len(fresh)))]
        self._judged.add((voter_id, prompt_id, pair))
        if self._rng.random() < 0.5:
            first, second = second, first
        battle = Battle(f"b{len(self._served) + 1:06d}", voter_id, prompt_id, first, second)
        self._served[battle.id] = battle
        return BlindBattle(battle.id, self._texts[prompt_id], self.answers[first][prompt_id],
                           self.answers[second][prompt_id])

    def battle(self, battle_id: str) -> Battle:
        """Server side only: who is behind a served battle."""
        try:
            return self._served[battle_id]
        except KeyError:
            raise InputError(f"unknown battle {battle_id!r}") from None

    def submit(self, battle_id: str, voter_id: str, choice: str, day: str) -> Reveal:
        """Record a vote and reveal who the two answers came from."""
        battle = self._served.get(battle_id)
        if battle is None:
            raise InputError(f"unknown battle {battle_id!r}")
        if battle.voter_id != voter_id:
            raise InputError(f"battle {battle_id!r} was not served to voter {voter_id!r}")
        if choice not in CHOICES:
            raise InputError(f"vote must be one of {', '.join(CHOICES)}, got {choice!r}")
        self.votes.append(Vote(battle.id, voter_id, battle.prompt_id, battle.model_a, battle.model_b,
                               choice, day, len(self.votes)))
        return Reveal(battle.model_a, battle.model_b)
