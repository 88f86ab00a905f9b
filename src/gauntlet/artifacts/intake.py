"""Intake: accept a submitted model folder into the content store, or refuse it.

Order matters: the layout is checked (no pickle, no escaping symlinks, a
config and safetensors weights) and every safetensors header is validated
before a single byte is copied, so a refused submission leaves the store
untouched.
"""

from __future__ import annotations

import os

from gauntlet.artifacts.content_store import ContentStore, StoredModel
from gauntlet.artifacts.layout import ModelFolder, open_model_folder
from gauntlet.console import progress_bar


def validate(path: str | os.PathLike) -> ModelFolder:
    """Layout + header checks; raises IntakeError / UnsafeArtifactError."""
    from gauntlet.artifacts.safetensors_io import read_header

    folder = open_model_folder(path)
    for shard in folder.shards:
        read_header(shard)
    return folder


def intake(path: str | os.PathLike, store: ContentStore, *, progress: bool = True) -> StoredModel:
    folder = validate(path)
    total = sum((folder.root / f).stat().st_size for f in folder.files)
    if not progress:
        return store.put(folder.root, list(folder.files))
    with progress_bar(bytes_mode=True, transient=True) as bar:
        task = bar.add_task(f"intake {folder.name}", total=total)
        return store.put(folder.root, list(folder.files), on_bytes=lambda n: bar.advance(task, n))
