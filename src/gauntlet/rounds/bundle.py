"""Published decision bundles: everything needed to re-decide a round.

    {"format": "gauntlet-decision-bundle/1",
     "inputs": {...}, "outputs": {...},      # the decision, as recorded
     "record": {every other field of the ledger record, incl. seq, prev_hash, hash},
     "chain_head": <ledger head when published>}

Anyone can run `gauntlet round decide BUNDLE --json` (or `gauntlet round
replay BUNDLE`) and compare bytes with the published outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gauntlet.domain import ledger as chain
from gauntlet.domain.canonical import canonical_bytes, canonical_json
from gauntlet.domain.validation import Node
from gauntlet.domain.validation import InvalidDocument
from gauntlet.errors import InputError
from gauntlet.rounds.decisions import code_version, decide, read_json
from gauntlet.rounds.ledger_file import Ledger

BUNDLE_FORMAT = "gauntlet-decision-bundle/1"


def make_bundle(record: dict, chain_head: str) -> dict:
    return {
        "format": BUNDLE_FORMAT,
        "inputs": record["inputs"],
        "outputs": record["outputs"],
        "record": {k: v for k, v in record.items() if k not in ("inputs", "outputs")},
        "chain_head": chain_head,
    }


def publish(ledger: Ledger, path: str | Path, ref: str | None = None) -> dict:
    """Write the bundle of one decision record (default: the latest decision)."""
    records = ledger.records()
    if ref is not None:
        record = ledger.find(ref)
    else:
        decisions = [r for r in records if r["inputs"] is not None and r["outputs"] is not None]
        if not decisions:
            raise InputError(f"{ledger.path}: holds no decision to publish")
        record = decisions[-1]
    bundle = make_bundle(record, chain.chain_head(records))
    Path(path).write_text(canonical_json(bundle) + "\n", encoding="utf-8")
    return bundle


def is_bundle(document: Any) -> bool:
    return isinstance(document, dict) and document.get("format") == BUNDLE_FORMAT


def read_bundle(document: Any, source: str) -> dict:
    try:
        fields = Node(document).table(allowed=("format", "inputs", "outputs", "record", "chain_head"),
                                      required=("format", "inputs", "outputs", "record", "chain_head"))
        fields["format"].string(choices=(BUNDLE_FORMAT,))
        fields["chain_head"].string()
        fields["record"].table()
    except InvalidDocument as exc:
        raise InputError(f"{source}: not a decision bundle: {exc}") from None
    return document


@dataclass(frozen=True)
class Replay:
    identical: bool
    record_intact: bool
    published: bytes
    recomputed: bytes
    recorded_code_version: str
    current_code_version: str

    @property
    def ok(self) -> bool:
        return self.identical and self.record_intact


def replay(bundle: dict, source: str = "bundle") -> Replay:
    """Re-decide a bundle's inputs here and now; compare bytes with its outputs."""
    bundle = read_bundle(bundle, source)
    record = {**bundle["record"], "inputs": bundle["inputs"], "outputs": bundle["outputs"]}
    intact = record.get("hash") == chain.record_hash(record)
    published = canonical_bytes(bundle["outputs"])
    recomputed = canonical_bytes(decide(bundle["inputs"], source=f"{source}: inputs"))
    return Replay(
        identical=published == recomputed,
        record_intact=intact,
        published=published,
        recomputed=recomputed,
        recorded_code_version=str(record.get("code_version")),
        current_code_version=code_version(),
    )


def load_bundle(path: str | Path) -> dict:
    return read_bundle(read_json(path), str(path))
