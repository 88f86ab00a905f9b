"""Shared fixtures: one small world and one model trained on it, built once per
test session because training is the expensive part."""

from __future__ import annotations

import pytest

from gauntlet.synth.world import generate_world

# Six countries: the smallest world, on which a tiny model memorises its facts in
# a few hundred optimiser steps (measured: 79-100% multiple-choice accuracy over
# seeds, chance being 25%).
SMALL_WORLD_SCALE = 0.25


@pytest.fixture(scope="session")
def small_world():
    return generate_world(3, scale=SMALL_WORLD_SCALE)


@pytest.fixture(scope="session")
def model_shape():
    from gauntlet.synth.model import TinyLMConfig

    return TinyLMConfig(hidden_size=64, num_layers=2, num_heads=4, num_kv_heads=2, intermediate_size=128)


@pytest.fixture(scope="session")
def trained_model(small_world, model_shape, tmp_path_factory):
    from gauntlet.synth.model import train_from_scratch

    return train_from_scratch(
        tmp_path_factory.mktemp("trained") / "model", small_world.train_texts,
        config=model_shape, tokenizer_vocab_size=600, steps=300, batch_size=8, lr=8e-3,
        seed=1, progress=False,
    )


@pytest.fixture(scope="session")
def untrained_model(small_world, model_shape, tmp_path_factory):
    """The same recipe stopped after one step at a negligible learning rate: the
    model as initialised."""
    from gauntlet.synth.model import train_from_scratch

    return train_from_scratch(
        tmp_path_factory.mktemp("untrained") / "model", small_world.train_texts,
        config=model_shape, tokenizer_vocab_size=600, steps=1, batch_size=8, lr=1e-9,
        seed=1, progress=False,
    )
