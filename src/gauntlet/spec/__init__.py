"""Challenge specs: a TOML file validated into frozen, typed objects.

    from gauntlet import spec
    challenge = spec.load("examples/k-sovereign-2026.toml")
    challenge.scoring.weights        # {"benchmark": 40.0, "expert": 35.0, "user": 25.0}
    challenge.round("first").policy  # RoundPolicy(eliminate_lowest=1, ...)

Every problem raises `SpecError` with one line naming the key path, e.g.
``spec examples/x.toml: teams[2].country: expected a string, got an integer (42)``.
See `examples/k-sovereign-2026.toml` for every key, with comments.
"""

from __future__ import annotations

from pathlib import Path

from gauntlet.domain.validation import InvalidDocument
from gauntlet.errors import SpecError
from gauntlet.files import parse_toml, read_text
from gauntlet.spec.model import (  # noqa: F401  (re-exported)
    Arena,
    BenchmarkSuiteEntry,
    ChallengeSpec,
    Criterion,
    Dataset,
    Eligibility,
    Expert,
    ExpertPanel,
    IndependencePolicy,
    Localized,
    OriginRule,
    ReferenceModel,
    Resources,
    Round,
    RoundPolicy,
    Scoring,
    ScoringComponent,
    Submissions,
    Team,
)
from gauntlet.spec.parse import parse_document


def loads(text: str, *, source: str = "spec") -> ChallengeSpec:
    """Validate a spec given as TOML text."""
    document = parse_toml(text, what=source, error=SpecError)
    try:
        return parse_document(document)
    except InvalidDocument as exc:
        raise SpecError(f"{source}: {exc}") from None


def load(path: str | Path) -> ChallengeSpec:
    """Validate a spec file."""
    return loads(read_text(path, what="spec", error=SpecError), source=f"spec {path}")
