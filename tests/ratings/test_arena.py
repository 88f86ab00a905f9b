"""Arena: answers generated once and cached, identity leaks screened out, blind battles."""

from __future__ import annotations

import pytest

from gauntlet.errors import InputError
from gauntlet.ratings.arena import (
    AnswerCache, ArenaSession, Prompt, PromptSet, collect_answers, screen_answers,
)
from gauntlet.ratings.identity import redact, revealing_term
from gauntlet.ratings.sampling import UniformPairSampler

PROMPTS = PromptSet("round-1", (
    Prompt("ko-1", "ko", "한국의 수도는 어디인가요?"),
    Prompt("en-1", "en", "Explain photosynthesis in one sentence."),
    Prompt("en-2", "en", "Write a haiku about autumn."),
))


class CountingGenerator:
    def __init__(self):
        self.calls = []

    def __call__(self, model, prompts):
        self.calls.append((model, tuple(p.id for p in prompts)))
        return {p.id: f"{p.text} -> answer" for p in prompts}


def test_answers_are_generated_once_and_cached(tmp_path):
    generate = CountingGenerator()
    cache = AnswerCache(tmp_path / "answers")
    first = collect_answers(["alpha", "beta"], PROMPTS, generate, cache)
    assert [c[0] for c in generate.calls] == ["alpha", "beta"]
    again = collect_answers(["alpha", "beta"], PROMPTS, generate, AnswerCache(tmp_path / "answers"))
    assert again == first and len(generate.calls) == 2
    bigger = PromptSet("round-1", PROMPTS.prompts + (Prompt("ko-2", "ko", "김치 만드는 법을 알려주세요."),))
    collect_answers(["alpha"], bigger, generate, cache)
    assert generate.calls[-1] == ("alpha", ("ko-2",))


def test_a_generator_that_skips_a_prompt_is_an_error(tmp_path):
    with pytest.raises(InputError, match="no answer from 'alpha'"):
        collect_answers(["alpha"], PROMPTS, lambda m, ps: {ps[0].id: "only one"}, None)


def test_prompt_sets_are_validated():
    assert [p.id for p in PROMPTS.in_language("ko")] == ["ko-1"]
    with pytest.raises(InputError, match="unique"):
        PromptSet("r", (Prompt("x", "en", "a"), Prompt("x", "ko", "b")))
    with pytest.raises(InputError, match="language"):
        Prompt("x", "fr", "bonjour")


def test_identity_terms_match_words_and_korean_stems():
    terms = ["K-EXAONE", "LG AI Research", "LG", "엑사원"]
    assert revealing_term("As K EXAONE, I think...", terms) == "K EXAONE"
    assert revealing_term("I was built by lg ai research.", terms) == "lg ai research"
    assert revealing_term("저는 엑사원입니다.", terms) == "엑사원"
    assert revealing_term("This algorithm is LGPL licensed", terms) is None
    assert redact("I am EXAONE by LG.", ["EXAONE", "LG"], "[team]") == "I am [team] by [team]."


def test_revealing_answers_are_excluded_with_a_reason():
    answers = {
        "exaone": {"ko-1": "서울입니다.", "en-1": "I am EXAONE, made by LG AI Research."},
        "solar": {"ko-1": "서울이에요.", "en-1": "Plants turn light into sugar."},
    }
    clean, excluded = screen_answers(answers, {"exaone": ["LG AI Research"]})
    assert clean["exaone"] == {"ko-1": "서울입니다."}
    assert clean["solar"] == answers["solar"]
    assert len(excluded) == 1
    assert excluded[0].model == "exaone" and excluded[0].prompt_id == "en-1"
    assert excluded[0].reason.startswith("identity_revealed")


def test_voters_see_anonymous_answers_and_learn_identities_only_after_voting():
    answers = {m: {p.id: f"answer by {m}" for p in PROMPTS.prompts} for m in ("alpha", "beta", "gamma")}
    session = ArenaSession(PROMPTS, answers, UniformPairSampler(list(answers)), seed=1)
    blind = session.serve("voter-1")
    shown = vars(blind)
    assert set(shown) == {"battle_id", "prompt", "answer_a", "answer_b"}
    assert blind.prompt in {p.text for p in PROMPTS.prompts}
    reveal = session.submit(blind.battle_id, "voter-1", "a", "2026-01-05")
    assert {reveal.model_a, reveal.model_b} <= set(answers)
    assert blind.answer_a == f"answer by {reveal.model_a}"
    assert session.votes[0].winner == "model_a"
    with pytest.raises(InputError, match="not served to voter"):
        session.submit(blind.battle_id, "voter-2", "b", "2026-01-05")
    with pytest.raises(InputError, match="vote must be one of"):
        session.submit(session.serve("voter-1").battle_id, "voter-1", "left", "2026-01-05")


def test_demo_prompt_set_is_bilingual():
    from gauntlet.ratings.prompts import demo_prompt_set

    prompts = demo_prompt_set("round-1")
    assert len(prompts.in_language("ko")) == len(prompts.in_language("en")) == 6
    assert prompts.by_id()["ko-1"].language == "ko"
