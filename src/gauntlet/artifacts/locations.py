"""Where a team may point the server to read its model: a local folder or an object-storage
URL (read through fsspec), confined to the roots the server's operator configured.

A root is a local folder (`/data/submissions/{team}`) or a URL prefix
(`s3://challenge-models/{team}`); `{team}` is replaced by the asking team's id, so no team
can name another's folder.  A location outside every root is refused before anything is
read: local paths are resolved first (so `..` and symlinks cannot leave a root), URLs must
be plain (no `..` segments, no fsspec chaining with `::`) and start with a root.  What a URL
names is copied into the intake's own folder under the challenge's size and file limits,
counting the bytes as they arrive rather than trusting the listing.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from pathlib import Path

from gauntlet.artifacts.content_store import CHUNK, IntakeLimits
from gauntlet.artifacts.intakes import check_name
from gauntlet.errors import GauntletError, InputError, IntakeError

MAX_LOCATION_CHARS = 2048


class OutsideRoots(GauntletError):
    """A location outside the roots this server reads from (the web answers 403)."""


@dataclass(frozen=True)
class Location:
    kind: str  # "folder" or "url"
    where: str  # the resolved folder, or the URL


def _is_url(text: str) -> bool:
    return "://" in text


def _plain_url(text: str) -> str:
    scheme, _, rest = text.partition("://")
    if "::" in text or not scheme.isalnum():
        raise InputError(f"{text[:120]!r} is not a plain storage URL (scheme://bucket/path, no '::' chaining)")
    if any(seg in (".", "..") for seg in rest.split("/")):
        raise InputError(f"{text[:120]!r} holds '.' or '..' segments")
    return f"{scheme.lower()}://{rest.rstrip('/')}"


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def resolve(text: object, team: str, roots: tuple[str, ...]) -> Location:
    """The location `text` names, if it lies inside one of `roots` for this team."""
    if not isinstance(text, str) or not text.strip():
        raise InputError("name the model's location: a folder path or a storage URL")
    text = text.strip()
    if len(text) > MAX_LOCATION_CHARS or any(ord(c) < 32 for c in text):
        raise InputError(f"the location is longer than {MAX_LOCATION_CHARS} characters or holds control characters")
    if not roots:
        raise OutsideRoots("this server reads no folders or URLs for teams; upload the model instead")
    mine = [r.replace("{team}", team) for r in roots]
    if _is_url(text):
        url = _plain_url(text)
        if not any(_within(url, _plain_url(r)) for r in mine if _is_url(r)):
            raise OutsideRoots(f"{url[:200]} is outside the locations this server reads for your team: "
                               + ", ".join(mine))
        return Location("url", url)
    if not os.path.isabs(text):
        raise InputError(f"{text[:200]!r}: give the folder as an absolute path")
    try:
        folder = Path(text).resolve(strict=True)
    except (OSError, RuntimeError):
        folder = None
    inside = folder is not None and any(_within(str(folder), str(Path(r).resolve())) for r in mine if not _is_url(r))
    if not inside:  # a missing folder reads like one outside: no probing of the server's disk
        raise OutsideRoots(f"{text[:200]} is not a folder inside the locations this server reads for your team: "
                           + ", ".join(mine))
    return Location("folder", str(folder))


def copy_url(url: str, target: Path, limits: IntakeLimits) -> int:
    """Copy every file under `url` into `target` (an empty folder); returns the bytes copied."""
    import fsspec

    try:
        fs, base = fsspec.core.url_to_fs(url)
        listing = fs.find(base, detail=True, withdirs=False)
    except (ImportError, ValueError) as exc:
        raise InputError(f"{url[:200]}: this server cannot read that kind of URL ({exc})") from None
    except OSError as exc:
        raise IntakeError(f"{url[:200]}: cannot list it ({exc})") from None
    if not listing:
        raise IntakeError(f"{url[:200]} holds no files")
    if len(listing) > limits.max_files:
        raise IntakeError(f"{url[:200]} holds {len(listing):,} files, over the limit of {limits.max_files:,}")
    base = base.rstrip("/")
    total = 0
    for name in sorted(listing):
        rel = check_name(posixpath.relpath(name, base) if name != base else posixpath.basename(name))
        destination = target / rel
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            with fs.open(name, "rb") as src, open(destination, "xb") as dst:
                while chunk := src.read(CHUNK):
                    total += len(chunk)
                    if total > limits.max_bytes:
                        raise IntakeError(f"{url[:200]} holds more than the limit of {limits.max_bytes:,} bytes")
                    dst.write(chunk)
        except OSError as exc:
            raise IntakeError(f"{url[:200]}/{rel}: cannot read it ({exc})") from None
    return total
