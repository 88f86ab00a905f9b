"""The demo's synthetic world and the tiny language models trained on it.

`generate_world` needs only numpy; everything that trains or runs a model needs
the `[eval]` extra (torch, transformers, tokenizers) and is imported on first
use, so importing this package stays cheap.
"""

from __future__ import annotations

from importlib import import_module

from gauntlet.synth.world import ArenaPrompt, Country, World, generate_world

_LAZY = {
    "train_tokenizer": "gauntlet.synth.tokenizer",
    "save_tokenizer": "gauntlet.synth.tokenizer",
    "TinyLMConfig": "gauntlet.synth.model",
    "train_from_scratch": "gauntlet.synth.model",
    "finetune": "gauntlet.synth.model",
    "heldout_bits_per_byte": "gauntlet.synth.quality",
    "multiple_choice_accuracy": "gauntlet.synth.quality",
    "generate_answers": "gauntlet.synth.quality",
    "TeamRecipe": "gauntlet.synth.cast",
    "DemoCast": "gauntlet.synth.cast",
    "DEMO_CAST": "gauntlet.synth.cast",
    "build_cast": "gauntlet.synth.cast",
}

__all__ = ["ArenaPrompt", "Country", "World", "generate_world", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'gauntlet.synth' has no attribute {name!r}")
