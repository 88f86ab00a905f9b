"""Intake: accept a submitted model folder into the content store, or refuse it.

Order matters: the layout is checked (no pickle, no escaping symlinks, names
that are UTF-8, a config and safetensors weights, within the size and file
limits), every safetensors header is validated and every floating-point
weight is checked to be a number before a single byte is copied, so a refused
submission leaves the store untouched. Copying then goes to the store's
staging area and is committed whole, or removed.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

import numpy as np

from gauntlet.artifacts.content_store import ContentStore, IntakeLimits, StagedModel, StoredModel
from gauntlet.artifacts.layout import ModelFolder, open_model_folder
from gauntlet.console import progress_bar
from gauntlet.errors import IntakeError


def _check_weights(folder: ModelFolder) -> None:
    """Refuse a folder that holds no weights, or weights that are not numbers.

    A matrix (2 or more dimensions) with any NaN/Inf cannot be run and would make
    every later measurement meaningless (the audit would compare NaN with NaN); a
    vector may hold a deliberate -inf (an attention-mask buffer), so vectors are
    refused only when the model as a whole is not finite."""
    from gauntlet.artifacts.safetensors_io import iter_row_blocks, read_header

    total = bad = 0
    for shard in folder.shards:
        header = read_header(shard)
        for name, info in header.tensors.items():
            if not info.is_float or info.numel == 0:
                total += info.numel
                continue
            count = 0
            for _, block in iter_row_blocks(header, name):
                count += int(block.size - np.count_nonzero(np.isfinite(block)))
            total += info.numel
            bad += count
            if count and len(info.shape) >= 2:
                raise IntakeError(f"{shard.name}: tensor {name!r} has {count:,} NaN/Inf values out of "
                                  f"{info.numel:,} ({count / info.numel:.1%}); a model's weights must be numbers")
    if total == 0:
        raise IntakeError(f"{folder.name} has no tensors with any values in its safetensors weights")
    if bad == total:
        raise IntakeError(f"{folder.name}: every weight is NaN or Inf ({bad:,} values)")


def validate(path: str | os.PathLike, limits: IntakeLimits = IntakeLimits()) -> ModelFolder:
    """Layout, limits, header and weight checks; raises IntakeError / UnsafeArtifactError."""
    from gauntlet.artifacts.safetensors_io import read_header

    folder = open_model_folder(path)
    if len(folder.files) > limits.max_files:
        raise IntakeError(f"{folder.name} holds {len(folder.files):,} files, over the limit of {limits.max_files:,}")
    size = sum((folder.root / f).stat().st_size for f in folder.files)
    if size > limits.max_bytes:
        raise IntakeError(f"{folder.name} holds {size:,} bytes, over the limit of {limits.max_bytes:,}")
    for shard in folder.shards:
        read_header(shard)
    _check_weights(folder)
    return folder


@contextmanager
def staged_intake(path: str | os.PathLike, store: ContentStore, *, progress: bool = True,
                  limits: IntakeLimits = IntakeLimits(), link: bool = False) -> Iterator[StagedModel]:
    """Validate and copy into staging (`link`: hard-link the store's own received files,
    see `ContentStore.stage`); the caller decides, then commits or lets it go."""
    folder = validate(path, limits)
    if not progress:
        with store.stage(folder.root, list(folder.files), limits=limits, link=link) as staged:
            yield staged
        return
    total = sum((folder.root / f).stat().st_size for f in folder.files)
    with progress_bar(bytes_mode=True, transient=True) as bar:
        task = bar.add_task(f"intake {folder.name}", total=total)
        with store.stage(folder.root, list(folder.files), limits=limits, link=link,
                         on_bytes=lambda n: bar.advance(task, n)) as staged:
            bar.remove_task(task)
            yield staged


def intake(path: str | os.PathLike, store: ContentStore, *, progress: bool = True,
           limits: IntakeLimits = IntakeLimits()) -> StoredModel:
    with staged_intake(path, store, progress=progress, limits=limits) as staged:
        return staged.commit()
