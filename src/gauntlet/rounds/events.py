"""The events of a challenge's life, and their JSON form in the journal.

Every event carries the instant it happened (`at`, an aware date-time) as
data: nothing in the state machine reads a clock, so replaying the journal
always rebuilds the same state.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any, Union

from gauntlet.domain.validation import InvalidDocument, Node


@dataclass(frozen=True)
class TeamJoined:
    """An entrant declared in the spec joins at its round, with its allotment."""

    team: str
    round_id: str
    at: dt.datetime
    kind = "team_joined"


@dataclass(frozen=True)
class SubmissionMade:
    """A team's artifact for a round (by content hash). A later one before the
    deadline replaces it; after the deadline nothing does."""

    team: str
    round_id: str
    artifact: str
    at: dt.datetime
    kind = "submission_made"


@dataclass(frozen=True)
class SubmissionsLocked:
    round_id: str
    at: dt.datetime
    kind = "submissions_locked"


@dataclass(frozen=True)
class RoundDecided:
    round_id: str
    inputs: dict
    outputs: dict
    record: str  # ledger record hash
    at: dt.datetime
    kind = "round_decided"


@dataclass(frozen=True)
class AppealFiled:
    appeal_id: str
    round_id: str
    team: str
    grounds: str
    at: dt.datetime
    record: str = ""
    kind = "appeal_filed"


@dataclass(frozen=True)
class AppealAnswered:
    appeal_id: str
    upheld: bool
    answer: str
    at: dt.datetime
    record: str = ""
    kind = "appeal_answered"


@dataclass(frozen=True)
class RoundRedecided:
    """A new decision after an upheld appeal; the original stays on record."""

    round_id: str
    appeal_id: str
    inputs: dict
    outputs: dict
    record: str
    at: dt.datetime
    kind = "round_redecided"


Event = Union[TeamJoined, SubmissionMade, SubmissionsLocked, RoundDecided, AppealFiled, AppealAnswered, RoundRedecided]
EVENT_TYPES: dict[str, type] = {
    cls.kind: cls
    for cls in (TeamJoined, SubmissionMade, SubmissionsLocked, RoundDecided, AppealFiled, AppealAnswered, RoundRedecided)
}


def event_to_document(event: Event) -> dict:
    doc: dict[str, Any] = {"kind": event.kind}
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        doc[f.name] = value.isoformat() if isinstance(value, dt.datetime) else value
    return doc


def event_from_document(document: Any, path: str = "") -> Event:
    """Read one journal entry; `InvalidDocument` names the bad key."""
    node = Node(document, path)
    if not isinstance(document, dict):
        raise node.fail("expected an event object")
    kind = node.table()["kind"].string(choices=sorted(EVENT_TYPES)) if "kind" in document else None
    if kind is None:
        raise node.fail("missing required key 'kind'")
    cls = EVENT_TYPES[kind]
    fields = {f.name: f for f in dataclasses.fields(cls)}
    required = [n for n, f in fields.items() if f.default is dataclasses.MISSING]
    entries = node.table(allowed=("kind", *fields), required=required)
    values: dict[str, Any] = {}
    for name, child in entries.items():
        if name == "kind":
            continue
        if name == "at":
            values[name] = child.aware_datetime()
        elif name in ("inputs", "outputs"):
            child.table()
            values[name] = child.value
        elif name == "upheld":
            values[name] = child.boolean()
        else:
            values[name] = child.string(nonempty=name not in ("record", "answer", "grounds"))
    return cls(**values)


__all__ = [
    "AppealAnswered", "AppealFiled", "Event", "EVENT_TYPES", "InvalidDocument", "RoundDecided", "RoundRedecided",
    "SubmissionMade", "SubmissionsLocked", "TeamJoined", "event_from_document", "event_to_document",
]
