"""Builders of model folders, honest and hostile, for the intake and store tests."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file


def honest_model(root: Path, *, seed: int = 0, rows: int = 16, shards: int = 1) -> Path:
    root.mkdir(parents=True)
    (root / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 8, "seed": seed}))
    rng = np.random.default_rng(seed)
    if shards == 1:
        save_file({"model.embed_tokens.weight": rng.standard_normal((rows, 8)).astype(np.float32)},
                  str(root / "model.safetensors"))
    else:
        weight_map = {}
        for i in range(shards):
            name = f"model-{i:05d}-of-{shards:05d}.safetensors"
            save_file({f"layers.{i}.weight": rng.standard_normal((rows, 8)).astype(np.float32)}, str(root / name))
            weight_map[f"layers.{i}.weight"] = name
        (root / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    (root / "tokenizer.json").write_text(json.dumps({"model": {"vocab": {"a": 0}}}))
    return root


def tree_digest(root: Path) -> dict[str, str]:
    """Every path under a store with the sha256 of its bytes (folders as '/'): what
    'the store as it was' means in the tests."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            out[os.path.relpath(os.path.join(dirpath, name), root)] = "/"
        for name in filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            if rel == ".lock":
                continue
            out[rel] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return out


def _replace_weights(root: Path, tensors: dict) -> None:
    os.unlink(root / "model.safetensors")
    save_file(tensors, str(root / "model.safetensors"))


def hostile_submissions(base: Path, victim: Path) -> dict[str, tuple[Path, str]]:
    """name -> (folder, what the refusal must say). `victim` is a stored model whose
    files the attacks aim at; every folder is otherwise a valid model."""
    cases: dict[str, tuple[Path, str]] = {}

    def case(name: str, expect: str) -> Path:
        folder = honest_model(base / name, seed=len(cases) + 100)
        cases[name] = (folder, expect)
        return folder

    f = case("pickle-weights", "pickle")
    (f / "pytorch_model.bin").write_bytes(b"\x80\x04cos\nsystem\n(S'echo pwned'\ntR.")
    f = case("header-runs-past-end", "past the end")
    (f / "model.safetensors").write_bytes((10**6).to_bytes(8, "little") + b"{}")
    f = case("header-200k-deep", "levels deep")
    header = b"[" * 200_000 + b"]" * 200_000
    (f / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header)
    f = case("header-5000-digit-shape", "digits")
    header = b'{"w":{"dtype":"F32","shape":[' + b"9" * 5000 + b'],"data_offsets":[0,4]}}'
    (f / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 4)
    f = case("config-200k-deep", "levels deep")
    (f / "config.json").write_text("[" * 200_000 + "]" * 200_000)
    f = case("config-5000-digit-int", "digits")
    (f / "config.json").write_text('{"hidden_size": ' + "7" * 5000 + "}")
    f = case("index-200k-deep", "levels deep")
    (f / "model.safetensors.index.json").write_text('{"weight_map":' + "[" * 200_000 + "]" * 200_000 + "}")
    f = case("symlink-loop", "symlink loop")
    os.symlink("loop-b", f / "loop-a")
    os.symlink("loop-a", f / "loop-b")
    f = case("symlink-out", "outside the model folder")
    os.symlink(victim / "config.json", f / "stolen.json")
    f = case("non-utf8-name", "not UTF-8")
    with open(os.path.join(os.fsencode(f), b"bad-\xff\xfe.txt"), "wb") as handle:
        handle.write(b"x")
    f = case("all-nan-weights", "NaN/Inf")
    _replace_weights(f, {"w": np.full((16, 8), np.nan, np.float32)})
    f = case("inf-in-a-matrix", "NaN/Inf")
    w = np.ones((16, 8), np.float32)
    w[3, 4] = np.inf
    _replace_weights(f, {"w": w})
    f = case("no-tensors", "no tensors")
    _replace_weights(f, {})
    f = case("only-empty-tensors", "no tensors")
    _replace_weights(f, {"w": np.zeros((0, 8), np.float32)})
    f = case("too-many-files", "files, over the limit")
    for i in range(12):
        (f / f"extra-{i}.txt").write_text(str(i))
    f = case("too-many-bytes", "bytes, over the limit")
    (f / "padding.txt").write_bytes(b"p" * 1_100_000)
    return cases
