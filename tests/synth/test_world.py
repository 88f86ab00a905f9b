"""The synthetic world: deterministic, bilingual, and its benchmarks ask about
facts the corpus states."""

from __future__ import annotations

import re
from dataclasses import FrozenInstanceError

import pytest

from gauntlet.errors import InputError
from gauntlet.synth.names import has_final_consonant, particle
from gauntlet.synth.world import generate_world

HANGUL = re.compile("[\uac00-\ud7a3]")


def test_same_seed_gives_the_same_world_and_another_seed_a_different_one():
    assert generate_world(11, scale=0.3) == generate_world(11, scale=0.3)
    other = generate_world(12, scale=0.3)
    assert other.train_texts != generate_world(11, scale=0.3).train_texts
    assert other.countries[0].name != generate_world(11, scale=0.3).countries[0].name


def test_world_is_frozen(small_world):
    with pytest.raises(FrozenInstanceError):
        small_world.seed = 4


def test_scale_sets_the_number_of_facts():
    small, full = generate_world(5, scale=0.25), generate_world(5)
    assert len(small.countries) < len(full.countries)
    assert len(small.train_texts) < len(full.train_texts)
    assert len(small.task("synth_facts_mc_en").items) < len(full.task("synth_facts_mc_en").items)


@pytest.mark.parametrize("scale", [0, -1.0])
def test_non_positive_scale_is_refused(scale):
    with pytest.raises(InputError, match="scale"):
        generate_world(1, scale=scale)


def test_corpus_is_bilingual_and_names_the_same_entities_in_both_scripts(small_world):
    korean = [t for t in small_world.train_texts if HANGUL.search(t)]
    english = [t for t in small_world.train_texts if not HANGUL.search(t)]
    assert len(korean) == len(english)
    assert all(t.isascii() for t in english)
    country = small_world.countries[0]
    assert any(country.name.ko in t and country.capital.ko in t for t in korean)
    assert any(country.name.en in t and country.capital.en in t for t in english)
    assert "의 수도는" in "".join(korean)


def test_held_out_text_states_trained_facts_in_sentences_not_trained_on(small_world):
    train = set(small_world.train_texts)
    assert small_world.heldout_texts
    assert not train & set(small_world.heldout_texts)
    for country in small_world.countries:
        about = [t for t in small_world.heldout_texts if country.name.en in t or country.name.ko in t]
        assert len(about) == 10  # one per relation and language
        for fact in (country.capital, country.river, country.dish, country.founder):
            for script in ("en", "ko"):
                name, value = getattr(country.name, script), getattr(fact, script)
                assert any(name in t and value in t for t in train)


def test_all_entity_names_are_unique_in_both_scripts(small_world):
    for script in ("en", "ko"):
        names = [
            getattr(getattr(c, attr), script)
            for c in small_world.countries
            for attr in ("name", "capital", "river", "dish", "founder")
        ]
        assert len(set(names)) == len(names)


def test_korean_particles_follow_the_final_consonant():
    assert has_final_consonant("강") and not has_final_consonant("수도")
    assert particle("멜크", "은", "는") == "멜크는"
    assert particle("헹룬", "은", "는") == "헹룬은"
    assert particle("Melk", "은", "는") == "Melk는"


def test_benchmark_tasks_cover_the_output_types_languages_and_groups(small_world):
    tasks = {t.name: t for t in small_world.benchmark_tasks}
    kinds = {(t.output_type, t.lang, t.group) for t in tasks.values()}
    assert ("multiple_choice", "en", "common") in kinds
    assert ("multiple_choice", "ko", "agency") in kinds
    assert ("loglikelihood", "en", "common") in kinds
    assert ("generate_until", "en", "common") in kinds
    for task in tasks.values():
        ids = [item["id"] for item in task.items]
        assert len(set(ids)) == len(ids) and ids


def _statements(world, lang):
    return [t for t in world.train_texts if bool(HANGUL.search(t)) == (lang == "ko")]


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_multiple_choice_answers_are_trained_facts_and_distractors_are_not(small_world, lang):
    task = small_world.task(f"synth_facts_mc_{lang}")
    trained = set(_statements(small_world, lang))
    end = "." if lang == "en" else ""  # Korean choices carry their copula and full stop
    for item in task.items:
        choices = item["choices"]
        assert len(choices) == 4 and len(set(choices)) == 4
        assert 0 <= item["answer"] < 4
        # The cloze with its answer is a sentence of the training corpus ...
        assert item["context"] + item["choices"][item["answer"]] + end in trained
        # ... and with any distractor it is a false statement the corpus never makes.
        for index, choice in enumerate(choices):
            if index != item["answer"]:
                assert item["context"] + choice + end not in trained


def test_distractors_come_from_the_same_category(small_world):
    capitals = {c.capital.en for c in small_world.countries}
    rivers = {c.river.en for c in small_world.countries}
    task = small_world.task("synth_facts_mc_en")
    for item in task.items:
        names = {c.strip() for c in item["choices"]}
        if item["id"].startswith("en-capital"):
            assert names <= capitals
        if item["id"].startswith("en-river"):
            assert names <= rivers


def test_answer_positions_are_not_constant(small_world):
    answers = {item["answer"] for task in small_world.benchmark_tasks
               if task.output_type == "multiple_choice" for item in task.items}
    assert len(answers) > 1


def test_loglikelihood_items_ask_for_founders_and_years_the_corpus_states(small_world):
    english = _statements(small_world, "en")
    items = small_world.task("synth_founding_ll_en").items
    assert len(items) == len(small_world.countries)
    for item, country in zip(items, small_world.countries):
        assert item["context"].startswith(country.name.en)
        assert item["continuation"] == f" {country.founder.en} in {country.founded}."
        # Possibly in a phrasing held out of training, but the facts were read.
        assert any(country.name.en in t and country.founder.en in t and str(country.founded) in t
                   for t in english)


def test_generation_items_complete_a_trained_sentence(small_world):
    corpus = "\n".join(small_world.train_texts)
    for item in small_world.task("synth_capital_gen_en").items:
        assert f"{item['prompt']} {item['target']}." in corpus


def test_arena_prompts_are_in_both_languages_with_unique_ids(small_world):
    prompts = small_world.arena_prompts
    assert {p.lang for p in prompts} == {"en", "ko"}
    assert len({p.id for p in prompts}) == len(prompts)
    for prompt_id, lang, text in prompts:
        assert text and bool(HANGUL.search(text)) == (lang == "ko")
