"""A small real challenge for the pipeline tests: a spec, tiny real models (random-init
Llamas saved as Hugging Face folders; one team fine-tunes the foreign reference with
real optimiser steps), lm-eval task files, arena prompts, and helpers that act as the
people of a round do: voters through the web arena, experts through the expert pages."""

from __future__ import annotations

import json
import random
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from gauntlet.evaluation import BenchmarkTask, write_tasks
from gauntlet.evaluation.harness import force_offline

force_offline()

SLUG = "pipeline-challenge"
ROUND = "first"
DEADLINE = datetime(2026, 3, 31, 18, 0, tzinfo=timezone(timedelta(hours=9)))
BEFORE = (DEADLINE - timedelta(days=10)).isoformat()
AFTER = (DEADLINE + timedelta(days=5)).isoformat()
# Clean teams train their own models; "mirae" fine-tunes the foreign reference; "seoul-ai" is
# late; "dasan" declares a non-commercial licence that the spec does not allow.
TEAMS = {"hanbit": ("Hanbit LM", "Hanbit Labs", 1, "apache"), "dasan": ("Dasan", "Dasan Institute", 2, "nc"),
         "saebyeok": ("Saebyeok", "Saebyeok AI", 3, "mit"), "mirae": ("Mirae", "Mirae Tech", None, "apache"),
         "seoul-ai": ("Seoul AI", "Seoul AI Corp", 4, "apache")}
CORPUS = [
    "Question: What is 3 plus 4?\nAnswer: 7", "질문: 3 더하기 4는 얼마입니까?\n답: 7",
    "one, two, three, four, five", "하나, 둘, 셋, 넷, 다섯", "The capital of Korea is Seoul.",
    "한국의 수도는 서울입니다.", "Monday, Tuesday, Wednesday, Thursday",
]
LICENCES = {
    "apache": "Licensed under the Apache License, Version 2.0 (the \"License\");\n",
    "mit": "MIT License\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\n",
    "nc": "Creative Commons Attribution-NonCommercial 4.0 International Public License\n",
}


def spec_text() -> str:
    teams = "".join(f'[[teams]]\nid = "{k}"\nname = "{n}"\norganisation = "{o}"\ncountry = "KR"\n\n'
                    for k, (n, o, _, _) in TEAMS.items())
    return f"""
[challenge]
id = "{SLUG}"
name = "Pipeline test challenge"
organiser = "Gauntlet tests"

[scoring]
user_score_conversion = "win_rate"
[scoring.weights]
benchmark = 40
expert = 35
user = 25

{teams}
[[rounds]]
id = "{ROUND}"
name = "First evaluation"
submission_deadline = {DEADLINE.isoformat()}
decision_date = 2026-04-15T10:00:00+09:00
appeal_window_days = 10
policy = {{ eliminate_lowest = 1 }}
pool = {{ B200 = 96, H100 = 64 }}

[[rounds]]
id = "final"
name = "Final evaluation"
submission_deadline = 2026-09-30T18:00:00+09:00
decision_date = 2026-10-15T10:00:00+09:00
appeal_window_days = 10
policy = {{ winners = 1 }}

[benchmarks]
tasks = [
  {{ id = "p_mc", group = "agency", metric = "acc", weight = 2 }},
  {{ id = "p_ll", group = "common", metric = "acc", weight = 1 }},
]

[expert_panel]
reviews_per_submission = 2

[[expert_panel.criteria]]
key = "korean"
name = {{ ko = "한국어", en = "Korean" }}
instructions = {{ ko = "한국어를 평가하십시오.", en = "Rate the Korean." }}
scale = [1, 5]
weight = 1.0

[[expert_panel.criteria]]
key = "reasoning"
name = {{ ko = "추론", en = "Reasoning" }}
instructions = {{ ko = "추론을 평가하십시오.", en = "Rate the reasoning." }}
scale = [1, 5]
weight = 1.0

[[expert_panel.experts]]
id = "e1"
name = "Expert One"
affiliations = ["KAIST"]

[[expert_panel.experts]]
id = "e2"
name = "Expert Two"
affiliations = ["POSTECH"]

[[expert_panel.experts]]
id = "e3"
name = "Expert Three"
affiliations = ["Hanbit Labs (advisory)"]
conflicts = ["hanbit"]

[[expert_panel.experts]]
id = "e4"
name = "Expert Four"
affiliations = ["ETRI"]

[arena]
votes_per_round = 200
daily_cap_per_voter = 100

[independence]
disqualifying_modules = ["embedding", "attention", "mlp", "lm_head"]
disqualifying_origins = {{ countries = ["*"] }}
exempt_own_organisation = true
on_inconclusive = "flag"

[[independence.references]]
id = "foreign"
organisation = "Foreign Lab"
country = "XX"
licence = "apache-2.0"

[eligibility]
licences = ["apache-2.0", "mit"]

[resources]
allocation = "equal"
"""


def _tokenizer():
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(CORPUS * 10, trainer)
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|endoftext|>",
                                                bos_token="<|endoftext|>", pad_token="<|endoftext|>")


def _llama(tokenizer, seed: int):
    import torch
    import transformers

    torch.manual_seed(seed)
    return transformers.LlamaForCausalLM(transformers.LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=256,
        eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.bos_token_id, pad_token_id=tokenizer.pad_token_id))


def _fine_tune(model, tokenizer, steps: int = 20):
    import torch

    batch = tokenizer(CORPUS, return_tensors="pt", padding=True)
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for _ in range(steps):
        model(**batch, labels=batch["input_ids"]).loss.backward()
        optimiser.step()
        optimiser.zero_grad()
    return model


def _save(model, tokenizer, folder: Path, licence: str | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    if licence:
        (folder / "LICENSE").write_text(LICENCES[licence])
    return folder


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> dict[str, Path]:
    """The foreign reference, four teams trained from scratch and one fine-tune of the reference."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models on shared cores: extra threads only contend
    try:
        root = tmp_path_factory.mktemp("submitted")
        tokenizer = _tokenizer()
        folders = {"foreign": _save(_llama(tokenizer, 0), tokenizer, root / "foreign", "apache")}
        for team, (_, _, seed, licence) in TEAMS.items():
            model = _fine_tune(_llama(tokenizer, 0), tokenizer) if seed is None else _llama(tokenizer, seed)
            folders[team] = _save(model, tokenizer, root / team, licence)
        return folders
    finally:
        torch.set_num_threads(threads)


def benchmark_tasks() -> list[BenchmarkTask]:
    mc = tuple({"id": f"mc{i}", "context": f"Question: What is {i} plus 2?\nAnswer:",
                "choices": [f" {i + 2}", f" {i + 5}"], "answer": i % 2} for i in range(8))
    ll = tuple({"id": f"ll{i}", "context": f"하나, 둘, {i},", "continuation": f" {i + 1}"} for i in range(8))
    return [BenchmarkTask("p_mc", "multiple_choice", "en", mc, group="agency"),
            BenchmarkTask("p_ll", "loglikelihood", "ko", ll, group="common")]


@pytest.fixture(scope="session")
def materials(tmp_path_factory) -> dict[str, Path]:
    """The spec, the task folder and the arena prompts (JSON Lines) an organiser prepares."""
    root = tmp_path_factory.mktemp("organiser")
    (root / "challenge.toml").write_text(spec_text(), encoding="utf-8")
    write_tasks(benchmark_tasks(), root / "tasks")
    prompts = [{"id": f"ko-{i}", "language": "ko", "text": t} for i, t in enumerate(
        ["한국의 수도는", "하나, 둘,", "질문: 3 더하기 4는", "월요일 다음은"], 1)]
    prompts += [{"id": f"en-{i}", "language": "en", "text": t} for i, t in enumerate(
        ["The capital of Korea is", "one, two,", "Question: What is 3 plus 4?", "Monday, Tuesday,"], 1)]
    (root / "prompts.jsonl").write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in prompts),
                                        encoding="utf-8")
    return {"spec": root / "challenge.toml", "tasks": root / "tasks", "prompts": root / "prompts.jsonl"}


class Voter:
    """A member of the public with a browser (its own visitor cookie) who prefers fuller
    answers, with some randomness, and votes through the arena page."""

    BATTLE = re.compile(r'name="battle_id" value="([^"]+)"')
    CSRF = re.compile(r'name="csrf" value="([^"]+)"')
    ANSWER = re.compile(r'<div class="answer[^"]*"[^>]*>(.*?)</div>', re.S)

    def __init__(self, client, seed: int):
        self.client = client
        self.rng = random.Random(seed)

    def vote_once(self) -> dict:
        page = self.client.get("/arena")
        assert page.status_code == 200, page.text[:300]
        answers = self.ANSWER.findall(page.text)
        assert len(answers) == 2, "the battle page shows two answers"
        a, b = (len(x.strip()) for x in answers)
        if a == b:
            choice = "tie"
        else:
            better = "a" if a > b else "b"
            choice = better if self.rng.random() < 0.75 else ("b" if better == "a" else "a")
        reply = self.client.post("/arena/vote", data={"csrf": self.CSRF.search(page.text).group(1),
                                                      "battle_id": self.BATTLE.search(page.text).group(1),
                                                      "choice": choice})
        assert reply.status_code == 200, reply.text[:300]
        return {"choice": choice, "counted": "not counted" not in reply.text}


def review_as_expert(client, seed: int) -> int:
    """An expert signed in with their token opens each assigned submission and scores it.
    Their judgement here: fuller Korean answers score higher, with a personal bias."""
    rng = random.Random(seed)
    queue = client.get("/expert")
    assert queue.status_code == 200, queue.text[:300]
    links = sorted(set(re.findall(r'href="(/expert/reviews/[^"/]+/[^"]+)"', queue.text)))
    for link in links:
        page = client.get(link)
        assert page.status_code == 200, page.text[:300]
        korean = 1 + min(4, len(re.findall(r"[가-힣]", page.text)) // 40)
        scores = {"score_korean": str(max(1, min(5, korean + rng.choice((-1, 0, 0, 1))))),
                  "score_reasoning": str(rng.randint(2, 5))}
        stored = client.post(link, data={**scores, "comment": "reviewed in the test"})
        assert stored.status_code == 201, stored.text[:300]
    return len(links)


@pytest.fixture(scope="session")
def times() -> dict[str, str]:
    """Before and after the round's submission deadline (the commands' --now)."""
    return {"before": BEFORE, "after": AFTER, "deadline": DEADLINE.isoformat()}


@pytest.fixture(scope="session")
def people():
    """The helpers that act as voters and experts (test modules cannot import conftest)."""
    return {"voter": Voter, "review": review_as_expert}
