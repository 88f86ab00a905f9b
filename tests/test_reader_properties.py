"""Properties of the bounded readers, checked on generated inputs (hypothesis, fixed
example counts, no database of examples): each reader either returns what its
input says or refuses it with its own one-line error, and never anything else."""

from __future__ import annotations

import json
import math
import struct
import tempfile
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from gauntlet import spec
from gauntlet.artifacts.safetensors_io import DTYPE_SIZES, read_header, read_tensor
from gauntlet.errors import InputError, SpecError, UnsafeArtifactError
from gauntlet.ratings.votes import read_votes
from gauntlet.rounds.decisions import decide

SETTINGS = settings(max_examples=60, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])
TMP = Path(tempfile.mkdtemp(prefix="gauntlet-properties-"))


def _file(name: str, data: bytes) -> Path:
    path = TMP / name
    path.write_bytes(data)
    return path


def _one_line(exc: Exception) -> bool:
    return "\n" not in str(exc) and 0 < len(str(exc)) < 2000


# ----------------------------------------------------------------------------- safetensors headers

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20)
entries = st.fixed_dictionaries({
    "dtype": st.sampled_from(sorted(DTYPE_SIZES)) | st.text(max_size=4),
    "shape": st.lists(st.integers(-2, 6), max_size=3) | json_values,
    "data_offsets": st.lists(st.integers(-4, 400), min_size=0, max_size=3) | json_values,
})


@SETTINGS
@given(st.dictionaries(st.text(min_size=1, max_size=8), entries | json_values, max_size=5),
       st.integers(0, 400), st.integers(-16, 16))
def test_a_safetensors_header_is_read_only_when_every_tensor_fits_the_file(header, data_len, length_skew):
    text = json.dumps(header).encode()
    data = struct.pack("<Q", max(0, len(text) + length_skew)) + text + bytes(data_len)
    path = _file("h.safetensors", data)
    try:
        parsed = read_header(path)
    except UnsafeArtifactError as exc:
        assert _one_line(exc)
        return
    spans = sorted((t.begin, t.end) for t in parsed.tensors.values())
    for (begin, end), info in zip(spans, sorted(parsed.tensors.values(), key=lambda t: (t.begin, t.end))):
        assert parsed.data_start <= begin <= end <= parsed.file_size
        assert end - begin == math.prod(info.shape) * DTYPE_SIZES[info.dtype]
        if info.is_float and info.numel:
            assert read_tensor(parsed, info.name).size == info.numel  # what was validated is readable
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))  # no overlaps


@SETTINGS
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash_the_safetensors_reader(blob):
    try:
        read_header(_file("b.safetensors", blob))
    except UnsafeArtifactError as exc:
        assert _one_line(exc)


# ----------------------------------------------------------------------------- challenge specs

toml_scalars = st.integers(-(2**80), 2**80) | st.floats() | st.text(max_size=10) | st.booleans()
toml_keys = st.sampled_from(["id", "name", "organiser", "weights", "benchmark", "teams", "rounds", "country",
                             "submissions", "max_bytes", "max_files", "x"])


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return str(value)


@SETTINGS
@given(st.dictionaries(st.sampled_from(["challenge", "scoring", "teams", "rounds", "submissions", "arena"]),
                       st.dictionaries(toml_keys, toml_scalars | st.lists(toml_scalars, max_size=3), max_size=5),
                       max_size=6))
def test_any_toml_document_is_a_spec_or_one_spec_error(document):
    text = "\n".join(f"[{section}]\n" + "\n".join(f"{k} = {_toml_value(v)}" for k, v in body.items())
                     for section, body in document.items())
    try:
        spec.loads(text, source="spec generated.toml")
    except SpecError as exc:
        assert _one_line(exc) and str(exc).startswith("spec generated.toml: ")


@SETTINGS
@given(st.text(max_size=200))
def test_any_text_is_a_spec_or_one_spec_error(text):
    try:
        spec.loads(text)
    except SpecError as exc:
        assert _one_line(exc)


# ----------------------------------------------------------------------------- vote files

models = st.sampled_from(["m0", "m1", "m2", "m3"])
winners = st.sampled_from(["model_a", "model_b", "tie", "tie (bothbad)"])


@SETTINGS
@given(st.lists(st.tuples(models, models, winners), min_size=1, max_size=40),
       st.sampled_from(["csv", "jsonl", "json"]))
def test_valid_votes_are_counted_exactly_whatever_the_format(votes, fmt):
    votes = [v for v in votes if v[0] != v[1]]
    if not votes:
        return
    if fmt == "csv":
        data = "model_a,model_b,winner\n" + "".join(f"{a},{b},{w}\n" for a, b, w in votes)
    else:
        rows = [{"model_a": a, "model_b": b, "winner": w} for a, b, w in votes]
        data = json.dumps(rows) if fmt == "json" else "".join(json.dumps(r) + "\n" for r in rows)
    parsed = read_votes(_file(f"votes.{fmt}", data.encode()))
    assert parsed.n_votes == len(votes)
    per_model = Counter(m for a, b, _ in votes for m in (a, b))
    appearances = Counter()
    for a, b, w in zip(parsed.model_a, parsed.model_b, parsed.weight):
        appearances[parsed.models[a]] += w
        appearances[parsed.models[b]] += w
    assert {m: round(c) for m, c in appearances.items()} == dict(per_model)


@SETTINGS
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_arbitrary_bytes_are_votes_or_one_input_error(blob):
    for suffix in ("csv", "jsonl"):
        try:
            read_votes(_file(f"any.{suffix}", blob))
        except InputError as exc:
            assert _one_line(exc)


# ----------------------------------------------------------------------------- decision inputs

GOOD = {
    "weights": {"benchmark": 40, "expert": 35, "user": 25}, "eliminate_lowest": 1,
    "resources": {"H100": 64},
    "teams": [{"team": t, "benchmark": b, "expert": e, "user": u, "independence": "independent"}
              for t, b, e, u in (("a", 80.0, 70.0, 60.0), ("b", 75.0, 72.0, 66.0), ("c", 60.0, 61.0, 90.0))],
}
mutations = st.lists(st.tuples(st.sampled_from(["weights", "eliminate_lowest", "resources", "teams", "team0",
                                                "benchmark0", "independence0", "extra"]), json_values),
                     max_size=3)


def _mutate(doc: dict, changes) -> dict:
    doc = json.loads(json.dumps(doc))
    for where, value in changes:
        if where.endswith("0"):
            if isinstance(doc.get("teams"), list) and doc["teams"] and isinstance(doc["teams"][0], dict):
                doc["teams"][0][where[:-1]] = value
        else:
            doc[where] = value
    return doc


@SETTINGS
@given(mutations)
def test_decision_inputs_decide_deterministically_or_give_one_input_error(changes):
    doc = _mutate(GOOD, changes)
    try:
        first = decide(doc)
    except InputError as exc:
        assert _one_line(exc)
        return
    assert json.dumps(first, sort_keys=True) == json.dumps(decide(json.loads(json.dumps(doc))), sort_keys=True)
    ranked = [r["team"] for r in first["ranking"]]
    assert sorted(ranked) == sorted({t["team"] for t in doc["teams"]})


@SETTINGS
@given(st.floats(0, 100), st.floats(0, 100), st.floats(0, 100))
def test_a_decision_ranks_by_the_weighted_total(b, e, u):
    doc = _mutate(GOOD, [("benchmark0", b), ("expert0", e)])
    doc["teams"][0]["user"] = u
    totals = {t["team"]: 0.40 * t["benchmark"] + 0.35 * t["expert"] + 0.25 * t["user"] for t in doc["teams"]}
    ranking = decide(doc)["ranking"]
    ordered = [totals[r["team"]] for r in ranking]
    assert all(x >= y - 1e-6 for x, y in zip(ordered, ordered[1:]))


# ----------------------------------------------------------------------------- the JSON reader itself

def _depth(value) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


tricky_text = st.text(alphabet=st.sampled_from(list('ab"\\[]{}\n\u00e9\u4e00')), max_size=12)
documents = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**20), 10**20) | st.floats(allow_nan=False, allow_infinity=False)
    | tricky_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(tricky_text, inner, max_size=4), max_leaves=30)


@SETTINGS
@given(documents, st.booleans())
def test_the_bounded_json_reader_reads_every_document_within_bounds_as_json_does(document, ascii_only):
    from gauntlet.files import json_depth, parse_json

    text = json.dumps(document, ensure_ascii=ascii_only)
    assert json_depth(text.encode()) == _depth(document)  # brackets inside strings never count
    assert parse_json(text, what="doc") == json.loads(text)
