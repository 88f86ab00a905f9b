"""Intake accepts Hugging Face safetensors folders and refuses everything it cannot prove safe."""

import json
import os

import pytest
from typer.testing import CliRunner

from gauntlet.artifacts.content_store import ContentStore
from gauntlet.artifacts.intake import intake
from gauntlet.artifacts.layout import open_model_folder
from gauntlet.cli import app
from gauntlet.errors import IntakeError, UnsafeArtifactError


def test_valid_folder_is_stored_by_content_hash(model_folder, tmp_path):
    store = ContentStore(tmp_path / "store")
    stored = intake(model_folder, store, progress=False)
    assert len(stored.id) == 64
    assert sorted(f.path for f in stored.manifest.files) == ["config.json", "model.safetensors", "tokenizer.json"]
    assert (stored.path / "model.safetensors").read_bytes() == (model_folder / "model.safetensors").read_bytes()
    assert store.verify(stored.id) == []


def test_same_bytes_give_the_same_id_and_are_stored_once(model_folder, tmp_path):
    store = ContentStore(tmp_path / "store")
    first = intake(model_folder, store, progress=False)
    copy = tmp_path / "renamed-copy"
    copy.mkdir()
    for f in model_folder.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    second = intake(copy, store, progress=False)
    assert first.id == second.id
    assert sum(1 for p in (tmp_path / "store" / "objects").rglob("*") if p.is_file()) == 3


def test_changed_weights_change_the_id(model_folder, tmp_path):
    store = ContentStore(tmp_path / "store")
    first = intake(model_folder, store, progress=False)
    (model_folder / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 9}))
    assert intake(model_folder, store, progress=False).id != first.id


def test_stored_files_are_read_only_and_tampering_is_detected(model_folder, tmp_path):
    store = ContentStore(tmp_path / "store")
    stored = intake(model_folder, store, progress=False)
    target = stored.path / "config.json"
    assert not os.access(target, os.W_OK) or os.geteuid() == 0  # root ignores permission bits
    assert oct(target.stat().st_mode & 0o222) == "0o0"
    os.chmod(target, 0o644)
    target.write_text("{}")
    assert store.verify(stored.id) == ["config.json"]


@pytest.mark.parametrize("name", ["pytorch_model.bin", "model.pt", "weights.pth", "last.ckpt"])
def test_pickle_weights_are_refused_without_touching_the_store(model_folder, tmp_path, name):
    (model_folder / name).write_bytes(b"\x80\x04not really a pickle")
    store = ContentStore(tmp_path / "store")
    with pytest.raises(UnsafeArtifactError, match="pickle"):
        intake(model_folder, store, progress=False)
    assert not (tmp_path / "store").exists()


def test_missing_config_is_refused(model_folder):
    (model_folder / "config.json").unlink()
    with pytest.raises(IntakeError, match="config.json"):
        open_model_folder(model_folder)


def test_folder_without_weights_is_refused(model_folder):
    (model_folder / "model.safetensors").unlink()
    with pytest.raises(IntakeError, match="safetensors"):
        open_model_folder(model_folder)


def test_symlink_leaving_the_folder_is_refused(model_folder, tmp_path):
    secret = tmp_path / "outside.safetensors"
    secret.write_bytes((model_folder / "model.safetensors").read_bytes())
    (model_folder / "model.safetensors").unlink()
    (model_folder / "model.safetensors").symlink_to(secret)
    with pytest.raises(IntakeError, match="outside the model folder"):
        open_model_folder(model_folder)


def test_symlinked_directory_leaving_the_folder_is_refused(model_folder, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "extra.json").write_text("{}")
    (model_folder / "vision").symlink_to(outside, target_is_directory=True)
    with pytest.raises(IntakeError, match="outside the model folder"):
        open_model_folder(model_folder)


def test_index_pointing_outside_is_refused(model_folder):
    index = {"weight_map": {"model.embed_tokens.weight": "../other.safetensors"}}
    (model_folder / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(IntakeError, match="outside the model folder"):
        open_model_folder(model_folder)


def test_index_listing_a_missing_shard_is_refused(model_folder):
    index = {"weight_map": {"a": "model.safetensors", "b": "model-00002-of-00002.safetensors"}}
    (model_folder / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(IntakeError, match="missing"):
        open_model_folder(model_folder)


def test_corrupt_safetensors_header_is_refused_before_storing(model_folder, tmp_path):
    blob = (model_folder / "model.safetensors").read_bytes()
    (model_folder / "model.safetensors").write_bytes((10**12).to_bytes(8, "little") + blob[8:])
    with pytest.raises(UnsafeArtifactError):
        intake(model_folder, ContentStore(tmp_path / "store"), progress=False)
    assert not (tmp_path / "store").exists()


def test_cli_refusal_is_one_line_exit_2(model_folder, tmp_path):
    (model_folder / "pytorch_model.bin").write_bytes(b"x")
    result = CliRunner().invoke(app, ["intake", str(model_folder), "--store", str(tmp_path / "s")])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "pickle" in result.output


def test_cli_stores_and_prints_manifest(model_folder, tmp_path):
    result = CliRunner().invoke(app, ["intake", str(model_folder), "--store", str(tmp_path / "s"), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert len(doc["id"]) == 64 and len(doc["files"]) == 3
