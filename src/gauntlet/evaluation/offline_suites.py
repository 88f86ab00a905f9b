"""Generated bilingual (Korean/English) benchmark tasks that need no download.

Seven small tasks covering lm-eval's three output types, grouped the way the
programme grouped its suites (agency / common / individual). Items are generated
from a seed, so a round can draw fresh ones and anyone can regenerate them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gauntlet.evaluation.items import BenchmarkTask
from gauntlet.evaluation.suites import Suite
from gauntlet.evaluation.tasks import write_tasks

# The programme's first-round benchmark split: agency 10, common 20, individual 10 (of 40).
PROGRAMME_GROUP_WEIGHTS = {"agency": 10.0, "common": 20.0, "individual": 10.0}

_NATIVE_KO = ["하나", "둘", "셋", "넷", "다섯", "여섯", "일곱", "여덟", "아홉", "열"]
_WEEKDAYS_KO = ["월요일", "화요일", "수요일", "목요일", "금요일", "토요일", "일요일"]
_WEEKDAYS_EN = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_VOCAB = [
    ("water", "물"), ("fire", "불"), ("mountain", "산"), ("sea", "바다"), ("sky", "하늘"),
    ("tree", "나무"), ("flower", "꽃"), ("house", "집"), ("school", "학교"), ("book", "책"),
    ("friend", "친구"), ("mother", "어머니"), ("father", "아버지"), ("rice", "밥"), ("dog", "개"),
    ("cat", "고양이"), ("moon", "달"), ("sun", "해"), ("snow", "눈"), ("rain", "비"),
    ("river", "강"), ("road", "길"), ("door", "문"), ("heart", "마음"),
]


def _rng(seed: int, name: str) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64([seed, sum(name.encode())]))


def _choices(rng: np.random.Generator, correct: str, pool: list[str], k: int = 4) -> tuple[list[str], int]:
    others = [p for p in pool if p != correct]
    picked = [others[i] for i in rng.choice(len(others), size=k - 1, replace=False)]
    answer = int(rng.integers(0, k))
    picked.insert(answer, correct)
    return picked, answer


def _arith(name: str, lang: str, group: str, n: int, seed: int) -> BenchmarkTask:
    rng = _rng(seed, name)
    items = []
    for i in range(n):
        a, b = (int(x) for x in rng.integers(1, 50, size=2))
        total = a + b
        pool = [f" {total + d}" for d in (-10, -2, -1, 1, 2, 10) if total + d > 0]
        choices, answer = _choices(rng, f" {total}", pool)
        context = f"질문: {a} 더하기 {b}는 얼마입니까?\n답:" if lang == "ko" else f"Question: What is {a} plus {b}?\nAnswer:"
        items.append({"id": f"{name}-{i:03d}", "context": context, "choices": choices, "answer": answer})
    return BenchmarkTask(name, "multiple_choice", lang, tuple(items), group=group, description="two-number addition, four choices")


def _vocab(name: str, group: str, n: int, seed: int) -> BenchmarkTask:
    rng = _rng(seed, name)
    items = []
    korean = [ko for _, ko in _VOCAB]
    for i in range(n):
        en, ko = _VOCAB[int(rng.integers(0, len(_VOCAB)))]
        choices, answer = _choices(rng, f" {ko}", [f" {k}" for k in korean])
        items.append({"id": f"{name}-{i:03d}", "context": f"영어 단어 '{en}'의 뜻은:", "choices": choices, "answer": answer})
    return BenchmarkTask(name, "multiple_choice", "ko", tuple(items), group=group, description="English word -> Korean meaning")


def _sequence(name: str, lang: str, group: str, n: int, seed: int) -> BenchmarkTask:
    rng = _rng(seed, name)
    items = []
    for i in range(n):
        if lang == "ko":
            series = _NATIVE_KO if rng.random() < 0.5 else _WEEKDAYS_KO
        else:
            series = [str(x) for x in range(int(rng.integers(1, 80)), 200)] if rng.random() < 0.5 else _WEEKDAYS_EN
        start = int(rng.integers(0, len(series) - 3))
        context = ", ".join(series[start : start + 3]) + ","
        items.append({"id": f"{name}-{i:03d}", "context": context, "continuation": f" {series[start + 3]}"})
    return BenchmarkTask(name, "loglikelihood", lang, tuple(items), group=group, description="continue a counting or weekday sequence")


def _next_number(name: str, lang: str, group: str, n: int, seed: int) -> BenchmarkTask:
    rng = _rng(seed, name)
    items = []
    for i in range(n):
        k = int(rng.integers(1, 99))
        prompt = f"질문: {k} 다음에 오는 수는?\n답:" if lang == "ko" else f"Question: Which number comes after {k}?\nAnswer:"
        items.append({"id": f"{name}-{i:03d}", "prompt": prompt, "target": str(k + 1)})
    return BenchmarkTask(
        name, "generate_until", lang, tuple(items), group=group,
        description="short generation: the next integer", metadata={"until": ["\n"], "max_gen_toks": 8},
    )


def bilingual_tasks(*, items_per_task: int = 24, seed: int = 0) -> list[BenchmarkTask]:
    """The generated offline tasks (all three output types, Korean and English)."""
    n = items_per_task
    return [
        _arith("ko_arith_mc", "ko", "agency", n, seed),
        _vocab("ko_vocab_mc", "agency", n, seed),
        _sequence("ko_sequence_ll", "ko", "agency", n, seed),
        _arith("en_arith_mc", "en", "common", n, seed),
        _sequence("en_sequence_ll", "en", "common", n, seed),
        _next_number("en_next_number_gen", "en", "common", n, seed),
        _next_number("ko_next_number_gen", "ko", "individual", n, seed),
    ]


def write_offline_suite(
    out_dir: str | Path,
    *,
    items_per_task: int = 24,
    seed: int = 0,
    targets: dict[str, str] | None = None,
    name: str = "bilingual-offline",
) -> Suite:
    """Write the generated tasks under `out_dir` and return a suite over them, with
    the programme's group weights. `targets` maps task names to target-model labels."""
    refs = write_tasks(bilingual_tasks(items_per_task=items_per_task, seed=seed), out_dir)
    return Suite.from_task_refs(refs, name=name, group_weights=PROGRAMME_GROUP_WEIGHTS, targets=targets)
