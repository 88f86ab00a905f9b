"""Tiny language models: real training that measurably learns the world, saved
as standard Hugging Face folders."""

from __future__ import annotations

import pytest
from safetensors.numpy import load_file

from gauntlet.errors import InputError
from gauntlet.synth.model import TinyLMConfig, finetune, train_from_scratch
from gauntlet.synth.quality import (
    generate_answers,
    heldout_bits_per_byte,
    multiple_choice_accuracy,
)

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".pkl", ".ckpt", ".h5", ".msgpack")


def test_saved_folder_is_a_standard_safetensors_model(trained_model):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    names = {p.name for p in trained_model.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= names
    assert [n for n in names if n.endswith(WEIGHT_SUFFIXES)] == ["model.safetensors"]
    model = AutoModelForCausalLM.from_pretrained(str(trained_model), local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(str(trained_model), local_files_only=True)
    assert model.config.model_type == "llama"
    assert model.config.vocab_size == len(tokenizer)
    assert "model.layers.0.mlp.up_proj.weight" in load_file(trained_model / "model.safetensors")


def test_training_lowers_held_out_bits_per_byte(trained_model, untrained_model, small_world):
    trained = heldout_bits_per_byte(trained_model, small_world.heldout_texts)
    untrained = heldout_bits_per_byte(untrained_model, small_world.heldout_texts)
    # An initialised model spreads its bets over the vocabulary: about log2(V) bits
    # per token; training has to buy a large share of that back.
    assert trained < 0.5 * untrained


def test_trained_model_knows_the_facts_far_above_chance(trained_model, untrained_model, small_world):
    tasks = [t for t in small_world.benchmark_tasks if t.output_type == "multiple_choice"]
    items = sum(len(t.items) for t in tasks)
    trained = sum(multiple_choice_accuracy(trained_model, t) * len(t.items) for t in tasks) / items
    # 48 four-way items: 24 or more right happens by chance with p < 1e-4.
    assert trained >= 0.5
    untrained = sum(multiple_choice_accuracy(untrained_model, t) * len(t.items) for t in tasks) / items
    assert untrained < trained


def test_training_is_reproducible_and_the_seed_matters(small_world, model_shape, tmp_path):
    def run(name, seed):
        folder = train_from_scratch(
            tmp_path / name, small_world.train_texts[:60], config=model_shape,
            tokenizer_vocab_size=400, steps=3, batch_size=4, lr=1e-3, seed=seed, progress=False,
        )
        return load_file(folder / "model.safetensors")

    first, again, other = run("a", 5), run("b", 5), run("c", 6)
    assert all((first[k] == again[k]).all() for k in first)
    assert any(first[k].shape != other[k].shape or not (first[k] == other[k]).all() for k in first)


def test_finetune_keeps_the_tokenizer_and_changes_the_weights(trained_model, small_world, tmp_path):
    losses: list[float] = []
    tuned = finetune(trained_model, tmp_path / "tuned", small_world.heldout_texts,
                     steps=15, lr=2e-3, seed=3, batch_size=8, progress=False, loss_log=losses)
    assert (tuned / "tokenizer.json").read_bytes() == (trained_model / "tokenizer.json").read_bytes()
    before = load_file(trained_model / "model.safetensors")
    after = load_file(tuned / "model.safetensors")
    assert before.keys() == after.keys()
    assert all(before[k].shape == after[k].shape for k in before)
    assert any(not (before[k] == after[k]).all() for k in before)
    assert len(losses) == 15
    # It trained on the held-out sentences, so they became more likely.
    assert heldout_bits_per_byte(tuned, small_world.heldout_texts) < heldout_bits_per_byte(
        trained_model, small_world.heldout_texts
    )


def test_finetune_refuses_to_overwrite_its_base_or_a_missing_base(trained_model, tmp_path):
    with pytest.raises(InputError, match="overwrite"):
        finetune(trained_model, trained_model, ["text"], steps=1, lr=1e-3, seed=0, progress=False)
    with pytest.raises(InputError, match="config.json"):
        finetune(tmp_path / "nothing", tmp_path / "out", ["text"], steps=1, lr=1e-3, seed=0,
                 progress=False)


def test_bad_shapes_and_settings_are_refused(small_world, tmp_path):
    odd = TinyLMConfig(hidden_size=50, num_heads=4)
    with pytest.raises(InputError, match="divide"):
        train_from_scratch(tmp_path / "m", small_world.train_texts, config=odd,
                           tokenizer_vocab_size=400, steps=1, batch_size=2, lr=1e-3, seed=0,
                           progress=False)
    with pytest.raises(InputError, match="positive"):
        train_from_scratch(tmp_path / "m", small_world.train_texts, config=TinyLMConfig(),
                           tokenizer_vocab_size=400, steps=0, batch_size=2, lr=1e-3, seed=0,
                           progress=False)


def test_arena_answers_are_seeded_continuations(trained_model, untrained_model, small_world):
    prompts = small_world.arena_prompts[:2] + small_world.arena_prompts[-2:]
    answers = generate_answers(trained_model, prompts, max_new_tokens=12, seed=7)
    assert set(answers) == {p.id for p in prompts}
    assert all(answers.values())
    assert answers == generate_answers(trained_model, prompts, max_new_tokens=12, seed=7)
    # The profile documents taught it how an answer to "Tell me about <country>."
    # goes on; the initialised model cannot know.
    def greedy(model):
        return generate_answers(model, prompts[:1], max_new_tokens=12, seed=0, temperature=0)[prompts[0].id]

    assert "is a country of about" in greedy(trained_model)
    assert "is a country of about" not in greedy(untrained_model)


def test_quality_measures_refuse_missing_models_and_empty_text(trained_model, tmp_path):
    with pytest.raises(InputError, match="config.json"):
        heldout_bits_per_byte(tmp_path, ["text"])
    with pytest.raises(InputError, match="no held-out text"):
        heldout_bits_per_byte(trained_model, [])
