"""What teams send the server, before intake: resumable uploads, and folders or URLs the
server reads for them.  Each lives under the content store's root as one intake:

    intakes/<id>/INTAKE.json     who sent what: team, round, the declared files (path, size,
                                 sha256), the state (receiving, accepted, refused) and results
    intakes/<id>/parts/<n>       the bytes received so far of declared file n
    intakes/<id>/model/          at the end: the declared names, hard links to the parts,
                                 which intake validates and stages (`ContentStore.stage(link=True)`)
    intakes/.sequence            the number of the last intake made (the order the team page lists)

The upload protocol (the JSON API's /api/team/uploads, see `gauntlet.web.submissions`):
declare the files, send each file's bytes in chunks at stated offsets (a chunk at another
offset than the received size is refused with that size, so a client whose connection broke
asks for the received offsets and resumes there), then finish: the parts are validated,
hashed and compared with the declaration, and the submission is recorded.

Hostile input cannot escape: declared names are checked here (relative, no `..`, no control
characters) and never used to store received bytes (parts are named by number); the
assembled folder is built from hard links the server made, so it holds no symlink; sizes,
counts and the challenge's `[submissions]` limits are enforced on declaration and on every
chunk; a refused intake removes its own folder and nothing else.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterator

from gauntlet.artifacts.content_store import FileEntry, IntakeLimits, Manifest
from gauntlet.errors import InputError, IntakeError, StoreError

INTAKES = "intakes"
RECORD = "INTAKE.json"
MAX_NAME_CHARS = 1024
MAX_RECEIVING = 4  # unfinished uploads per team: each may grow to the challenge's max_bytes
UNFINISHED_FOR = timedelta(days=7)  # a terabyte at 100 Mbit/s takes a day; a week is abandoned
MAX_SEGMENT_CHARS = 255
_ID = re.compile(r"[0-9a-f]{32}")
_SHA = re.compile(r"[0-9a-f]{64}")


class OffsetMismatch(InputError):
    """A chunk sent at another offset than the bytes received so far (HTTP 409)."""

    def __init__(self, message: str, received: int) -> None:
        super().__init__(message)
        self.received = received


class IntakeBusy(InputError):
    """Another request is writing to the same intake (HTTP 409)."""


class DeclaredMismatch(IntakeError):
    """The received files are not the ones declared; `paths` are the files to send again."""

    def __init__(self, message: str, paths: tuple[str, ...]) -> None:
        super().__init__(message)
        self.paths = paths


def check_name(path: object) -> str:
    """A declared file name: a relative POSIX path inside the model folder."""
    if not isinstance(path, str) or not path:
        raise IntakeError("every declared file needs a path (a non-empty string)")
    shown = path[:80]
    if len(path) > MAX_NAME_CHARS:
        raise IntakeError(f"file name {shown!r}... is longer than {MAX_NAME_CHARS} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in path) or "\\" in path:
        raise IntakeError(f"file name {shown!r} holds control characters or a backslash")
    parts = path.split("/")
    if path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise IntakeError(f"file name {shown!r} must be a relative path inside the model folder "
                          "(no leading '/', no '.' or '..' segments)")
    if any(len(p.encode("utf-8", "surrogatepass")) > MAX_SEGMENT_CHARS for p in parts):
        raise IntakeError(f"file name {shown!r} has a segment longer than {MAX_SEGMENT_CHARS} bytes")
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raise IntakeError(f"file name {shown!r} is not UTF-8") from None
    if parts[0] in (".git", ".cache", INTAKES):
        raise IntakeError(f"file name {shown!r}: {parts[0]}/ is not part of a model")
    return path


def declared_manifest(files: object, limits: IntakeLimits) -> Manifest:
    """The files a team declares, checked against the challenge's limits."""
    if not isinstance(files, list) or not files:
        raise IntakeError("declare the model's files: a non-empty list of {path, size, sha256}")
    if len(files) > limits.max_files:
        raise IntakeError(f"{len(files):,} files declared, over the limit of {limits.max_files:,}")
    entries, names = [], set()
    for item in files:
        if not isinstance(item, dict):
            raise IntakeError("each declared file is an object {path, size, sha256}")
        path, size, sha = check_name(item.get("path")), item.get("size"), item.get("sha256")
        if path in names:
            raise IntakeError(f"{path!r} is declared twice")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise IntakeError(f"{path}: size must be a whole number of bytes")
        if not isinstance(sha, str) or not _SHA.fullmatch(sha):
            raise IntakeError(f"{path}: sha256 must be 64 lower-case hexadecimal digits")
        names.add(path)
        entries.append(FileEntry(path, size, sha))
    for name in names:  # `a` and `a/b` cannot both be files
        parent = name.rpartition("/")[0]
        while parent:
            if parent in names:
                raise IntakeError(f"{parent!r} is declared as a file and as a folder")
            parent = parent.rpartition("/")[0]
    manifest = Manifest(tuple(sorted(entries, key=lambda e: e.path)))
    if manifest.total_bytes > limits.max_bytes:
        raise IntakeError(f"{manifest.total_bytes:,} bytes declared, over the limit of {limits.max_bytes:,}")
    return manifest


def check_declared(declared: Manifest, staged: Manifest) -> None:
    """Refuse a staged model whose files differ from the declaration (names, sizes, hashes)."""
    want = {f.path: f for f in declared.files}
    have = {f.path: f for f in staged.files}
    wrong = sorted(p for p in want if p in have and have[p] != want[p])
    missing, extra = sorted(set(want) - set(have)), sorted(set(have) - set(want))
    if wrong:
        f = want[wrong[0]]
        raise DeclaredMismatch(f"{f.path}: the bytes received hash to {have[f.path].sha256[:16]}…, not the declared "
                               f"{f.sha256[:16]}…" + (f" (and {len(wrong) - 1} more)" if len(wrong) > 1 else "")
                               + "; send it again", tuple(wrong))
    if missing or extra:
        which = missing[0] if missing else extra[0]
        raise IntakeError(f"{which}: declared but not part of the model folder" if missing
                          else f"{which}: in the model folder but not declared")


@dataclass(frozen=True)
class Intakes:
    """The intakes under one content store's root."""

    root: Path

    @property
    def folder(self) -> Path:
        return self.root / INTAKES

    def _dir(self, intake_id: str) -> Path:
        if not isinstance(intake_id, str) or not _ID.fullmatch(intake_id):
            raise StoreError("no such upload")
        return self.folder / intake_id

    # -- records -------------------------------------------------------------------
    def _write(self, record: dict) -> dict:
        folder = self._dir(record["id"])
        tmp = folder / f".{RECORD}.{secrets.token_hex(4)}"
        tmp.write_text(json.dumps(record, ensure_ascii=False, sort_keys=True), encoding="utf-8")
        os.replace(tmp, folder / RECORD)  # readers see the old record or the new one
        return record

    def get(self, intake_id: str, challenge: str, team: str) -> dict:
        """The intake, if it is this team's (another team's reads exactly like a missing one)."""
        path = self._dir(intake_id) / RECORD
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise StoreError("no such upload") from None
        if record.get("challenge") != challenge or record.get("team") != team:
            raise StoreError("no such upload")
        return {**record, "received": self._received(record)}

    def of_team(self, challenge: str, team: str, limit: int = 20) -> list[dict]:
        """The team's intakes, newest first."""
        if not self.folder.is_dir():
            return []
        found = []
        for folder in self.folder.iterdir():
            try:
                found.append(self.get(folder.name, challenge, team))
            except StoreError:
                continue
        return sorted(found, key=lambda r: r.get("sequence", 0), reverse=True)[:limit]

    def _next_sequence(self) -> int:
        """Intakes in the order they were made (two in the same instant too), counted under a lock."""
        with open(self.folder / ".sequence", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            number = int(handle.read() or b"0") + 1
            handle.seek(0)
            handle.truncate()
            handle.write(str(number).encode())
            return number

    def _received(self, record: dict) -> list[int]:
        if record["state"] != "receiving":
            return [f["size"] for f in record["files"]] if record["state"] == "accepted" else []
        parts = self._dir(record["id"]) / "parts"
        sizes = []
        for n in range(len(record["files"])):
            try:
                sizes.append((parts / str(n)).stat().st_size)
            except FileNotFoundError:
                sizes.append(0)
        return sizes

    def create(self, challenge: str, team: str, round_id: str, manifest: Manifest | None, *, source: str,
               location: str | None, at: datetime) -> dict:
        """A new intake: an upload (`manifest` declared, bytes to follow) or a location to read."""
        if manifest is not None:
            open_ = []
            for r in self.of_team(challenge, team, limit=10_000):
                if r["state"] == "receiving" and r["source"] == "upload":
                    if datetime.fromisoformat(r["created_at"]) + UNFINISHED_FOR < at:
                        self.refused(r, f"not finished within {UNFINISHED_FOR.days} days of being declared")
                    else:
                        open_.append(r)
            if len(open_) >= MAX_RECEIVING:
                raise IntakeError(f"your team has {len(open_)} unfinished uploads; finish or cancel one first")
        intake_id = secrets.token_hex(16)
        folder = self.folder / intake_id
        (folder / "parts").mkdir(parents=True)
        record = {"id": intake_id, "sequence": self._next_sequence(), "challenge": challenge, "team": team, "round": round_id, "source": source,
                  "location": location, "created_at": at.isoformat(), "state": "receiving", "reason": None,
                  "files": [{"path": f.path, "size": f.size, "sha256": f.sha256}
                            for f in (manifest.files if manifest else ())],
                  "submission": None, "manifest_sha256": None, "licence": None, "licence_allowed": None}
        return self._write(record)

    @contextmanager
    def _exclusive(self, intake_id: str) -> Iterator[None]:
        try:
            handle = open(self._dir(intake_id) / ".lock", "a+b")
        except FileNotFoundError:  # cancelled meanwhile
            raise StoreError("no such upload") from None
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise IntakeBusy("another request is writing to this upload; wait for it, then ask for the "
                                 "received offsets") from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- receiving -----------------------------------------------------------------
    def write_chunk(self, record: dict, index: int, offset: int, data: bytes) -> int:
        """Append `data` to declared file `index` at `offset` (which must be the bytes received
        so far); returns the new received size."""
        if record["state"] != "receiving":
            raise InputError(f"this upload is {record['state']}; it takes no more bytes")
        if not 0 <= index < len(record["files"]):
            raise InputError(f"this upload declares files 0 to {len(record['files']) - 1}; there is no file {index}")
        declared = record["files"][index]
        with self._exclusive(record["id"]):
            part = self._dir(record["id"]) / "parts" / str(index)
            fd = os.open(part, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
            with os.fdopen(fd, "r+b") as handle:
                received = os.fstat(fd).st_size
                if offset != received:
                    raise OffsetMismatch(f"{declared['path']}: {received:,} bytes received so far; send the chunk "
                                         f"at offset {received}", received)
                if received + len(data) > declared["size"]:
                    raise IntakeError(f"{declared['path']}: {received + len(data):,} bytes would be more than the "
                                      f"{declared['size']:,} declared")
                handle.seek(received)
                try:
                    handle.write(data)
                    handle.flush()
                except OSError:
                    handle.truncate(received)  # a full disk keeps what was whole before this chunk
                    raise
                return received + len(data)

    def forget(self, record: dict, paths: tuple[str, ...]) -> None:
        """Drop the received bytes of these files (they must be sent again)."""
        parts = self._dir(record["id"]) / "parts"
        for n, f in enumerate(record["files"]):
            if f["path"] in paths:
                (parts / str(n)).unlink(missing_ok=True)

    @contextmanager
    def assembled(self, record: dict) -> Iterator[Path]:
        """The upload as a model folder of its declared names (hard links to the parts), once
        every byte declared has arrived; removed on the way out."""
        with self._exclusive(record["id"]):
            incomplete = [(f["path"], got, f["size"]) for f, got in zip(record["files"], self._received(record))
                          if got != f["size"]]
            if incomplete:
                path, got, size = incomplete[0]
                raise InputError(f"{path}: {got:,} of {size:,} bytes received; send the rest before finishing"
                                 + (f" ({len(incomplete) - 1} more files incomplete)" if len(incomplete) > 1 else ""))
            folder = self._dir(record["id"])
            model = folder / "model"
            shutil.rmtree(model, ignore_errors=True)
            try:
                for n, f in enumerate(record["files"]):
                    target = model / f["path"]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.link(folder / "parts" / str(n), target)
                yield model
            finally:
                shutil.rmtree(model, ignore_errors=True)

    @contextmanager
    def receiving_folder(self, record: dict) -> Iterator[Path]:
        """An empty folder of this intake for bytes read from a location; removed on the way out."""
        model = self._dir(record["id"]) / "model"
        shutil.rmtree(model, ignore_errors=True)
        model.mkdir()
        try:
            yield model
        finally:
            shutil.rmtree(model, ignore_errors=True)

    # -- outcome -------------------------------------------------------------------
    def accepted(self, record: dict, receipt) -> dict:
        """The intake became submission `receipt` (a `gauntlet.rounds.pipeline.Receipt`)."""
        shutil.rmtree(self._dir(record["id"]) / "parts", ignore_errors=True)
        done = self._write({**_bare(record), "state": "accepted", "submission": receipt.submission_id,
                            "manifest_sha256": receipt.manifest_sha256, "licence": receipt.licence,
                            "licence_allowed": receipt.licence_allowed})
        return {**done, "received": self._received(done)}

    def refused(self, record: dict, reason: str) -> dict:
        shutil.rmtree(self._dir(record["id"]) / "parts", ignore_errors=True)
        done = self._write({**_bare(record), "state": "refused", "reason": reason})
        return {**done, "received": []}

    def cancel(self, record: dict) -> None:
        shutil.rmtree(self._dir(record["id"]), ignore_errors=True)


def _bare(record: dict) -> dict:
    return {k: v for k, v in record.items() if k != "received"}
