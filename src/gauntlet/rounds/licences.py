"""Which licence does a submitted model folder carry?

The eligibility rule (an open-weight licence from the spec's list) is checked
on what the submission itself declares: the `license:` field of the model
card's YAML front matter (README.md, as on the Hugging Face hub), else the
text of a LICENSE file recognised by its standard wording. The wording table
is hand-written because the tools that identify licence texts (ScanCode and
the like) are heavy, and the few open-weight licences a challenge allows have
unmistakable headers. What is not recognised is reported as None, which fails
eligibility with the reason "no licence declared" rather than being guessed.
"""

from __future__ import annotations

import re
from pathlib import Path

CARD_NAMES = ("README.md", "MODEL_CARD.md")
LICENCE_NAMES = ("LICENSE", "LICENSE.txt", "LICENSE.md", "LICENCE", "COPYING")
MAX_BYTES = 256 * 1024

# (SPDX id, pattern over whitespace-normalised text), most specific first.
_WORDING = (
    ("cc-by-nc-4.0", r"attribution-noncommercial 4\.0 international"),
    ("cc-by-sa-4.0", r"attribution-sharealike 4\.0 international"),
    ("cc-by-4.0", r"creative commons attribution 4\.0 international"),
    ("llama3.1", r"llama 3\.1 community license"),
    ("llama3", r"meta llama 3 community license"),
    ("apache-2.0", r"apache license,? version 2\.0"),
    ("mit", r"\bmit license\b|permission is hereby granted, free of charge, to any person obtaining a copy"),
    ("bsd-3-clause", r"redistribution and use in source and binary forms.*neither the name"),
    ("gpl-3.0", r"gnu general public license version 3"),
)


def _read(path: Path) -> str | None:
    if not path.is_file() or path.is_symlink():
        return None
    with path.open("rb") as fh:
        return fh.read(MAX_BYTES).decode("utf-8", errors="replace")


def licence_from_card(text: str) -> str | None:
    """`license:` from a model card's YAML front matter (lower-cased SPDX id)."""
    match = re.match(r"\A---\s*\n(.*?)\n---\s*(\n|\Z)", text, re.S)
    if not match:
        return None
    for line in match.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in ("license", "licence"):
            value = value.strip().strip("'\"").lower()
            return value or None
    return None


def licence_from_text(text: str) -> str | None:
    normalised = " ".join(text.lower().split())
    for spdx, pattern in _WORDING:
        if re.search(pattern, normalised):
            return spdx
    return None


def detect_licence(folder: str | Path) -> str | None:
    """The folder's declared licence as a lower-case SPDX id, or None."""
    folder = Path(folder)
    for name in CARD_NAMES:
        text = _read(folder / name)
        if text is not None:
            found = licence_from_card(text)
            if found:
                return found
    for name in LICENCE_NAMES:
        text = _read(folder / name)
        if text is not None:
            found = licence_from_text(text)
            if found:
                return found
    return None
