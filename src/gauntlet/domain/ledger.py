"""Hash-chained records of a challenge (pure: the table lives in `store/records.py`).

A record is a JSON object:

    {"seq": 0, 1, 2, ...              position in the chain
     "kind": "spec" | "decision" | "re-decision" | "publication" | "appeal" | ...,
     "round": str | null, "recorded_at": str | null,
     "inputs": {...} | null, "outputs": {...} | null,
     "spec_hash": str | null, "code_version": str,
     "references": [hash, ...],        # earlier records this one answers or corrects
     "note": str,
     "prev_hash": <hash of record seq-1, or 64 zeros for the first>,
     "hash": sha256 of the canonical JSON of every other field}

What verification detects, and says which record: a changed record (its
content no longer matches its hash); a removed one (a gap in `seq`); reordered
records; a record that does not link to its predecessor (altered and
re-sealed, or forged); references to records that do not come before it; and,
given the published chain head, a ledger rewritten wholesale or cut short
(the head is no longer in it). A forger who appends a record that is sealed
and linked correctly cannot be told from an honest writer by the chain alone:
the file store therefore also re-decides each decision record's inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from gauntlet.domain.canonical import sha256_hex

GENESIS_HASH = "0" * 64
RECORD_FIELDS = (
    "seq", "kind", "round", "recorded_at", "inputs", "outputs", "spec_hash",
    "code_version", "references", "note", "prev_hash", "hash",
)


@dataclass(frozen=True)
class ChainProblem:
    line: int  # 1-based position in the ledger
    seq: int | None
    kind: str  # malformed | changed | removed | reordered | duplicate | unlinked | unknown_reference | head_missing
    message: str


def record_hash(record: dict) -> str:
    return sha256_hex({k: v for k, v in record.items() if k != "hash"})


def seal(
    previous: dict | None,
    *,
    kind: str,
    code_version: str,
    inputs: Any = None,
    outputs: Any = None,
    round_id: str | None = None,
    spec_hash: str | None = None,
    references: Sequence[str] = (),
    note: str = "",
    recorded_at: str | None = None,
) -> dict:
    """The next record after `previous` (None for the first), sealed."""
    record = {
        "seq": 0 if previous is None else previous["seq"] + 1,
        "kind": kind,
        "round": round_id,
        "recorded_at": recorded_at,
        "inputs": inputs,
        "outputs": outputs,
        "spec_hash": spec_hash,
        "code_version": code_version,
        "references": list(references),
        "note": note,
        "prev_hash": GENESIS_HASH if previous is None else previous["hash"],
    }
    record["hash"] = record_hash(record)
    return record


def chain_head(records: Sequence[dict]) -> str:
    return records[-1]["hash"] if records else GENESIS_HASH


def _malformed(record: Any) -> str | None:
    if not isinstance(record, dict):
        return "is not a JSON object"
    missing = [f for f in RECORD_FIELDS if f not in record]
    if missing:
        return f"lacks {', '.join(missing)}"
    extra = sorted(set(record) - set(RECORD_FIELDS))
    if extra:
        return f"has unexpected field(s) {', '.join(extra)}"
    if isinstance(record["seq"], bool) or not isinstance(record["seq"], int) or record["seq"] < 0:
        return "has no valid seq"
    if not all(isinstance(record[f], str) for f in ("hash", "prev_hash", "kind")):
        return "has a non-string hash, prev_hash or kind"
    if not isinstance(record["references"], list):
        return "has references that are not a list"
    return None


def verify_chain(records: Sequence[Any], published_head: str | None = None) -> list[ChainProblem]:
    """Every problem found, in ledger order; an empty list means intact."""
    problems: list[ChainProblem] = []
    good: list[tuple[int, dict]] = []
    for line, record in enumerate(records, start=1):
        why = _malformed(record)
        if why:
            problems.append(ChainProblem(line, None, "malformed", f"line {line}: the record {why}"))
        else:
            good.append((line, record))

    by_seq: dict[int, dict] = {}
    seen_hashes: set[str] = set()
    highest = -1
    for line, record in good:
        seq = record["seq"]
        name = f"record {seq} (line {line})"
        if record_hash(record) != record["hash"]:
            problems.append(ChainProblem(line, seq, "changed", f"{name} was changed: its content does not match its hash"))
        if seq in by_seq:
            problems.append(ChainProblem(line, seq, "duplicate", f"{name} repeats seq {seq}: a record was duplicated or forged"))
        elif seq < highest:
            problems.append(
                ChainProblem(line, seq, "reordered", f"{name} comes after record {highest}: records were reordered")
            )
        for ref in record["references"]:
            if ref not in seen_hashes:
                problems.append(
                    ChainProblem(line, seq, "unknown_reference", f"{name} references {str(ref)[:12]}, which is not an earlier record")
                )
        by_seq.setdefault(seq, record)
        seen_hashes.add(record["hash"])
        highest = max(highest, seq)

    for seq, gap_end in _gaps(sorted(by_seq)):
        span = f"record {seq}" if seq == gap_end else f"records {seq} to {gap_end}"
        problems.append(ChainProblem(0, seq, "removed", f"{span} missing: removed from the ledger"))

    for line, record in good:
        seq = record["seq"]
        if by_seq.get(seq) is not record:
            continue
        expected = GENESIS_HASH if seq == 0 else by_seq[seq - 1]["hash"] if seq - 1 in by_seq else None
        if expected is not None and record["prev_hash"] != expected:
            before = "the start of the chain" if seq == 0 else f"record {seq - 1}"
            problems.append(
                ChainProblem(
                    line, seq, "unlinked",
                    f"record {seq} (line {line}) does not link to {before}: one of them was altered and re-sealed, or forged",
                )
            )

    if published_head is not None and published_head not in {r["hash"] for _, r in good}:
        problems.append(
            ChainProblem(
                0, None, "head_missing",
                f"the published head {published_head[:12]} is not in the ledger: records were cut off the end or history was rewritten",
            )
        )
    problems.sort(key=lambda p: (p.line == 0, p.line, p.seq if p.seq is not None else -1))
    return problems


def _gaps(seqs: list[int]) -> list[tuple[int, int]]:
    gaps, expected = [], 0
    for seq in seqs:
        if seq > expected:
            gaps.append((expected, seq - 1))
        expected = seq + 1
    return gaps
