"""The bounded readers of everything a user hands Gauntlet, with one-line errors.

Every reader of user-supplied documents (specs, decision inputs, vote files,
model configs, safetensors headers, HTTP bodies) goes through here and fails
the same way: the document's role and where it is, then what went wrong, as
an `InputError` (or the caller's subclass). Bounded means: a size cap read
without first reading everything, a nesting-depth cap checked before the
parser recurses (a 200,000-deep array must not reach Python's recursion
limit), and integers capped in digits before Python converts them (a
5,000-digit integer would otherwise raise a bare ValueError, or be accepted
and overflow later in SQL or numpy).
"""

from __future__ import annotations

import json
import math
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Callable

from gauntlet.errors import InputError

MAX_DOCUMENT_BYTES = 256 << 20
MAX_DEPTH = 64
MAX_INT_DIGITS = 24  # enough for any 64-bit offset or count, with room to spare

# Strings first (so a bracket inside one is not counted), written unrolled for speed.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_OPENERS = frozenset(b"[{")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def read_bytes(path: str | os.PathLike, *, what: str, error: type[InputError] = InputError,
               max_bytes: int = MAX_DOCUMENT_BYTES) -> bytes:
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise error(f"{what} {path}: no such file (not found)") from None
    except IsADirectoryError:
        raise error(f"{what} {path}: is a folder, expected a file") from None
    except OSError as exc:  # a symlink loop, permissions, a device that fails
        raise error(f"{what} {path}: cannot read ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise error(f"{what} {path}: larger than the {max_bytes:,}-byte limit")
    return data


def read_text(path: str | os.PathLike, *, what: str, error: type[InputError] = InputError,
              max_bytes: int = MAX_DOCUMENT_BYTES) -> str:
    data = read_bytes(path, what=what, error=error, max_bytes=max_bytes)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise error(f"{what} {path}: not UTF-8 text") from None


def json_depth(data: bytes) -> int:
    """How deeply a JSON text nests arrays and objects (brackets inside strings not
    counted). Linear and iterative: the check must not itself recurse. Written by hand
    because no JSON library offers a depth limit; the work is done in C (regex,
    bytes.translate, numpy), so a 100 MB header of brackets costs about a second."""
    brackets = _JSON_STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    if len(brackets) < 100_000:
        depth = deepest = 0
        for byte in brackets:
            depth += 1 if byte in _OPENERS else -1
            deepest = max(deepest, depth)
        return deepest
    import numpy as np

    codes = np.frombuffer(brackets, dtype=np.uint8)
    deepest = carried = 0
    for start in range(0, codes.size, 1 << 23):  # bounded memory: 8M brackets at a time
        block = codes[start:start + (1 << 23)]
        running = np.cumsum(np.where((block == 91) | (block == 123), 1, -1).astype(np.int64)) + carried
        deepest = max(deepest, int(running.max()))
        carried = int(running[-1])
    return deepest


def parse_json(data: str | bytes, *, what: str, error: type[InputError] = InputError,
               max_depth: int = MAX_DEPTH, max_bytes: int = MAX_DOCUMENT_BYTES, finite: bool = True,
               object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None) -> Any:
    """A JSON document, refused in one line if it is too big, too deep, holds an
    over-long integer, or (with `finite`) NaN/Infinity, which JSON does not allow."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    if len(raw) > max_bytes:
        raise error(f"{what}: larger than the {max_bytes:,}-byte limit")
    if (depth := json_depth(raw)) > max_depth:
        raise error(f"{what}: nested {depth} levels deep, over the limit of {max_depth}")

    def bounded_int(text: str) -> int:
        if len(text.lstrip("-")) > MAX_INT_DIGITS:
            raise _Refused(f"an integer of {len(text.lstrip('-')):,} digits (the limit is {MAX_INT_DIGITS})")
        return int(text)

    def refuse_constant(name: str) -> float:
        if finite:
            raise _Refused(f"{name} is not a number JSON allows")
        return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[name]

    try:
        text = raw.decode("utf-8")
        return json.loads(text, parse_int=bounded_int, parse_constant=refuse_constant,
                          object_pairs_hook=object_pairs_hook)
    except UnicodeDecodeError:
        raise error(f"{what}: not UTF-8 text") from None
    except _Refused as exc:
        raise error(f"{what}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise error(f"{what}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except (ValueError, RecursionError) as exc:  # a hook's refusal (duplicate keys...), or a bug's depth
        raise error(f"{what}: not acceptable JSON ({str(exc)[:200]})") from None


def parse_toml(text: str, *, what: str, error: type[InputError] = InputError,
               max_depth: int = MAX_DEPTH, max_bytes: int = 16 << 20) -> dict:
    """A TOML document, with the same bounds as `parse_json` (checked on the parsed
    tree: tomllib has no integer hook, and refuses over-long integers itself only with
    a bare ValueError)."""

    def load(text: str) -> dict:
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise error(f"{what}: invalid TOML: {exc}") from None

    return _parsed_tree(text, load, "TOML", what=what, error=error, max_depth=max_depth, max_bytes=max_bytes)


def parse_yaml(text: str, *, what: str, error: type[InputError] = InputError,
               max_depth: int = MAX_DEPTH, max_bytes: int = 16 << 20) -> Any:
    """A YAML document (safe loader: no tags that build objects), bounded like the others."""
    import yaml

    def load(text: str) -> Any:
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise error(f"{what}: invalid YAML: {reason}") from None

    return _parsed_tree(text, load, "YAML", what=what, error=error, max_depth=max_depth, max_bytes=max_bytes)


def _parsed_tree(text: str, load, kind: str, *, what: str, error: type[InputError], max_depth: int,
                 max_bytes: int) -> Any:
    """Size first, then the parser's own refusals as one line, then depth and integers on the tree."""
    if len(text) > max_bytes:
        raise error(f"{what}: larger than the {max_bytes:,}-byte limit")
    try:
        document = load(text)
    except (ValueError, RecursionError) as exc:
        raise error(f"{what}: invalid {kind}: {str(exc)[:200]}") from None
    problem = _tree_problem(document, max_depth)
    if problem:
        raise error(f"{what}: {problem}")
    return document


def _tree_problem(document: Any, max_depth: int) -> str | None:
    stack = [(document, 0)]
    limit = 10**MAX_INT_DIGITS
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth >= max_depth:
                return f"nested more than {max_depth} levels deep"
            stack.extend((v, depth + 1) for v in (value.values() if isinstance(value, dict) else value))
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) >= limit:
            return f"an integer of more than {MAX_INT_DIGITS} digits"
        elif isinstance(value, float) and not math.isfinite(value):
            return f"{value} is not a number a challenge can use"
    return None


class _Refused(ValueError):
    pass
