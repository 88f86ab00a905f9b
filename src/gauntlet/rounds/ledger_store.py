"""The decision ledger on disk: an append-only JSON Lines file.

One sealed record per line (see `gauntlet.domain.ledger`). Appends take an
exclusive lock, check that the chain is intact, and fsync, so a crash never
leaves half a record and two writers never fork the chain. Nothing here edits
or deletes a line: corrections are new records that reference old ones.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from gauntlet.domain import ledger as chain
from gauntlet.domain.canonical import canonical_bytes, canonical_json
from gauntlet.domain.decision import decide as pure_decide
from gauntlet.domain.validation import InvalidDocument
from gauntlet.errors import InputError, LedgerError
from gauntlet.files import parse_json
from gauntlet.rounds.decisions import code_version, decide

DECISION_KINDS = ("decision", "re-decision", "correction")


@dataclass
class LedgerReport:
    """What `verify` found. `problems` empty means the ledger is intact."""

    records: int
    head: str
    problems: list[chain.ChainProblem] = field(default_factory=list)
    redecided: int = 0
    other_code_version: int = 0
    # Whether a published head was checked: without one, records cut off the end (or the
    # whole file emptied) leave a chain that is consistent, so completeness is unproven.
    head_checked: bool = False

    @property
    def intact(self) -> bool:
        return not self.problems


class Ledger:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    # -- reading ----------------------------------------------------------
    def _lines(self) -> list[Any]:
        """Each line parsed, or a marker string for a line that is not JSON."""
        if not self.path.exists():
            return []
        if self.path.is_dir():
            raise InputError(f"{self.path}: is a directory, expected a ledger file")
        out: list[Any] = []
        with self.path.open("r", encoding="utf-8", errors="replace") as fh:
            for text in fh:
                if not text.strip():
                    continue
                try:
                    out.append(parse_json(text, what="ledger line"))
                except InputError:
                    out.append("<not JSON>")
        return out

    def records(self) -> list[dict]:
        """All records; refuses a ledger whose chain is broken."""
        lines = self._lines()
        problems = chain.verify_chain(lines)
        if problems:
            raise LedgerError(f"{self.path}: {problems[0].message} (run `gauntlet ledger verify {self.path}`)")
        return lines

    @property
    def head(self) -> str:
        """The hash of the last record (64 zeros for an empty ledger)."""
        return chain.chain_head(self.records())

    def find(self, ref: str) -> dict:
        """A record by seq (\"3\") or by hash or hash prefix (at least 8 characters)."""
        records = self.records()
        if ref.isdigit():
            for record in records:
                if record["seq"] == int(ref):
                    return record
        elif len(ref) >= 8:
            matches = [r for r in records if r["hash"].startswith(ref)]
            if len(matches) == 1:
                return matches[0]
        raise InputError(f"{self.path}: no record {ref!r} (give a seq number or at least 8 hex digits of a hash)")

    def contains(self, record_hash: object) -> bool:
        """Whether a record with this hash is on some line (intact or not)."""
        return any(isinstance(r, dict) and r.get("hash") == record_hash for r in self._lines())

    # -- writing ----------------------------------------------------------
    def append(
        self,
        *,
        kind: str,
        inputs: Any = None,
        outputs: Any = None,
        round_id: str | None = None,
        spec_hash: str | None = None,
        references: Sequence[str] = (),
        note: str = "",
        recorded_at: str | None = None,
        code: str | None = None,
    ) -> dict:
        """Seal and append one record; returns it (its `hash` is the new head)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                records = self.records()
                known = {r["hash"] for r in records}
                for ref in references:
                    if ref not in known:
                        raise LedgerError(f"{self.path}: cannot reference {ref[:12]}: no such record")
                record = chain.seal(
                    records[-1] if records else None,
                    kind=kind,
                    code_version=code or code_version(),
                    inputs=inputs,
                    outputs=outputs,
                    round_id=round_id,
                    spec_hash=spec_hash,
                    references=references,
                    note=note,
                    recorded_at=recorded_at,
                )
                fh.seek(0, os.SEEK_END)
                fh.write(canonical_json(record) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return record

    def append_decision(
        self,
        inputs: dict,
        *,
        round_id: str | None = None,
        spec_hash: str | None = None,
        kind: str = "decision",
        references: Sequence[str] = (),
        note: str = "",
        recorded_at: str | None = None,
    ) -> dict:
        """Decide `inputs` and record inputs and outputs together."""
        if kind not in DECISION_KINDS:
            raise InputError(f"kind must be one of {', '.join(DECISION_KINDS)}, got {kind!r}")
        outputs = decide(inputs)
        return self.append(
            kind=kind, inputs=inputs, outputs=outputs, round_id=round_id, spec_hash=spec_hash,
            references=references, note=note, recorded_at=recorded_at,
        )

    # -- checking ---------------------------------------------------------
    def verify(self, published_head: str | None = None, *, redecide: bool = True) -> LedgerReport:
        """Check the chain and (for records made by this code version) that each
        decision's outputs still follow from its inputs."""
        if not self.path.exists():
            raise InputError(f"{self.path}: no such file")
        if published_head is not None:
            published_head = published_head.strip().lower()
            if len(published_head) != 64 or any(c not in "0123456789abcdef" for c in published_head):
                raise InputError(f"--head must be the 64-character hex SHA-256 the organisers published, "
                                 f"got {published_head[:80]!r}")
        lines = self._lines()
        problems = chain.verify_chain(lines, published_head)
        last = lines[-1] if lines else None
        head = chain.GENESIS_HASH if last is None else str(last.get("hash", "?")) if isinstance(last, dict) else "?"
        report = LedgerReport(records=len(lines), head=head, problems=problems,
                              head_checked=published_head is not None)
        if not redecide:
            return report
        current = code_version()
        for line, record in enumerate(lines, start=1):
            if not (isinstance(record, dict) and record.get("kind") in DECISION_KINDS and record.get("inputs") is not None):
                continue
            if record.get("code_version") != current:
                report.other_code_version += 1
                continue
            report.redecided += 1
            try:
                again = canonical_bytes(pure_decide(record["inputs"]))
            except InvalidDocument as exc:
                report.problems.append(
                    chain.ChainProblem(
                        line, record.get("seq"), "invalid_inputs",
                        f"record {record.get('seq')} (line {line}): its inputs are not a valid decision document ({exc})",
                    )
                )
                continue
            if again != canonical_bytes(record.get("outputs")):
                report.problems.append(
                    chain.ChainProblem(
                        line, record.get("seq"), "outputs_mismatch",
                        f"record {record.get('seq')} (line {line}): its outputs are not what its inputs decide",
                    )
                )
        report.problems.sort(key=lambda p: (p.line == 0, p.line))
        return report
