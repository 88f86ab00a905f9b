"""A small invented bilingual world: countries with capitals, rivers, dishes,
founders and numbers, written out as English and Korean text.

`generate_world(seed)` is a pure function of its arguments: the same seed gives
the same facts, the same corpus and the same benchmark items, byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from gauntlet.errors import InputError
from gauntlet.evaluation.items import BenchmarkTask
from gauntlet.synth import templates as T
from gauntlet.synth.names import Name, NameMaker, particle

# At scale 1.0; the number of facts is what a tiny model must memorise in seconds.
BASE_COUNTRIES = 24
MIN_COUNTRIES = 6  # four distinct choices per multiple-choice item need a few spare


@dataclass(frozen=True)
class Country:
    """One country and everything the world says about it."""

    name: Name
    capital: Name
    river: Name
    dish: Name
    founder: Name
    founded: int
    population_millions: int

    def fields(self, lang: str) -> dict[str, str]:
        """Placeholder values for the templates in `lang` ("en" or "ko")."""
        if lang == "en":
            return {
                "C": self.name.en, "cap": self.capital.en, "R": self.river.en,
                "D": self.dish.en, "F": self.founder.en,
                "Y": str(self.founded), "P": str(self.population_millions),
            }
        c, cap, d, f = self.name.ko, self.capital.ko, self.dish.ko, self.founder.ko
        return {
            "C": c, "cap": cap, "R": self.river.ko, "D": d, "F": f,
            "Y": str(self.founded), "P": str(self.population_millions),
            "C_eun": particle(c, "은", "는"), "C_eul": particle(c, "을", "를"),
            "cap_eun": particle(cap, "은", "는"),
            "D_eun": particle(d, "은", "는"), "D_eul": particle(d, "을", "를"),
            "D_ga": particle(d, "이", "가"), "D_irago": particle(d, "이라고", "라고")[len(d):],
            "F_ga": particle(f, "이", "가"), "F_eun": particle(f, "은", "는"),
        }


class ArenaPrompt(NamedTuple):
    """A prompt shown to every model in the public arena."""

    id: str
    lang: str
    text: str


@dataclass(frozen=True)
class World:
    """Everything the demo needs that is made of text: a training corpus, held-out
    text for measuring quality, benchmark tasks and arena prompts."""

    seed: int
    scale: float
    countries: tuple[Country, ...]
    train_texts: tuple[str, ...]
    heldout_texts: tuple[str, ...]
    benchmark_tasks: tuple[BenchmarkTask, ...]
    arena_prompts: tuple[ArenaPrompt, ...]

    def task(self, name: str) -> BenchmarkTask:
        for task in self.benchmark_tasks:
            if task.name == name:
                return task
        raise InputError(f"world has no benchmark task named {name!r}")


def _countries(rng: np.random.Generator, count: int) -> tuple[Country, ...]:
    names = NameMaker(rng)
    countries = []
    for _ in range(count):
        countries.append(
            Country(
                name=names.country(),
                capital=names.word(2),
                river=names.word(2, coda_chance=0.0),
                dish=names.word(2, coda_chance=0.5),
                founder=names.person(),
                founded=int(rng.integers(1100, 1950)),
                population_millions=int(rng.integers(1, 90)),
            )
        )
    return tuple(countries)


def _split_sentences(countries, rng: np.random.Generator) -> tuple[list[str], list[str]]:
    """Every fact in every template, in both languages; for each country, language
    and relation one forward sentence is held out. The model has read the fact in
    other words and the template about other countries, so held-out text rewards
    knowledge and language rather than memorised sentences.

    The first template of a relation is never held out: it is the benchmark's
    cloze. Korean particles fuse with names under byte-level BPE, so a choice
    such as " 헹루이다." whose spelling was never read would lose to distractors
    that were, whatever the model knows; the benchmark asks in the phrasing read.
    """
    train, heldout = [], []
    for country in countries:
        for lang, forward, reverse in (
            ("en", T.FORWARD_EN, T.REVERSE_EN), ("ko", T.FORWARD_KO, T.REVERSE_KO)
        ):
            fields = country.fields(lang)
            for relation, templates in forward.items():
                held = 1 + int(rng.integers(len(templates) - 1))
                for index, template in enumerate(templates):
                    (heldout if index == held else train).append(template.format(**fields))
                train.extend(t.format(**fields) for t in reverse[relation])
    return train, heldout


def generate_world(seed: int, *, scale: float = 1.0) -> World:
    """The world for `seed`. `scale` multiplies the number of countries (and so the
    corpus and the benchmark items); 1.0 is the demo's full size."""
    if not scale > 0:
        raise InputError(f"world scale must be positive, got {scale}")
    from gauntlet.synth.tasks import arena_prompts, benchmark_tasks

    rng = np.random.default_rng(seed)
    count = max(MIN_COUNTRIES, round(BASE_COUNTRIES * scale))
    countries = _countries(rng, count)

    train, heldout = _split_sentences(countries, rng)
    for country in countries:
        train.append(T.PROFILE_EN.format(**country.fields("en")))
        train.append(T.PROFILE_KO.format(**country.fields("ko")))
    order = rng.permutation(len(train))

    task_rng = np.random.default_rng([seed, 1])
    return World(
        seed=seed,
        scale=scale,
        countries=countries,
        train_texts=tuple(train[i] for i in order),
        heldout_texts=tuple(heldout),
        benchmark_tasks=benchmark_tasks(countries, task_rng),
        arena_prompts=arena_prompts(countries),
    )
