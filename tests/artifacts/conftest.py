import json

import numpy as np
import pytest
from safetensors.numpy import save_file


@pytest.fixture
def model_folder(tmp_path):
    """A minimal valid Hugging Face folder: config, one safetensors file, tokenizer."""
    root = tmp_path / "team-model"
    root.mkdir()
    (root / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 8}))
    rng = np.random.default_rng(0)
    save_file({"model.embed_tokens.weight": rng.standard_normal((16, 8)).astype(np.float32)},
              str(root / "model.safetensors"))
    (root / "tokenizer.json").write_text(json.dumps({"model": {"vocab": {"a": 0}}}))
    return root
