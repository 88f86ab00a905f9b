"""A ledger file: the JSON Lines a challenge's record is exported as, read and verified.

One sealed record per line (see `gauntlet.domain.ledger`), exactly what
`gauntlet ledger export` writes from the store's record table
(`gauntlet.store.records`), which is the only place records are appended.
Anyone can check a file here without the store: the chain, a published head,
and that every decision's outputs still follow from its inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gauntlet.domain import ledger as chain
from gauntlet.domain.canonical import canonical_bytes
from gauntlet.domain.lifecycle import DECISION_KINDS
from gauntlet.domain.decision import decide as pure_decide
from gauntlet.domain.validation import InvalidDocument
from gauntlet.errors import InputError, LedgerError
from gauntlet.files import parse_json
from gauntlet.rounds.decisions import code_version



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
