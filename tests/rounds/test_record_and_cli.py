"""The record written through the service, exported and verified; tampering with the exported
file or with the table's rows is caught; published bundles re-decide in a fresh process."""

import json
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from gauntlet.domain import ledger as chain
from gauntlet.domain.canonical import canonical_json
from gauntlet.artifacts.content_store import FileEntry, Manifest, StoredModel
from gauntlet.rounds import Ledger, publish
from gauntlet.store.repository import Store

GAUNTLET = str(Path(sys.executable).with_name("gauntlet"))

INPUTS = {
    "round": "first",
    "weights": {"benchmark": 40, "expert": 35, "user": 25},
    "eliminate_lowest": 1,
    "resources": {"B200": 1024, "H100": 1024},
    "monte_carlo": {"seed": 11, "draws": 1000},
    "teams": [
        {"team": "lg", "benchmark": {"value": 84.0, "lower": 80.0, "upper": 88.0}, "expert": 90.3, "user": 100.0,
         "independence": "independent"},
        {"team": "skt", "benchmark": {"value": 80.0, "lower": 77.5, "upper": 82.0, "samples": [78.0, 79.5, 80.0, 81.0, 82.0]},
         "expert": 85.0, "user": 90.0, "independence": "independent"},
        {"team": "naver", "benchmark": 82.0, "expert": 84.0, "user": 80.0, "independence": "derived"},
        {"team": "nc", "benchmark": {"value": 70.0, "lower": 60.0, "upper": 80.0}, "expert": 72.0, "user": 75.0,
         "independence": "independent"},
    ],
}


SPEC_PATH = Path(__file__).resolve().parents[2] / "examples" / "k-sovereign-2026.toml"
SLUG = "k-sovereign-2026"
BEFORE = datetime(2025, 12, 29, 9, 0, tzinfo=timezone.utc)  # before round one's deadline


def run(*args):
    return subprocess.run([GAUNTLET, *map(str, args)], capture_output=True, text=True)


def _stored(tag: str) -> StoredModel:
    manifest = Manifest((FileEntry("model.safetensors", 10, tag * 64),))
    return StoredModel(manifest.sha256, Path("/nowhere"), manifest)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A round's whole life written through the service into a SQLite store — submissions,
    lock, decision, publication, an upheld appeal and the re-decision — and the record
    exported by `gauntlet ledger export`: (database file, exported file)."""
    from gauntlet import spec as spec_module
    from gauntlet.rounds import service

    folder = tmp_path_factory.mktemp("recorded")
    db = folder / "g.sqlite"
    text = SPEC_PATH.read_text(encoding="utf-8")
    spec = spec_module.loads(text)
    store = Store(f"sqlite:///{db}")
    service.register(store, spec, text, BEFORE - timedelta(days=30))
    for i, team in enumerate(t["team"] for t in INPUTS["teams"]):
        service.submit(store, spec, team, "first", _stored("abcd"[i]), None, BEFORE + timedelta(minutes=i))
    service.lock(store, spec, "first", BEFORE + timedelta(days=2))
    service.decide(store, spec, "first", INPUTS, BEFORE + timedelta(days=3))
    service.publish(store, spec, "first", BEFORE + timedelta(days=4))
    appeal = service.appeal(store, spec, "naver", "first", "our audit verdict is wrong", BEFORE + timedelta(days=5))
    service.answer(store, spec, appeal, True, "the panel finds naver independent", BEFORE + timedelta(days=6))
    service.redecide(store, spec, "first", appeal, {"naver": {"independence": "independent"}},
                     BEFORE + timedelta(days=7))
    store.sessions.kw["bind"].dispose()
    exported = folder / "ledger.jsonl"
    result = run("ledger", "export", "--db", f"sqlite:///{db}", "-o", exported)
    assert result.returncode == 0, result.stderr
    return db, exported


@pytest.fixture
def ledger(recorded, tmp_path):
    """The exported record, a copy of its own for each test to tamper with."""
    path = tmp_path / "ledger.jsonl"
    shutil.copy(recorded[1], path)
    return Ledger(path)


@pytest.fixture
def database(recorded, tmp_path):
    """A copy of the store the record was written to: its URL."""
    shutil.copy(recorded[0], tmp_path / "g.sqlite")
    return f"sqlite:///{tmp_path / 'g.sqlite'}"


def lines(store):
    return store.path.read_text().splitlines()


def write_lines(store, rows):
    store.path.write_text("\n".join(rows) + "\n")


def kinds(ledger) -> list[str]:
    return [r["kind"] for r in ledger.records()]


def test_the_exported_record_verifies_and_holds_every_event(ledger, database):
    assert kinds(ledger) == ["spec", *["submission"] * 4, "lock", "decision", "publication", "appeal",
                             "appeal-answer", "re-decision"]
    records = ledger.records()
    assert [r["seq"] for r in records] == list(range(11)) and ledger.head == records[-1]["hash"]
    assert records[0]["spec_hash"] and records[6]["code_version"].startswith("gauntlet ")
    decision, answer, redecision = records[6], records[9], records[10]
    assert redecision["references"] == [decision["hash"], answer["hash"]], "it names what it replaces and why"
    assert "naver" in redecision["outputs"]["advancing"] and "naver" not in decision["outputs"]["advancing"]
    assert ledger.path.read_text() == Store(database).export_ledger(SLUG), "the file is the table, row for row"
    report = ledger.verify(ledger.head)
    assert report.intact and report.redecided == 2
    result = run("ledger", "verify", ledger.path, "--head", ledger.head)
    assert result.returncode == 0 and "intact: 11 record(s)" in result.stdout
    direct = run("ledger", "verify", "--db", database, "--head", ledger.head)
    assert direct.returncode == 0 and "intact: 11 record(s)" in direct.stdout


# Each tampering is done twice: to the exported file, and to the table's rows in the database.

def tamper_changed(rows: list[str]) -> list[str]:
    changed = rows[6].replace('"advancing":["lg","skt"]', '"advancing":["lg","nc"]')
    assert changed != rows[6]
    return [*rows[:6], changed, *rows[7:]]


def tamper_removed(rows: list[str]) -> list[str]:
    return [*rows[:7], *rows[8:]]


def tamper_reordered(rows: list[str]) -> list[str]:
    return [*rows[:7], rows[8], rows[7], *rows[9:]]


def tamper_forged_append(rows: list[str]) -> list[str]:
    last = json.loads(rows[-1])
    forged = chain.seal(last, kind="decision", code_version=last["code_version"], inputs=last["inputs"],
                        outputs={**last["outputs"], "advancing": ["nc"]}, round_id="first",
                        recorded_at=last["recorded_at"])
    return [*rows, canonical_json(forged)]  # sealed and linked, but not what the inputs decide


def tamper_not_json(rows: list[str]) -> list[str]:
    return [*rows[:3], rows[3][:40], *rows[4:]]


TAMPERING = [
    (tamper_changed, "changed", "record 6 (line 7) was changed"),
    (tamper_removed, "removed", "record 7 missing"),
    (tamper_reordered, "reordered", "record 7 (line 9) comes after record 8"),
    (tamper_forged_append, "outputs_mismatch", "record 11 (line 12): its outputs are not what its inputs decide"),
    (tamper_not_json, "malformed", "line 4: the record is not a JSON object"),
]


@pytest.mark.parametrize(("tamper", "kind", "words"), TAMPERING)
def test_each_kind_of_tampering_with_the_exported_file_is_detected_and_named(ledger, tamper, kind, words):
    write_lines(ledger, tamper(lines(ledger)))
    report = ledger.verify()
    assert not report.intact and kind in {p.kind for p in report.problems}
    assert any(words in p.message for p in report.problems), [p.message for p in report.problems]
    result = run("ledger", "verify", ledger.path, "--json")
    assert result.returncode == 1 and kind in {p["kind"] for p in json.loads(result.stdout)["problems"]}


def _rewrite_table(url: str, rows: list[str]) -> None:
    """Put `rows` into the record table in place of what the service wrote, row for row
    (as someone with write access to the database file could)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("delete from ledger_records"))
        for position, body in enumerate(rows):
            conn.execute(text("insert into ledger_records (challenge_id, seq, kind, round_key, record_hash, body) "
                              "values (1, :seq, 'x', null, :hash, :body)"),
                         {"seq": position, "hash": f"{position:064d}", "body": body})
    engine.dispose()


@pytest.mark.parametrize(("tamper", "kind", "words"), TAMPERING)
def test_each_kind_of_tampering_with_the_table_is_caught_by_verify_db_and_stops_appends(
        ledger, database, tamper, kind, words):
    _rewrite_table(database, tamper(lines(ledger)))
    result = run("ledger", "verify", "--db", database, "--json")
    report = json.loads(result.stdout)
    assert result.returncode == 1 and not report["intact"] and kind in {p["kind"] for p in report["problems"]}
    assert any(words in p["message"] for p in report["problems"]), report["problems"]
    if kind == "outputs_mismatch":
        return  # the chain itself is whole; only re-deciding shows the forgery
    refused = run("challenge", "lock", SPEC_PATH, "--round", "second", "--now", "2026-07-01T09:00:00+00:00",
                  "--db", database, "--store", Path(database.removeprefix("sqlite:///")).parent / "ws")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr
    assert refused.stderr.startswith("error: the record of 'k-sovereign-2026' is damaged")
    assert refused.stderr.count("\n") == 1
    assert Store(database).export_ledger(SLUG) == "".join(row + "\n" for row in tamper(lines(ledger))), \
        "nothing was appended"


def test_a_published_bundle_re_decides_byte_identically_in_a_fresh_process(ledger, tmp_path):
    bundle_path = tmp_path / "bundle.json"
    bundle = publish(ledger, bundle_path)
    assert bundle["chain_head"] == ledger.head and bundle["record"]["kind"] == "re-decision"

    replayed = run("round", "replay", bundle_path, "--ledger", ledger.path)
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "byte-identical" in replayed.stdout and "record: intact" in replayed.stdout

    decided = run("round", "decide", bundle_path, "--json")
    assert decided.returncode == 0
    assert decided.stdout.encode() == (canonical_json(bundle["outputs"]) + "\n").encode()

    bundle["outputs"]["advancing"] = ["nc"]
    bundle_path.write_text(json.dumps(bundle))
    altered = run("round", "replay", bundle_path)
    assert altered.returncode == 1 and "ALTERED" in altered.stdout and "DIFFERENT" in altered.stdout


def test_invalid_input_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "bad.json"
    doc = json.loads(json.dumps(INPUTS))
    doc["teams"][1]["benchmark"]["samples"][2] = "high"
    bad.write_text(json.dumps(doc))
    result = run("round", "decide", bad)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr == f"error: {bad}: teams[1].benchmark.samples[2]: expected a number, got a string ('high')\n"
    bad.write_text("{not json")
    result = run("round", "decide", bad, "--json")
    assert result.returncode == 2 and result.stderr.startswith(f"error: {bad}: invalid JSON at line 1") and result.stdout == ""


def test_what_if_cli_lists_changed_outcomes(tmp_path):
    path = tmp_path / "inputs.json"
    path.write_text(json.dumps(INPUTS))
    result = run("round", "what-if", path, "--weights", "benchmark=50,expert=30,user=20", "--eliminate-lowest", "2", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["scenario"]["weights"] == {"benchmark": 50.0, "expert": 30.0, "user": 20.0}
    assert {row["team"]: row["outcome"] for row in report["changes"] if row["outcome_changed"]} == {
        "skt": ["advancing", "out (performance)"]
    }
    bad = run("round", "what-if", path, "--weights", "benchmark:50")
    assert bad.returncode == 2 and bad.stderr == "error: --weights: expected NAME=NUMBER[,NAME=NUMBER...], got 'benchmark:50'\n"
