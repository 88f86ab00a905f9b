"""Benchmarks read a model under the same rules as intake: a pickle checkpoint is refused unloaded."""

import json

import pytest

from gauntlet.errors import UnsafeArtifactError
from gauntlet.evaluation import evaluate_model, find_task_refs


def test_a_folder_with_pickle_weights_is_refused_before_loading(tmp_path, task_dir):
    folder = tmp_path / "sneaky"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "llama"}))
    (folder / "pytorch_model.bin").write_bytes(b"\x80\x04 not loaded")
    with pytest.raises(UnsafeArtifactError, match="pickle"):
        evaluate_model(folder, find_task_refs(task_dir)[:1], cache_dir=tmp_path / "cache", progress=False)
