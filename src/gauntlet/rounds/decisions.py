"""The decision contract at the shell's edge: documents in, `GauntletError`s out.

`gauntlet.domain` is pure and raises `InvalidDocument` (a `ValueError`); here
those become `InputError`s with the document's name in front, which the CLI
prints as one line with exit code 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gauntlet.domain import decision as _decision
from gauntlet.domain import whatif as _whatif
from gauntlet.domain.canonical import canonical_json
from gauntlet.domain.validation import InvalidDocument
from gauntlet.errors import InputError
from gauntlet.files import parse_json, read_bytes


def code_version() -> str:
    """What produced a decision: the package, the rules and the numeric library
    whose random streams the Monte Carlo uses (byte-identical re-decisions are
    promised for the same code version)."""
    import numpy

    from gauntlet import __version__

    return f"gauntlet {__version__}; rules {_decision.DECISION_RULES}; numpy {numpy.__version__}"


def decide(document: Any, *, source: str = "inputs") -> dict:
    """The pure decision contract; a malformed document raises `InputError`."""
    try:
        return _decision.decide(document)
    except InvalidDocument as exc:
        raise InputError(f"{source}: {exc}") from None


def what_if(document: Any, scenario: dict, *, source: str = "inputs") -> dict:
    try:
        return _whatif.what_if(document, scenario)
    except InvalidDocument as exc:
        raise InputError(f"{source} (scenario {canonical_json(scenario)}): {exc}") from None


def sensitivity(document: Any, *, source: str = "inputs") -> list[dict]:
    try:
        return _whatif.sensitivity(document)
    except InvalidDocument as exc:
        raise InputError(f"{source}: {exc}") from None


def read_json(path: str | Path) -> Any:
    """A JSON document from a file, refusing what is not JSON in one line."""
    path = Path(path)
    return parse_json(read_bytes(path, what="JSON file"), what=str(path))
