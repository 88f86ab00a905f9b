"""Path-aware reading of untrusted documents (decision inputs, challenge specs).

Every problem is reported as one line naming the key path, e.g.
``teams[2].country: expected a string, got an integer (42)``. The shells add a
prefix (``spec:`` or the file name) and turn the error into exit code 2.

Pure: imports nothing from the project, so the spec reader can reuse it too.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import math
from typing import Any, Iterable, Iterator


class InvalidDocument(ValueError):
    """A document does not have the shape it must have. `path` names the key."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}" if path else problem)


def describe(value: Any) -> str:
    """How a value reads in an error message: its kind, and a short rendering."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int):
        if value.bit_length() > 80:  # printing a huge integer is itself refused by Python past 4,300 digits
            return f"an integer of about {int(value.bit_length() * 0.30103) + 1:,} digits"
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a number ({value!r})"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"a string ({shown!r})"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, _dt.datetime):
        return f"a date-time ({value.isoformat()})"
    if isinstance(value, _dt.date):
        return f"a date ({value.isoformat()})"
    return type(value).__name__


def suggestion(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Node:
    """One value of a document together with the key path that leads to it."""

    __slots__ = ("value", "path")

    def __init__(self, value: Any, path: str = "") -> None:
        self.value = value
        self.path = path

    # -- navigation -------------------------------------------------------
    def fail(self, problem: str) -> InvalidDocument:
        return InvalidDocument(self.path, problem)

    def _child_path(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    def table(self, allowed: Iterable[str] | None = None, required: Iterable[str] = ()) -> dict[str, "Node"]:
        """The value as a mapping of child nodes. Unknown keys are refused (with a
        suggestion) when `allowed` is given, so a typo never silently falls back
        to a default."""
        if not isinstance(self.value, dict):
            raise self.fail(f"expected a table, got {describe(self.value)}")
        for key in self.value:
            if not isinstance(key, str):
                raise self.fail(f"keys must be strings, got {describe(key)}")
        if allowed is not None:
            allowed = set(allowed)
            for key in sorted(self.value):
                if key not in allowed:
                    raise InvalidDocument(self._child_path(key), "unknown key" + suggestion(key, allowed))
        for key in required:
            if key not in self.value:
                where = f"missing required key {key!r}"
                raise self.fail(where)
        return {key: Node(val, self._child_path(key)) for key, val in self.value.items()}

    def items(self, *, nonempty: bool = False) -> list["Node"]:
        if not isinstance(self.value, (list, tuple)):
            raise self.fail(f"expected a list, got {describe(self.value)}")
        if nonempty and not self.value:
            raise self.fail("expected at least one entry")
        return [Node(val, self._child_path(i)) for i, val in enumerate(self.value)]

    def __iter__(self) -> Iterator["Node"]:
        return iter(self.items())

    # -- scalars ----------------------------------------------------------
    def string(self, *, choices: Iterable[str] | None = None, nonempty: bool = True) -> str:
        if not isinstance(self.value, str):
            raise self.fail(f"expected a string, got {describe(self.value)}")
        if nonempty and not self.value.strip():
            raise self.fail("expected a non-empty string")
        if choices is not None:
            choices = list(choices)
            if self.value not in choices:
                raise self.fail(
                    f"expected one of {', '.join(repr(c) for c in choices)}, got {self.value!r}"
                    + suggestion(self.value, choices)
                )
        return self.value

    def integer(self, *, minimum: int | None = None, maximum: int | None = None) -> int:
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            raise self.fail(f"expected an integer, got {describe(self.value)}")
        self._bounds(self.value, minimum, maximum)
        return self.value

    def number(self, *, minimum: float | None = None, maximum: float | None = None) -> float:
        if isinstance(self.value, bool) or not isinstance(self.value, (int, float)):
            raise self.fail(f"expected a number, got {describe(self.value)}")
        if not math.isfinite(self.value):
            raise self.fail(f"expected a finite number, got {self.value!r}")
        self._bounds(self.value, minimum, maximum)
        return float(self.value)

    def _bounds(self, value: float, minimum: float | None, maximum: float | None) -> None:
        if minimum is not None and maximum is not None and not (minimum <= value <= maximum):
            raise self.fail(f"expected a value from {minimum} to {maximum}, got {value!r}")
        if minimum is not None and value < minimum:
            raise self.fail(f"expected a value of at least {minimum}, got {value!r}")
        if maximum is not None and value > maximum:
            raise self.fail(f"expected a value of at most {maximum}, got {value!r}")

    def boolean(self) -> bool:
        if not isinstance(self.value, bool):
            raise self.fail(f"expected true or false, got {describe(self.value)}")
        return self.value

    def strings(self, *, unique: bool = True) -> tuple[str, ...]:
        out = tuple(node.string() for node in self.items())
        if unique:
            seen: set[str] = set()
            for i, s in enumerate(out):
                if s in seen:
                    raise InvalidDocument(self._child_path(i), f"duplicate entry {s!r}")
                seen.add(s)
        return out

    def aware_datetime(self) -> _dt.datetime:
        """A TOML offset date-time (or an ISO-8601 string with an offset). Local
        times are refused: a deadline must mean the same instant everywhere."""
        value = self.value
        if isinstance(value, str):
            try:
                value = _dt.datetime.fromisoformat(value)
            except ValueError:
                raise self.fail(f"expected a date-time, got {describe(self.value)}") from None
        if not isinstance(value, _dt.datetime):
            raise self.fail(
                f"expected a date-time with a UTC offset (e.g. 2026-01-15T10:00:00+09:00), got {describe(value)}"
            )
        if value.tzinfo is None or value.utcoffset() is None:
            raise self.fail("expected a date-time with a UTC offset (e.g. 2026-01-15T10:00:00+09:00)")
        return value


def unique_ids(nodes: list[Node], key: str = "id") -> None:
    """Refuse two entries of a list that share the same `key`."""
    seen: dict[str, str] = {}
    for node in nodes:
        value = node.value.get(key) if isinstance(node.value, dict) else None
        if isinstance(value, str):
            if value in seen:
                raise InvalidDocument(f"{node.path}.{key}", f"duplicate {key} {value!r} (also at {seen[value]})")
            seen[value] = node.path
