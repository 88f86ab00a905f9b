"""What a submitted model folder must look like before anything reads its weights.

A model is a Hugging Face folder: `config.json`, safetensors weights (one file, or
shards listed by `model.safetensors.index.json`), optionally `tokenizer.json`.
We refuse, without opening them, formats that can execute code when loaded
(pickle: .bin/.pt/.pth/.ckpt/...), and anything reached through a symlink that
leaves the folder. Header validation of the safetensors files themselves lives in
`safetensors_io`; this module only decides which files are the model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from gauntlet.errors import IntakeError, UnsafeArtifactError
from gauntlet.files import parse_json, read_bytes

PICKLE_SUFFIXES = frozenset({".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".joblib", ".npy", ".npz"})
INDEX_NAME = "model.safetensors.index.json"
CONFIG_NAME = "config.json"
TOKENIZER_NAME = "tokenizer.json"
MAX_JSON_BYTES = 64 << 20  # a config or shard index; tokenizers are read elsewhere


@dataclass(frozen=True)
class ModelFolder:
    """A model folder whose layout has been checked (weights not yet read)."""

    root: Path
    config: dict
    shards: tuple[Path, ...]  # absolute paths of the safetensors files, in index order
    files: tuple[str, ...]  # every regular file, relative to root, sorted (what intake hashes)
    tokenizer: Path | None = None
    index: Path | None = None

    @property
    def name(self) -> str:
        return self.root.name


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def _check_name(here: Path, name: str, root: Path) -> None:
    """A stored name must print, compare and travel through the database as text: refuse
    names that are not UTF-8 (os.walk hands them over as lone surrogates) or hold
    control characters."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        shown = os.fsencode(name).decode("utf-8", "backslashreplace")
        where = here.relative_to(root).as_posix()
        raise IntakeError(f"file name {shown!r} in {where if where != '.' else root.name} is not UTF-8; "
                          "rename it before submitting") from None
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise IntakeError(f"file name {name!r} holds control characters; rename it before submitting")


def _resolve(entry: Path, root: Path) -> Path:
    try:
        return entry.resolve()
    except (RuntimeError, OSError):  # a symlink loop (RuntimeError on Python 3.11, OSError later)
        raise IntakeError(f"{entry.relative_to(root)} is a symlink loop") from None


def _walk_files(root: Path) -> list[str]:
    """Every regular file under root (relative, sorted). Symlinks must stay inside."""
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        for name in dirnames + filenames:
            _check_name(here, name, root)
            entry = here / name
            if entry.is_symlink():
                target = _resolve(entry, root)
                if not _inside(target, root):
                    raise IntakeError(
                        f"{entry.relative_to(root)} is a symlink to {target}, outside the model folder"
                    )
        for name in filenames:
            entry = here / name
            rel = entry.relative_to(root).as_posix()
            if rel.split("/")[0] in {".git", ".cache"}:
                continue
            if not _resolve(entry, root).is_file():
                raise IntakeError(f"{rel} is not a regular file")
            found.append(rel)
        dirnames[:] = [d for d in dirnames if d not in {".git", ".cache"} and not (here / d).is_symlink()]
    return sorted(found)


def _read_json(path: Path, what: str) -> dict:
    # Configs written by Python may hold NaN/Infinity (json.dumps allows them): accepted here.
    data = parse_json(read_bytes(path, what=f"{what} {path.name}", error=IntakeError, max_bytes=MAX_JSON_BYTES),
                      what=f"{what} {path.name}", error=IntakeError, finite=False)
    if not isinstance(data, dict):
        raise IntakeError(f"{what} {path.name} must hold a JSON object")
    return data


def open_model_folder(path: str | os.PathLike) -> ModelFolder:
    """Check a model folder's layout and say which files are its weights.

    Raises `UnsafeArtifactError` for pickle-based files and `IntakeError` for a
    layout we cannot accept; reads no tensor data.
    """
    root = Path(path)
    if not root.exists():
        raise IntakeError(f"model folder {root} does not exist")
    if not root.is_dir():
        raise IntakeError(f"{root} is not a folder (expected config.json + *.safetensors)")
    root = _resolve(root, root)
    files = _walk_files(root)

    pickled = [f for f in files if Path(f).suffix.lower() in PICKLE_SUFFIXES]
    if pickled:
        raise UnsafeArtifactError(
            f"refusing pickle-based file {pickled[0]} in {root.name}: only safetensors weights are accepted"
        )
    if CONFIG_NAME not in files:
        raise IntakeError(f"{root.name} has no config.json")
    config = _read_json(root / CONFIG_NAME, "config")

    index_path = root / INDEX_NAME
    if INDEX_NAME in files:
        index = _read_json(index_path, "index")
        weight_map = index.get("weight_map")
        if not isinstance(weight_map, dict) or not weight_map:
            raise IntakeError(f"{INDEX_NAME} has no weight_map")
        shard_names: list[str] = []
        for shard in weight_map.values():
            if not isinstance(shard, str) or not shard.endswith(".safetensors"):
                raise IntakeError(f"{INDEX_NAME} names a non-safetensors shard: {shard!r}")
            if shard not in shard_names:
                shard_names.append(shard)
        for shard in shard_names:
            target = _resolve(root / shard, root)
            if not _inside(target, root):
                raise IntakeError(f"{INDEX_NAME} points outside the model folder: {shard}")
            if shard not in files:
                raise IntakeError(f"{INDEX_NAME} lists {shard}, which is missing")
        shards = tuple(root / s for s in shard_names)
    else:
        shards = tuple(root / f for f in files if "/" not in f and f.endswith(".safetensors"))
        index_path = None
    if not shards:
        raise IntakeError(f"{root.name} has no *.safetensors weights")

    tokenizer = root / TOKENIZER_NAME if TOKENIZER_NAME in files else None
    return ModelFolder(
        root=root, config=config, shards=shards, files=tuple(files), tokenizer=tokenizer, index=index_path
    )
