"""A tiny model folder intake accepts, and the declaration a team sends for it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

APACHE = "---\nlicense: apache-2.0\n---\n# A tiny model\n"


def tiny_model(folder: Path, seed: int = 0, card: str = APACHE) -> dict[str, bytes]:
    """A model folder intake accepts: config, safetensors weights and a model card."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    save_file({"model.embed_tokens.weight": rng.standard_normal((32, 8)).astype(np.float32),
               "model.layers.0.mlp.weight": rng.standard_normal((8, 8)).astype(np.float32)},
              str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 8}))
    (folder / "README.md").write_text(card)
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def declaration(files: dict[str, bytes]) -> list[dict]:
    return [{"path": n, "size": len(b), "sha256": hashlib.sha256(b).hexdigest()} for n, b in files.items()]
