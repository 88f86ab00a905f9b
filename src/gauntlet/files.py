"""Reading files a user named on the command line, with one-line errors.

Every reader of user-supplied documents (specs, decision inputs, vote files)
fails the same way: the file's role and path, then what went wrong.
"""

from __future__ import annotations

import os
from pathlib import Path

from gauntlet.errors import InputError


def read_bytes(path: str | os.PathLike, *, what: str, error: type[InputError] = InputError) -> bytes:
    path = Path(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise error(f"{what} {path}: no such file (not found)") from None
    except IsADirectoryError:
        raise error(f"{what} {path}: is a folder, expected a file") from None
    except OSError as exc:
        raise error(f"{what} {path}: cannot read ({exc.strerror})") from None


def read_text(path: str | os.PathLike, *, what: str, error: type[InputError] = InputError) -> str:
    data = read_bytes(path, what=what, error=error)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise error(f"{what} {path}: not UTF-8 text") from None
