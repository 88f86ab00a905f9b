"""A generated benchmark whose answers cannot be guessed, and tiny models trained with or
without its published items: the contamination test's known positives and negatives.

Each item asks for the colour of a made-up code ("The amber cedar code is" -> " gold"),
drawn at random per item, so a model only gets items right by chance or by having
read them. The corpus names every code and every colour but never pairs them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gauntlet.evaluation.contamination import published_split, published_texts
from gauntlet.evaluation.items import BenchmarkTask

COLOURS = (" red", " blue", " green", " gold")
WORDS = ("amber", "birch", "cedar", "delta", "ember", "fjord", "grove", "haven", "inlet", "jasper", "karst",
         "lotus", "maple", "nadir", "oasis", "pylon")


def code_task(seed: int, *, name: str = "codes", items: int = 40, published: float = 0.5) -> BenchmarkTask:
    """A multiple-choice task of random code -> colour items, half of them published."""
    rng = np.random.default_rng(seed)
    codes = [f"{a} {b}" for a in WORDS[:8] for b in WORDS[8:]][:items]
    rows = tuple({"id": f"q{i}", "context": f"The {code} code is", "choices": list(COLOURS),
                  "answer": int(rng.integers(len(COLOURS)))} for i, code in enumerate(codes))
    return published_split(BenchmarkTask(name, "multiple_choice", "en", rows, description="generated codes"),
                           fraction=published, seed=seed)


def corpus() -> list[str]:
    return ([f"The {a} is near the {b}." for a in WORDS for b in WORDS[:6]]
            + [f"The colour{c} is bright." for c in COLOURS])


def train_model(out_dir, *, seed: int, task: BenchmarkTask | None = None, steps: int = 300,
                repeats: int = 10) -> Path:
    """A tiny model trained on the corpus, plus `repeats` copies of `task`'s published
    items when a task is given (a team that trained on the test)."""
    from gauntlet.synth.model import TinyLMConfig, train_from_scratch

    texts = corpus() + (published_texts(task) * repeats if task is not None else [])
    config = TinyLMConfig(hidden_size=32, num_layers=2, num_heads=4, num_kv_heads=2, intermediate_size=64,
                          max_positions=64)
    return train_from_scratch(out_dir, texts, config=config, tokenizer_vocab_size=300, steps=steps, batch_size=8,
                              lr=5e-3, seed=seed, seq_len=32, progress=False)
