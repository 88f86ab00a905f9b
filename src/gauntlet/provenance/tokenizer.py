"""Tokenizer evidence: vocabulary overlap, tokens at the same id, merge-order agreement.

Kept apart from weight evidence on purpose: many independent models share a
public tokenizer, so a shared tokenizer is reported as what it is and never
turned into a verdict about the weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gauntlet.errors import InputError
from gauntlet.files import parse_json, read_bytes

MAX_TOKENIZER_BYTES = 256 << 20

MERGES_KEPT = 1000


@dataclass
class TokenizerSummary:
    kind: str  # BPE, WordPiece, Unigram, ...
    vocab: list[str]  # token strings ordered by id
    merges: list[str]  # first merges in priority order, "left right"

    def to_json(self) -> dict:
        return {"kind": self.kind, "vocab": self.vocab, "merges": self.merges}

    @classmethod
    def from_json(cls, doc: dict) -> "TokenizerSummary":
        return cls(str(doc.get("kind", "")), list(doc.get("vocab", [])), list(doc.get("merges", [])))


def summarise_tokenizer(path: str | Path | None) -> TokenizerSummary | None:
    """Read a Hugging Face tokenizer.json (plain JSON, no code) into a summary, or None."""
    if path is None:
        return None
    try:  # a submitted file: bounded like every other document a team hands in
        doc = parse_json(read_bytes(path, what="tokenizer", max_bytes=MAX_TOKENIZER_BYTES), what="tokenizer")
    except InputError:
        return None
    model = doc.get("model") if isinstance(doc, dict) else None
    if not isinstance(model, dict):
        return None
    raw_vocab = model.get("vocab")
    by_id: dict[int, str] = {}
    if isinstance(raw_vocab, dict):
        by_id = {int(i): str(t) for t, i in raw_vocab.items() if isinstance(i, int)}
    elif isinstance(raw_vocab, list):  # Unigram: [[piece, score], ...]
        by_id = {i: str(entry[0]) for i, entry in enumerate(raw_vocab) if isinstance(entry, list) and entry}
    for added in doc.get("added_tokens") or []:
        if isinstance(added, dict) and isinstance(added.get("id"), int):
            by_id.setdefault(added["id"], str(added.get("content", "")))
    vocab = [by_id.get(i, "") for i in range(max(by_id) + 1)] if by_id else []
    merges = []
    for merge in (model.get("merges") or [])[:MERGES_KEPT]:
        merges.append(" ".join(merge) if isinstance(merge, list) else str(merge))
    return TokenizerSummary(str(model.get("type", "")), vocab, merges)


def compare_tokenizers(a: TokenizerSummary | None, b: TokenizerSummary | None) -> dict | None:
    """Overlap numbers a reader can interpret (cf. Solar vs GLM: Jaccard 0.30, 1 token
    at the same id, 0 of the first 1,000 merges shared)."""
    if a is None or b is None:
        return None
    va, vb = set(a.vocab) - {""}, set(b.vocab) - {""}
    union = va | vb
    same_id = sum(1 for x, y in zip(a.vocab, b.vocab) if x and x == y)
    n_merges = min(len(a.merges), len(b.merges))
    shared_merges = len(set(a.merges[:n_merges]) & set(b.merges[:n_merges])) if n_merges else 0
    same_rank = sum(1 for x, y in zip(a.merges[:n_merges], b.merges[:n_merges]) if x == y)
    return {
        "vocab_sizes": [len(a.vocab), len(b.vocab)],
        "jaccard": round(len(va & vb) / len(union), 4) if union else 0.0,
        "same_id": same_id,
        "same_id_fraction": round(same_id / max(1, min(len(a.vocab), len(b.vocab))), 4),
        "merges_compared": n_merges,
        "merges_shared": shared_merges,
        "merges_same_rank": same_rank,
        "identical": a.vocab == b.vocab and a.merges == b.merges,
        "note": "Tokenizer overlap is separate evidence: independent models often share a public "
        "tokenizer, so it never makes the weights derived.",
    }
