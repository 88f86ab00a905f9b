"""An immutable, content-addressed store of model artifacts.

Layout under the store root:
    objects/ab/cdef...        one read-only blob per distinct file content (sha256)
    models/<manifest-sha256>/ the submitted folder, rebuilt from hard links to blobs,
                              plus MANIFEST.json listing every file's path, size and sha256

A model's identity is the sha256 of its canonical manifest, so the same bytes
submitted twice are stored once and get the same id, and a stored model can be
re-verified at any time. Files are hashed while they are copied: one read of
the submitted bytes, and what is stored is exactly what was hashed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from gauntlet.errors import StoreError

CHUNK = 8 << 20
MANIFEST_NAME = "MANIFEST.json"
READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH


@dataclass(frozen=True)
class FileEntry:
    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    files: tuple[FileEntry, ...]

    def canonical(self) -> bytes:
        doc = [{"path": f.path, "sha256": f.sha256, "size": f.size} for f in self.files]
        return json.dumps({"files": doc}, sort_keys=True, separators=(",", ":")).encode()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @classmethod
    def from_json(cls, text: str) -> "Manifest":
        doc = json.loads(text)
        return cls(tuple(FileEntry(f["path"], f["size"], f["sha256"]) for f in doc["files"]))


@dataclass(frozen=True)
class StoredModel:
    id: str  # the manifest's sha256
    path: Path
    manifest: Manifest


def sha256_file(path: Path, on_bytes: Callable[[int], None] | None = None) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if on_bytes:
                on_bytes(len(chunk))
    return digest.hexdigest(), size


class ContentStore:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.objects = self.root / "objects"
        self.models = self.root / "models"

    def _blob(self, sha: str) -> Path:
        return self.objects / sha[:2] / sha[2:]

    def _ingest_file(self, source: Path, on_bytes: Callable[[int], None] | None) -> FileEntry:
        self.objects.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        with open(source, "rb") as src, tempfile.NamedTemporaryFile(dir=self.objects, delete=False) as tmp:
            while chunk := src.read(CHUNK):
                digest.update(chunk)
                tmp.write(chunk)
                size += len(chunk)
                if on_bytes:
                    on_bytes(len(chunk))
        sha = digest.hexdigest()
        blob = self._blob(sha)
        if blob.exists():
            os.unlink(tmp.name)
        else:
            blob.parent.mkdir(exist_ok=True)
            os.chmod(tmp.name, READ_ONLY)
            os.replace(tmp.name, blob)
        return FileEntry(path="", size=size, sha256=sha)

    def put(self, root: Path, files: list[str], on_bytes: Callable[[int], None] | None = None) -> StoredModel:
        """Store the listed files (relative to root) and return the stored model."""
        entries = []
        for rel in files:
            entry = self._ingest_file(root / rel, on_bytes)
            entries.append(FileEntry(rel, entry.size, entry.sha256))
        manifest = Manifest(tuple(sorted(entries, key=lambda e: e.path)))
        final = self.models / manifest.sha256
        if final.exists():
            return StoredModel(manifest.sha256, final, manifest)
        self.models.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=self.models, prefix=".staging-"))
        try:
            for entry in manifest.files:
                target = staging / entry.path
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(self._blob(entry.sha256), target)
                except OSError:  # a filesystem without hard links: copy instead
                    shutil.copyfile(self._blob(entry.sha256), target)
                    os.chmod(target, READ_ONLY)
            (staging / MANIFEST_NAME).write_bytes(manifest.canonical())
            os.chmod(staging / MANIFEST_NAME, READ_ONLY)
            os.replace(staging, final)
        except FileExistsError:  # another intake stored the same bytes first
            shutil.rmtree(staging, ignore_errors=True)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            if not final.exists():
                raise
        return StoredModel(manifest.sha256, final, manifest)

    def get(self, model_id: str) -> StoredModel:
        path = self.models / model_id
        if not (path / MANIFEST_NAME).is_file():
            raise StoreError(f"no stored model with id {model_id}")
        return StoredModel(model_id, path, Manifest.from_json((path / MANIFEST_NAME).read_text()))

    def verify(self, model_id: str) -> list[str]:
        """Re-hash a stored model; return the paths whose bytes no longer match (empty if intact)."""
        stored = self.get(model_id)
        damaged = []
        for entry in stored.manifest.files:
            path = stored.path / entry.path
            if not path.is_file() or sha256_file(path) != (entry.sha256, entry.size):
                damaged.append(entry.path)
        if stored.manifest.sha256 != model_id:
            damaged.append(MANIFEST_NAME)
        return damaged
