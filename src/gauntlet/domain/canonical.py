"""Canonical JSON: the one byte form in which decisions are published and hashed.

Rules (documented because anyone re-deciding a published round relies on them):
- keys sorted, no insignificant whitespace, UTF-8 (non-ASCII kept as is);
- NaN and infinities are refused;
- published scores and probabilities are rounded to `PLACES` (4) decimal places,
  half to even, from the *exact* value (a `Fraction`), so the rounding never
  depends on the order in which floats were added;
- floats are written with Python's shortest round-trip repr, which is the same
  on every platform.
"""

from __future__ import annotations

import hashlib
import json
from fractions import Fraction
from typing import Any

PLACES = 4


def canonical_json(document: Any) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_bytes(document: Any) -> bytes:
    return canonical_json(document).encode("utf-8")


def sha256_hex(document: Any) -> str:
    return hashlib.sha256(canonical_bytes(document)).hexdigest()


def publish_number(value: Fraction | float | int, places: int = PLACES) -> float:
    """Round an exact (or float) value for publication; -0.0 becomes 0.0."""
    exact = value if isinstance(value, Fraction) else Fraction(value)
    rounded = float(round(exact, places))
    return rounded + 0.0
