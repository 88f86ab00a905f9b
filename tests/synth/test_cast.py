"""The demo cast: recipes that differ, built into real model folders."""

from __future__ import annotations

import json

import pytest
from safetensors.numpy import load_file

from gauntlet.errors import InputError
from gauntlet.synth.cast import DEMO_CAST, MANIFEST, DemoCast, TeamRecipe, build_cast
from gauntlet.synth.model import TinyLMConfig

TINY = TinyLMConfig(hidden_size=32, num_layers=2, num_heads=4, num_kv_heads=2, intermediate_size=64)


def _parameters(shape: TinyLMConfig, vocab: int) -> int:
    attention = 2 * shape.hidden_size ** 2 + 2 * shape.hidden_size * shape.hidden_size // shape.num_heads * shape.num_kv_heads
    return 2 * vocab * shape.hidden_size + shape.num_layers * (attention + 3 * shape.hidden_size * shape.intermediate_size)


def test_demo_cast_has_a_reference_four_scratch_teams_and_one_fine_tune_of_it():
    scratch = [t for t in DEMO_CAST.teams if t.finetune_of is None]
    tuned = [t for t in DEMO_CAST.teams if t.finetune_of is not None]
    assert len(DEMO_CAST.teams) == 5 and len(scratch) == 4
    assert [t.finetune_of for t in tuned] == [DEMO_CAST.reference.name]
    ref = DEMO_CAST.reference
    assert all(_parameters(ref.shape, ref.vocab_size) > _parameters(t.shape, t.vocab_size) for t in scratch)
    assert all(ref.steps >= t.steps and ref.data_share >= t.data_share for t in scratch)
    for member in (ref, *scratch):
        assert 48 <= member.shape.hidden_size <= 128 and 2 <= member.shape.num_layers <= 4
        assert 1000 <= member.vocab_size <= 4000
    # Teams differ in their choices, not only in their names.
    recipes = {(t.shape, t.vocab_size, t.steps, t.lr, t.data_share) for t in scratch}
    assert len(recipes) == len(scratch)
    assert len({t.seed for t in DEMO_CAST.members}) == len(DEMO_CAST.members)


def test_scaling_changes_steps_only_and_never_below_two():
    small = DEMO_CAST.scaled(0.001)
    assert all(m.steps == 2 for m in small.members)
    assert [m.shape for m in small.members] == [m.shape for m in DEMO_CAST.members]
    assert DEMO_CAST.scaled(1.0) == DEMO_CAST
    with pytest.raises(InputError, match="scale"):
        DEMO_CAST.scaled(0)


def test_inconsistent_recipes_are_refused():
    with pytest.raises(InputError, match="either"):
        TeamRecipe("x", "X", "KR", steps=1, lr=1e-3, shape=TINY, vocab_size=400, finetune_of="y")
    with pytest.raises(InputError, match="vocab_size"):
        TeamRecipe("x", "X", "KR", steps=1, lr=1e-3, shape=TINY)
    with pytest.raises(InputError, match="data_share"):
        TeamRecipe("x", "X", "KR", steps=1, lr=1e-3, shape=TINY, vocab_size=400, data_share=0)
    ref = TeamRecipe("ref", "R", "US", steps=1, lr=1e-3, shape=TINY, vocab_size=400)
    with pytest.raises(InputError, match="unknown member"):
        DemoCast(ref, (TeamRecipe("t", "T", "KR", steps=1, lr=1e-3, finetune_of="nobody"),))
    with pytest.raises(InputError, match="unique"):
        DemoCast(ref, (ref,))
    a = TeamRecipe("a", "A", "KR", steps=1, lr=1e-3, finetune_of="b")
    b = TeamRecipe("b", "B", "KR", steps=1, lr=1e-3, finetune_of="a")
    with pytest.raises(InputError, match="cycle"):
        DemoCast(ref, (a, b))


def test_a_team_trains_on_its_own_seeded_share_of_the_corpus(small_world):
    team = TeamRecipe("t", "T", "KR", steps=1, lr=1e-3, shape=TINY, vocab_size=400, data_share=0.5, seed=4)
    texts = team.texts(small_world)
    assert len(texts) == round(0.5 * len(small_world.train_texts))
    assert set(texts) <= set(small_world.train_texts)
    assert texts == team.texts(small_world)
    other = TeamRecipe("u", "U", "KR", steps=1, lr=1e-3, shape=TINY, vocab_size=400, data_share=0.5, seed=5)
    assert other.texts(small_world) != texts


def _weights(folder):
    return load_file(folder / "model.safetensors")


def test_build_cast_in_one_process(small_world, tmp_path):
    ref = TeamRecipe("ref", "R", "US", steps=4, lr=1e-3, shape=TINY, vocab_size=400, seed=1)
    tuned = TeamRecipe("tuned", "T", "KR", steps=3, lr=1e-3, finetune_of="ref", data_share=0.5, seed=2)
    from gauntlet.console import progress_bar

    cast = DemoCast(ref, (tuned,))
    with progress_bar() as shared_bar:  # the demo's own bar, shown once
        folders = build_cast(small_world, tmp_path, cast=cast, workers=1, progress=shared_bar)
        assert [t.completed for t in shared_bar.tasks] == [4, 3]
    assert list(folders) == ["ref", "tuned"]
    assert (folders["tuned"] / "tokenizer.json").read_bytes() == (folders["ref"] / "tokenizer.json").read_bytes()
    a, b = _weights(folders["ref"]), _weights(folders["tuned"])
    assert any(not (a[k] == b[k]).all() for k in a)
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert [m["name"] for m in manifest["members"]] == ["ref", "tuned"]
    assert manifest["members"][1]["steps"] == 3


def test_build_demo_cast_at_reduced_scale_in_worker_processes(small_world, tmp_path):
    from transformers import AutoModelForCausalLM

    folders = build_cast(small_world, tmp_path, scale=0.005, workers=2, progress=False)
    assert list(folders) == [m.name for m in DEMO_CAST.members]
    reference = DEMO_CAST.reference.name
    tuned = next(t.name for t in DEMO_CAST.teams if t.finetune_of)
    vocabularies = {}
    for name, folder in folders.items():
        assert folder.parent == tmp_path
        # A submission folder carries nothing but the model.
        assert sorted(p.name for p in folder.iterdir()) == [
            "config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
            "tokenizer_config.json",
        ]
        model = AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True)
        vocabularies[name] = json.loads((folder / "tokenizer.json").read_text())["model"]["vocab"]
        assert model.config.vocab_size == len(vocabularies[name])
    assert vocabularies[tuned] == vocabularies[reference]
    scratch = [m.name for m in DEMO_CAST.members if m.finetune_of is None]
    assert all(vocabularies[a] != vocabularies[b] for a in scratch for b in scratch if a < b)
    manifest = {m["name"]: m for m in json.loads((tmp_path / MANIFEST).read_text())["members"]}
    assert manifest[tuned]["finetune_of"] == reference
    assert all(m["final_loss"] > 0 for m in manifest.values())
    # The schedule does not enter the result: one process builds the same bytes.
    again = build_cast(small_world, tmp_path / "again", scale=0.005, workers=1, progress=False)
    for name, folder in folders.items():
        assert (again[name] / "model.safetensors").read_bytes() == (folder / "model.safetensors").read_bytes()


def test_build_cast_does_not_overwrite_models_unless_asked(small_world, tmp_path):
    (tmp_path / DEMO_CAST.reference.name).mkdir()
    keep = tmp_path / DEMO_CAST.reference.name / "model.safetensors"
    keep.write_bytes(b"someone's model")
    with pytest.raises(InputError, match="already holds files"):
        build_cast(small_world, tmp_path, scale=0.001, workers=1, progress=False)
    assert keep.read_bytes() == b"someone's model"
