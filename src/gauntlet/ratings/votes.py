"""Pairwise votes, collapsed: the only input a Bradley-Terry fit needs.

A vote file (FastChat's columns `model_a, model_b, winner`) with a million
rows among a hundred models holds only a few tens of thousands of distinct
(model_a, model_b, outcome) rows, so everything downstream works on those
distinct rows and their counts.  Reading is the expensive part; the CSV path
therefore collapses identical *lines* before parsing any of them, which makes
it about as fast as reading the file once (see benchmarks/bench_ratings_fit.py).

Model codes follow the order in which models first appear in the `model_a`
column, then in `model_b` (pandas' `factorize` on the two columns stacked), and
rows are sorted by (model_a, model_b, outcome).  That is exactly FastChat's
layout, so a multinomial bootstrap drawn with the same seed resamples the same
categories and can be compared with FastChat's number for number.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from gauntlet.errors import InputError
from gauntlet.files import parse_json, read_bytes

REQUIRED_COLUMNS = ("model_a", "model_b", "winner")

# Outcome codes as FastChat encodes them: the score of model_a times two.
A_WINS, TIE, B_WINS = 2, 1, 0
WINNER_CODES: Mapping[str, int] = {
    "model_a": A_WINS,
    "model_b": B_WINS,
    "tie": TIE,
    "tie (bothbad)": TIE,
}

# Style covariates in FastChat's naming; per side: answer length in tokens and
# counts of markdown headers, list items and bold spans.
STYLE_FEATURES = ("sum_assistant_tokens", "header_count", "list_count", "bold_count")


def style_columns() -> tuple[str, ...]:
    """Flat column names a CSV/JSONL needs for style control (a side then b side)."""
    return tuple(f"{_side_name(f, 'a')}" for f in STYLE_FEATURES) + tuple(
        f"{_side_name(f, 'b')}" for f in STYLE_FEATURES
    )


def _side_name(feature: str, side: str) -> str:
    # FastChat spells the length feature sum_assistant_a_tokens, the others header_count_a.
    if feature == "sum_assistant_tokens":
        return f"sum_assistant_{side}_tokens"
    return f"{feature}_{side}"


@dataclass(frozen=True)
class PairwiseVotes:
    """Distinct (model_a, model_b, outcome[, style]) rows with their vote counts.

    `outcome` is model_a's score (1 win, 0.5 tie or both-bad, 0 loss).  When
    `style` is present it holds, per row, the raw per-side style counts
    (a side then b side, in `STYLE_FEATURES` order); rows are then distinct
    on those too.
    """

    models: tuple[str, ...]
    model_a: np.ndarray
    model_b: np.ndarray
    outcome_code: np.ndarray
    weight: np.ndarray
    style: np.ndarray | None = field(default=None, repr=False)

    @property
    def outcome(self) -> np.ndarray:
        return self.outcome_code / 2.0

    @property
    def n_votes(self) -> int:
        return int(round(float(self.weight.sum())))

    @property
    def n_models(self) -> int:
        return len(self.models)

    @classmethod
    def from_records(
        cls,
        model_a: Sequence[str],
        model_b: Sequence[str],
        winner: Sequence[str],
        *,
        style: np.ndarray | None = None,
    ) -> "PairwiseVotes":
        """Collapse per-vote records (FastChat winner strings) into counted rows.

        `style`, when given, is one row per vote of the raw per-side style
        counts in `style_columns()` order."""
        if not (len(model_a) == len(model_b) == len(winner)):
            raise InputError("model_a, model_b and winner must have the same length")
        records = list(zip(model_a, model_b, winner))
        if style is not None:
            style = np.asarray(style, dtype=np.float64)
            if style.shape != (len(records), 2 * len(STYLE_FEATURES)):
                raise InputError(f"style must have shape ({len(records)}, {2 * len(STYLE_FEATURES)})")
        return _from_records(records, style, "votes")


def _intern(first_a: Iterable[str], first_b: Iterable[str]) -> dict[str, int]:
    codes: dict[str, int] = {}
    for name in first_a:
        codes.setdefault(name, len(codes))
    for name in first_b:
        codes.setdefault(name, len(codes))
    return codes


def _collapse(
    items: list[tuple[tuple[str, str, str], int]],
    *,
    style: np.ndarray | None,
    line_of: "callable | None" = None,
) -> PairwiseVotes:
    """`items`: ((model_a, model_b, winner), count) in first-appearance order."""
    if not items:
        raise InputError("no votes: the file has a header but no rows")
    for index, ((a, b, w), _) in enumerate(items):
        if w in WINNER_CODES and a and b and a != b:
            continue
        where = f" (line {line_of(index)})" if line_of else ""
        if w not in WINNER_CODES:
            raise InputError(
                f"unknown winner value {w!r}{where}; expected one of {', '.join(WINNER_CODES)}"
            )
        if not a or not b:
            raise InputError(f"empty model name{where}")
        raise InputError(f"a model cannot battle itself: {a!r}{where}")
    codes = _intern((k[0] for k, _ in items), (k[1] for k, _ in items))
    n = len(codes)
    a = np.fromiter((codes[k[0]] for k, _ in items), dtype=np.int64, count=len(items))
    b = np.fromiter((codes[k[1]] for k, _ in items), dtype=np.int64, count=len(items))
    o = np.fromiter((WINNER_CODES[k[2]] for k, _ in items), dtype=np.int64, count=len(items))
    counts = np.fromiter((c for _, c in items), dtype=np.float64, count=len(items))
    key = (a * n + b) * 3 + o
    if style is None:
        unique_key, inverse = np.unique(key, return_inverse=True)
        weight = np.bincount(inverse, weights=counts, minlength=len(unique_key))
        style_rows = None
    else:
        table = np.column_stack([key.astype(np.float64), style])
        unique_rows, inverse = np.unique(table, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        weight = np.bincount(inverse, weights=counts, minlength=len(unique_rows))
        unique_key = unique_rows[:, 0].astype(np.int64)
        style_rows = unique_rows[:, 1:]
    return PairwiseVotes(
        models=tuple(codes),
        model_a=(unique_key // 3) // n,
        model_b=(unique_key // 3) % n,
        outcome_code=unique_key % 3,
        weight=weight,
        style=style_rows,
    )


# ---------------------------------------------------------------- file reading


def read_votes(path: Path | str, *, style_control: bool = False) -> PairwiseVotes:
    """Read a FastChat-format vote file: CSV, JSONL, or a JSON array of battles.

    Raises `InputError` (one line) for a missing file, missing columns, an
    unknown winner value, self-battles or an empty file.
    """
    path = Path(path)
    data = read_bytes(path, what="vote file")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
    head = data.lstrip()[:1]
    if not head:
        raise InputError(f"vote file is empty: {path}")
    try:
        if head == b"[":
            return _read_json_array(data, path, style_control)
        if head == b"{":
            return _read_jsonl(data, path, style_control)
        return _read_csv(data, path, style_control)
    except UnicodeDecodeError:
        raise InputError(f"vote file is not UTF-8 text: {path}") from None


def _check_columns(columns: Sequence[str], path: Path, style_control: bool) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(columns) or 'none'}")
    if style_control:
        missing = [c for c in style_columns() if c not in columns]
        if missing:
            raise InputError(f"{path}: --style-control needs column(s) {', '.join(missing)}")


def _read_csv(data: bytes, path: Path, style_control: bool) -> PairwiseVotes:
    newline = data.find(b"\n")
    header_bytes = data if newline < 0 else data[:newline]
    body = b"" if newline < 0 else data[newline + 1 :]
    try:
        columns = next(csv.reader([header_bytes.decode("utf-8")]), [])
    except csv.Error as exc:
        raise InputError(f"{path}: the header line is not valid CSV ({exc})") from None
    columns = [c.strip() for c in columns]
    _check_columns(columns, path, style_control)
    if style_control or b'"' in body:
        return _read_csv_general(body.decode("utf-8"), columns, path, style_control)

    # Fast path (no quoting anywhere): identical lines are identical votes, so
    # count lines first and split only the distinct ones.
    lines = body.split(b"\n")
    counts = Counter(lines)
    counts.pop(b"", None)
    ia, ib, iw = (columns.index(c) for c in REQUIRED_COLUMNS)
    width = len(columns)
    items = []
    distinct = list(counts.items())
    for line, count in distinct:
        fields = line.split(b",")
        if len(fields) != width:
            raise InputError(
                f"{path}: line {lines.index(line) + 2} has {len(fields)} fields, the header has {width}"
            )
        items.append(((fields[ia].decode(), fields[ib].decode(), fields[iw].decode()), count))
    return _collapse(items, style=None, line_of=lambda i: lines.index(distinct[i][0]) + 2)


def _read_csv_general(text: str, columns: list[str], path: Path, style_control: bool) -> PairwiseVotes:
    reader = csv.reader(io.StringIO(text))
    ia, ib, iw = (columns.index(c) for c in REQUIRED_COLUMNS)
    width = len(columns)
    records: list[tuple[str, str, str]] = []
    style_rows: list[list[float]] = []
    style_idx = [columns.index(c) for c in style_columns()] if style_control else []
    line_no = 1
    rows = iter(reader)
    while True:
        try:
            fields = next(rows)
        except StopIteration:
            break
        except csv.Error as exc:  # a lone carriage return, a NUL, an unterminated quote...
            raise InputError(f"{path}: line {line_no + 1} is not valid CSV ({exc})") from None
        line_no += 1
        if not fields:
            continue
        if len(fields) != width:
            raise InputError(f"{path}: line {line_no} has {len(fields)} fields, the header has {width}")
        records.append((fields[ia], fields[ib], fields[iw]))
        if style_control:
            try:
                row = [float(fields[i]) for i in style_idx]
                if not all(math.isfinite(v) for v in row):
                    raise ValueError
                style_rows.append(row)
            except ValueError:
                raise InputError(f"{path}: line {line_no}: style columns must be numbers") from None
    return _from_records(records, style_rows if style_control else None, path)


def _from_records(records, style_rows, source) -> PairwiseVotes:
    if not records:
        raise InputError(f"no votes: {source} has no rows")
    if style_rows is None:
        counted = Counter(records)
        first_line = {}
        for i, r in enumerate(records):
            first_line.setdefault(r, i)
        distinct = list(counted.items())
        return _collapse(distinct, style=None, line_of=lambda i: first_line[distinct[i][0]] + 2)
    items = [(r, 1) for r in records]
    return _collapse(items, style=np.asarray(style_rows, dtype=np.float64), line_of=lambda i: i + 2)


def _record_from_object(obj, where: str, style_control: bool):
    if not isinstance(obj, dict):
        raise InputError(f"{where}: each vote must be a JSON object")
    missing = [c for c in REQUIRED_COLUMNS if c not in obj]
    if missing:
        raise InputError(f"{where}: missing column(s) {', '.join(missing)}")
    values = tuple(obj[c] for c in REQUIRED_COLUMNS)
    if not all(isinstance(v, str) for v in values):
        raise InputError(f"{where}: model_a, model_b and winner must be strings")
    if not style_control:
        return values, None
    metadata = obj.get("conv_metadata") if isinstance(obj.get("conv_metadata"), dict) else obj
    row = []
    for name in style_columns():
        if name not in metadata:
            raise InputError(f"{where}: --style-control needs {name} (flat or inside conv_metadata)")
        value = metadata[name]
        # FastChat stores markdown counts per level, e.g. {"h1": 2, "h2": 0}.
        value = sum(value.values()) if isinstance(value, dict) else value
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            raise InputError(f"{where}: {name} must be a number")
        row.append(float(value))
    return values, row


def _read_jsonl(data: bytes, path: Path, style_control: bool) -> PairwiseVotes:
    lines = data.split(b"\n")
    records, style_rows = [], []
    cache: dict[bytes, tuple] = {}
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        parsed = cache.get(line) if not style_control else None
        if parsed is None:
            obj = parse_json(line, what=f"{path}: line {line_no}")
            parsed = _record_from_object(obj, f"{path}: line {line_no}", style_control)
            if not style_control:
                cache[line] = parsed
        records.append(parsed[0])
        style_rows.append(parsed[1])
    return _from_records(records, style_rows if style_control else None, path)


def _read_json_array(data: bytes, path: Path, style_control: bool) -> PairwiseVotes:
    battles = parse_json(data, what=str(path))
    records, style_rows = [], []
    for i, obj in enumerate(battles):
        values, row = _record_from_object(obj, f"{path}: battle {i}", style_control)
        records.append(values)
        style_rows.append(row)
    return _from_records(records, style_rows if style_control else None, path)
