"""A model folder's content hash: what a cached benchmark result belongs to."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from gauntlet.errors import InputError
from gauntlet.evaluation.tasks import file_sha256


def model_content_hash(model_dir: str | Path) -> str:
    """sha256 over (relative path, sha256 of bytes) of every regular file in the folder.

    Names and bytes are both covered, so renaming a shard or changing one weight
    changes the hash; file timestamps and the folder's location do not. Hidden
    files (editor/OS litter such as .DS_Store) are left out.
    """
    root = Path(model_dir).expanduser()
    if not root.is_dir():
        raise InputError(f"model folder not found: {root}")
    entries = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        entries.append([rel.as_posix(), file_sha256(path)])
    if not entries:
        raise InputError(f"model folder is empty: {root}")
    return hashlib.sha256(json.dumps(entries).encode()).hexdigest()
