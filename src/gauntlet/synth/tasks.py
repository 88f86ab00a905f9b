"""Benchmark tasks and arena prompts built from the world's facts.

Every item asks about a fact stated in the training corpus; distractors are
other entities of the same kind (another country's capital, never a river), so a
model can only beat chance by knowing which entity belongs to which country.
"""

from __future__ import annotations

import numpy as np

from gauntlet.evaluation.items import BenchmarkTask
from gauntlet.synth import templates as T

# Korean tasks stand in for the programme's agency (NIA) suite, English ones for
# the common global suite.
GROUP_BY_LANG = {"ko": "agency", "en": "common"}
CHOICES = 4
# Arena prompts per language; a few dozen answers per model keep generation cheap.
MAX_ARENA_PROMPTS_PER_LANG = 12


def _entity(country, relation: str):
    return {
        "capital": country.capital, "river": country.river,
        "dish": country.dish, "founder": country.founder,
    }[relation]


def _multiple_choice(countries, lang: str, rng: np.random.Generator) -> BenchmarkTask:
    clozes = T.CLOZE_EN if lang == "en" else T.CLOZE_KO
    items = []
    for relation, (context_t, choice_t) in clozes.items():
        for index, country in enumerate(countries):
            others = [i for i in range(len(countries)) if i != index]
            picked = rng.choice(others, size=CHOICES - 1, replace=False)
            options = [country] + [countries[i] for i in picked]
            order = rng.permutation(CHOICES)
            choices = []
            for slot in order:
                entity = getattr(_entity(options[slot], relation), lang)
                # Only the entity placeholder varies between choices.
                key = {"capital": "cap", "river": "R", "dish": "D", "founder": "F"}[relation]
                choices.append(choice_t.format(**{key: entity}))
            items.append(
                {
                    "id": f"{lang}-{relation}-{index:03d}",
                    "context": context_t.format(**country.fields(lang)),
                    "choices": choices,
                    "answer": int(np.flatnonzero(order == 0)[0]),
                }
            )
    return BenchmarkTask(
        name=f"synth_facts_mc_{lang}",
        output_type="multiple_choice",
        lang=lang,
        items=tuple(items),
        group=GROUP_BY_LANG[lang],
        description=(
            f"Which {'/'.join(clozes)} belongs to the country? "
            f"{CHOICES} choices of the same kind ({lang})."
        ),
        metadata={"relations": list(clozes), "chance": 1 / CHOICES},
    )


def _founding_loglikelihood(countries) -> BenchmarkTask:
    items = []
    for index, country in enumerate(countries):
        f = country.fields("en")
        items.append(
            {
                "id": f"en-founding-{index:03d}",
                "context": f"{f['C']} was founded by",
                "continuation": f" {f['F']} in {f['Y']}.",
            }
        )
    return BenchmarkTask(
        name="synth_founding_ll_en",
        output_type="loglikelihood",
        lang="en",
        items=tuple(items),
        group=GROUP_BY_LANG["en"],
        # For some countries this sentence was held out of training: the founder
        # and year were read only in other words.
        description="Likelihood of each country's true founder and founding year.",
    )


def _capital_generation(countries) -> BenchmarkTask:
    items = []
    for index, country in enumerate(countries):
        f = country.fields("en")
        items.append(
            {
                "id": f"en-capital-gen-{index:03d}",
                "prompt": T.CLOZE_EN["capital"][0].format(**f),
                "target": f["cap"],
            }
        )
    return BenchmarkTask(
        name="synth_capital_gen_en",
        output_type="generate_until",
        lang="en",
        items=tuple(items),
        group=GROUP_BY_LANG["en"],
        description="Complete the sentence with the capital's name (exact match).",
        # The model answers " Melk." after the prompt: stop at the full stop and
        # strip the leading space before comparing.
        metadata={"until": [".", "\n"], "max_gen_toks": 12, "strip": True},
    )


def benchmark_tasks(countries, rng: np.random.Generator) -> tuple[BenchmarkTask, ...]:
    return (
        _multiple_choice(countries, "en", rng),
        _multiple_choice(countries, "ko", rng),
        _founding_loglikelihood(countries),
        _capital_generation(countries),
    )


def arena_prompts(countries):
    from gauntlet.synth.world import ArenaPrompt

    prompts = []
    for lang, template in (("en", T.ARENA_EN), ("ko", T.ARENA_KO)):
        for index, country in enumerate(countries[:MAX_ARENA_PROMPTS_PER_LANG]):
            prompts.append(
                ArenaPrompt(f"{lang}-{index:02d}", lang, template.format(**country.fields(lang)))
            )
    return tuple(prompts)
