"""Does a text give away who wrote it?

Used twice: the arena drops answers that name their model, team or
organisation (a voter who knows who wrote an answer is no longer blind), and
the expert panel redacts those names from review materials.

ASCII names match as whole words, case-insensitively ("LG" does not match
"algorithm").  Names containing non-ASCII letters match as substrings,
because Korean particles attach to the noun ("엑사원은", "엑사원이").
Spaces, hyphens and underscores inside a name match any of them, so
"K-EXAONE" also catches "K EXAONE" and "k_exaone".
"""

from __future__ import annotations

import re
from typing import Iterable

_SEPARATORS = re.compile(r"[\s\-_]+")


def _pattern(term: str) -> str:
    parts = [re.escape(p) for p in _SEPARATORS.split(term.strip()) if p]
    body = r"[\s\-_]?".join(parts)
    if term.isascii():
        return rf"(?<![A-Za-z0-9]){body}(?![A-Za-z0-9])"
    return body


def identity_matcher(terms: Iterable[str]) -> "re.Pattern[str] | None":
    """One compiled pattern for all `terms` (longest first), or None when there are none."""
    cleaned = sorted({t.strip() for t in terms if t and t.strip()}, key=len, reverse=True)
    if not cleaned:
        return None
    return re.compile("|".join(_pattern(t) for t in cleaned), re.IGNORECASE)


def revealing_term(text: str, terms: Iterable[str]) -> str | None:
    """The first identity term found in `text`, as written there, or None."""
    matcher = identity_matcher(terms)
    if matcher is None:
        return None
    found = matcher.search(text)
    return found.group(0) if found else None


def redact(text: str, terms: Iterable[str], replacement: str = "[redacted]") -> str:
    """`text` with every identity term replaced."""
    matcher = identity_matcher(terms)
    return text if matcher is None else matcher.sub(replacement, text)
