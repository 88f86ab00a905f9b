"""An immutable, content-addressed store of model artifacts.

Layout under the store root:
    objects/ab/cdef...              one read-only blob per distinct file content (sha256)
    models/<id>/MANIFEST.json       the store's record of the model: every file's path, size, sha256
    models/<id>/files/...           the submitted folder, rebuilt from hard links to blobs
    staging/<random>/               intakes in progress (removed whole, or committed whole)
    intakes/<id>/                   what teams send over the web before intake (`gauntlet.artifacts.intakes`)
    .lock                           held while a staged intake is committed or staging is cleaned

A model's identity is the sha256 of its canonical manifest, so the same bytes
submitted twice are stored once and get the same id, and a stored model can be
re-verified at any time. Files are hashed while they are copied: one read of
the submitted bytes, and what is stored is exactly what was hashed.

Why the store cannot be written through: the store's own metadata lives beside
`files/`, never inside the submitted folder's namespace, so no submitted name
(`MANIFEST.json`, say) can collide with it; and nothing here ever opens an
existing path for writing. New bytes go to fresh files in a private staging
folder (created with O_EXCL), and a commit only renames and links. Read-only
modes are kept as a courtesy to other tools, but they bind nobody running as
root, so the guarantee rests on never opening a stored path for writing.

A kill at any moment leaves the store as it was or with the whole model: a
staging folder carries a lock held by its living intake, so the next store
opened removes staging folders whose owner is gone, and the blobs a killed
commit had already placed, unless another model references them.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import shutil
import stat
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from gauntlet.errors import IntakeError, StorageUnavailable, StoreError

CHUNK = 8 << 20
MANIFEST_NAME = "MANIFEST.json"
FILES_DIR = "files"
READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
_COMMITTING = "COMMITTING.json"  # in a staging folder: the blobs its commit is placing

# A stated default a challenge spec can lower or raise ([submissions] max_bytes / max_files):
# large enough for a 400B-parameter bf16 model in shards, small enough that one team
# cannot fill the organisers' disk by accident or on purpose.
DEFAULT_MAX_BYTES = 1 << 40  # 1 TiB
DEFAULT_MAX_FILES = 2_000


@dataclass(frozen=True)
class IntakeLimits:
    max_bytes: int = DEFAULT_MAX_BYTES
    max_files: int = DEFAULT_MAX_FILES


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
    path: Path  # the submitted folder as stored (models/<id>/files)
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


def _storage_error(exc: OSError, doing: str, root: Path) -> StorageUnavailable:
    reason = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exhausted",
              errno.EROFS: "the store is on a read-only file system", errno.EACCES: "permission denied",
              errno.EPERM: "permission denied", errno.EFBIG: "a file is larger than this system allows"}
    why = reason.get(exc.errno, exc.strerror or str(exc))
    return StorageUnavailable(f"content store {root}: cannot {doing}: {why}; nothing was stored")


def _write_new(path: Path, data: bytes) -> None:
    """Create `path` with `data`; refuse to touch a path that already exists."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), READ_ONLY)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


@contextmanager
def _no_copy() -> Iterator[None]:
    yield None


class StagedModel:
    """An intake in progress: bytes copied and hashed into a private staging folder.
    `commit()` puts the model in the store whole; leaving the `with` block without
    committing removes everything it wrote."""

    def __init__(self, store: "ContentStore", folder: Path, manifest: Manifest, blobs: dict[str, Path]):
        self.store, self.folder, self.manifest, self._blobs = store, folder, manifest, blobs
        self.committed: StoredModel | None = None

    @property
    def id(self) -> str:
        return self.manifest.sha256

    def commit(self) -> StoredModel:
        store = self.store
        final = store.models / self.id
        try:
            with store._locked():
                if not (final / MANIFEST_NAME).is_file():
                    self._place(final)
        except OSError as exc:
            raise _storage_error(exc, "commit the model", store.root) from None
        self.committed = StoredModel(self.id, final / FILES_DIR, self.manifest)
        return self.committed

    def _place(self, final: Path) -> None:
        store = self.store
        new = sorted(sha for sha in self._blobs if not store._blob(sha).exists())
        _write_new(self.folder / _COMMITTING, json.dumps({"blobs": new}).encode())
        for sha in new:
            blob = store._blob(sha)
            blob.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(self._blobs[sha], READ_ONLY)
            os.replace(self._blobs[sha], blob)
        model = self.folder / "model"
        for entry in self.manifest.files:
            target = model / FILES_DIR / entry.path
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(store._blob(entry.sha256), target)
            except OSError:  # a filesystem without hard links: copy into a fresh file instead
                with open(store._blob(entry.sha256), "rb") as src:
                    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, READ_ONLY)
                    with os.fdopen(fd, "wb") as dst:
                        shutil.copyfileobj(src, dst, CHUNK)
        _write_new(model / MANIFEST_NAME, self.manifest.canonical())
        store.models.mkdir(parents=True, exist_ok=True)
        os.rename(model, final)


class ContentStore:
    def __init__(self, root: str | os.PathLike, *, recover: bool = True):
        self.root = Path(root)
        self.objects = self.root / "objects"
        self.models = self.root / "models"
        self.staging = self.root / "staging"
        if recover and self.staging.is_dir():
            self.clean_staging()

    def _blob(self, sha: str) -> Path:
        return self.objects / sha[:2] / sha[2:]

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- intake ------------------------------------------------------------------
    @contextmanager
    def stage(self, root: Path, files: list[str], *, limits: IntakeLimits = IntakeLimits(),
              on_bytes: Callable[[int], None] | None = None, link: bool = False) -> Iterator[StagedModel]:
        """Copy and hash the listed files (relative to root) into staging; yield the
        staged model. Whatever happens in the block, staging is removed on the way out.

        `link=True` is for files the store itself received (`gauntlet.artifacts.intakes`):
        each is hard-linked into staging and hashed there, so a terabyte upload is not
        copied a second time; what is hashed is still exactly what is stored (nothing else
        writes the store's own received files). Another file system falls back to copying."""
        if len(files) > limits.max_files:
            raise IntakeError(f"{root.name} holds {len(files)} files, over the limit of {limits.max_files}")
        try:
            with self._locked():
                self.staging.mkdir(exist_ok=True)
                folder = Path(tempfile.mkdtemp(dir=self.staging))
                owner = open(folder / ".owner", "a+b")
                fcntl.flock(owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise _storage_error(exc, "open a staging folder", self.root) from None
        try:
            blobs: dict[str, Path] = {}
            entries, total = [], 0
            for number, rel in enumerate(files):
                tmp = folder / f"blob-{number}"
                digest, size = hashlib.sha256(), 0
                if link and self._link(root / rel, tmp):
                    source, target = tmp, None
                else:
                    source, target = root / rel, tmp
                try:
                    with open(source, "rb") as src, (open(target, "xb") if target else _no_copy()) as dst:
                        while chunk := src.read(CHUNK):
                            size += len(chunk)
                            if total + size > limits.max_bytes:
                                raise IntakeError(f"{root.name} is larger than the limit of "
                                                  f"{limits.max_bytes:,} bytes")
                            digest.update(chunk)
                            if dst is not None:
                                dst.write(chunk)
                            if on_bytes:
                                on_bytes(len(chunk))
                except OSError as exc:
                    if exc.filename is not None and str(exc.filename) in (str(root / rel), str(tmp)):
                        raise IntakeError(f"{rel}: cannot read ({exc.strerror})") from None
                    raise _storage_error(exc, "copy the submission", self.root) from None
                total += size
                sha = digest.hexdigest()
                if sha in blobs:
                    tmp.unlink()
                else:
                    blobs[sha] = tmp
                entries.append(FileEntry(rel, size, sha))
            manifest = Manifest(tuple(sorted(entries, key=lambda e: e.path)))
            yield StagedModel(self, folder, manifest, blobs)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            owner.close()

    @staticmethod
    def _link(source: Path, tmp: Path) -> bool:
        try:
            os.link(source, tmp)
        except OSError:  # another file system, or one without hard links: copy instead
            return False
        return True

    def put(self, root: Path, files: list[str], on_bytes: Callable[[int], None] | None = None,
            *, limits: IntakeLimits = IntakeLimits()) -> StoredModel:
        """Store the listed files (relative to root) whole and return the stored model."""
        with self.stage(root, files, limits=limits, on_bytes=on_bytes) as staged:
            return staged.commit()

    def clean_staging(self) -> list[str]:
        """Remove what killed intakes left in staging (returns the folders removed). A
        folder whose owner still runs keeps its lock and is left alone."""
        removed = []
        try:
            with self._locked():
                for folder in sorted(p for p in self.staging.iterdir() if p.is_dir()):
                    try:
                        probe = open(folder / ".owner", "a+b")
                    except FileNotFoundError:
                        continue  # its intake just finished and removed it
                    with probe:
                        try:
                            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        except BlockingIOError:
                            continue  # a living intake
                        self._undo_commit(folder)
                        shutil.rmtree(folder, ignore_errors=True)
                        removed.append(folder.name)
        except OSError as exc:
            if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                return removed  # a read-only store: nothing can have been half-written by us here
            raise _storage_error(exc, "clean its staging folder", self.root) from None
        return removed

    def _undo_commit(self, folder: Path) -> None:
        """Blobs a killed commit placed before its model appeared, unless referenced since."""
        journal = folder / _COMMITTING
        if not journal.is_file():
            return
        placed = json.loads(journal.read_text())["blobs"]
        if not placed:
            return
        referenced = set()
        for manifest in self.models.glob(f"*/{MANIFEST_NAME}"):
            referenced.update(f.sha256 for f in Manifest.from_json(manifest.read_text()).files)
        for sha in placed:
            if sha not in referenced:
                self._blob(sha).unlink(missing_ok=True)
                try:
                    self._blob(sha).parent.rmdir()  # only if the killed commit made it and left it empty
                except OSError:
                    pass

    # -- reading -----------------------------------------------------------------
    def get(self, model_id: str) -> StoredModel:
        path = self.models / model_id
        if len(model_id) != 64 or not (path / MANIFEST_NAME).is_file():
            raise StoreError(f"no stored model with id {model_id[:80]}")
        return StoredModel(model_id, path / FILES_DIR, Manifest.from_json((path / MANIFEST_NAME).read_text()))

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

    def model_ids(self) -> list[str]:
        return sorted(p.parent.name for p in self.models.glob(f"*/{MANIFEST_NAME}"))
