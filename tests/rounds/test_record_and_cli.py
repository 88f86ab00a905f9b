"""The ledger on disk, published bundles re-decided in a fresh process, and the CLI."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gauntlet.domain import ledger as chain
from gauntlet.domain.canonical import canonical_json
from gauntlet.errors import LedgerError
from gauntlet.rounds import Ledger, publish

GAUNTLET = str(Path(sys.executable).with_name("gauntlet"))

INPUTS = {
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


def run(*args):
    return subprocess.run([GAUNTLET, *map(str, args)], capture_output=True, text=True)


@pytest.fixture
def ledger(tmp_path):
    store = Ledger(tmp_path / "ledger.jsonl")
    for i in range(3):
        doc = json.loads(json.dumps(INPUTS))
        doc["monte_carlo"]["seed"] = i
        store.append_decision(doc, round_id=f"r{i}", spec_hash="ab" * 32, recorded_at=f"2026-01-1{i}T10:00:00+09:00")
    return store


def lines(store):
    return store.path.read_text().splitlines()


def write_lines(store, rows):
    store.path.write_text("\n".join(rows) + "\n")


def test_an_intact_ledger_verifies_and_records_everything(ledger):
    records = ledger.records()
    assert [r["seq"] for r in records] == [0, 1, 2] and ledger.head == records[-1]["hash"]
    assert records[0]["spec_hash"] == "ab" * 32 and records[0]["code_version"].startswith("gauntlet ")
    report = ledger.verify(ledger.head)
    assert report.intact and report.redecided == 3
    result = run("ledger", "verify", ledger.path, "--head", ledger.head)
    assert result.returncode == 0 and "intact: 3 record(s)" in result.stdout


def tamper_changed(store):
    rows = lines(store)
    rows[1] = rows[1].replace('"advancing":["lg","skt"]', '"advancing":["lg","nc"]')
    write_lines(store, rows)


def tamper_removed(store):
    rows = lines(store)
    del rows[1]
    write_lines(store, rows)


def tamper_reordered(store):
    rows = lines(store)
    rows[1], rows[2] = rows[2], rows[1]
    write_lines(store, rows)


def tamper_forged_append(store):
    rows = lines(store)
    forged = json.loads(rows[-1])
    forged["outputs"]["advancing"] = ["nc"]
    forged = chain.seal(json.loads(rows[-1]), kind="decision", code_version=forged["code_version"],
                        inputs=forged["inputs"], outputs=forged["outputs"], round_id="r3")
    write_lines(store, [*rows, canonical_json(forged)])  # sealed and linked, but not what the inputs decide


@pytest.mark.parametrize(
    ("tamper", "kind", "words"),
    [
        (tamper_changed, "changed", "record 1 (line 2) was changed"),
        (tamper_removed, "removed", "record 1 missing"),
        (tamper_reordered, "reordered", "record 1 (line 3) comes after record 2"),
        (tamper_forged_append, "outputs_mismatch", "record 3 (line 4): its outputs are not what its inputs decide"),
    ],
)
def test_each_kind_of_tampering_is_detected_and_named(ledger, tamper, kind, words):
    tamper(ledger)
    report = ledger.verify()
    assert not report.intact and kind in {p.kind for p in report.problems}
    assert any(words in p.message for p in report.problems)
    if kind != "outputs_mismatch":  # a broken chain refuses further appends
        with pytest.raises(LedgerError):
            ledger.append(kind="note", note="refused on a damaged ledger")


def test_ledger_verify_cli_names_the_problem_and_exits_1(ledger):
    tamper_changed(ledger)
    result = run("ledger", "verify", ledger.path, "--json")
    report = json.loads(result.stdout)
    assert result.returncode == 1 and not report["intact"]
    assert report["problems"][0]["kind"] == "changed" and report["problems"][0]["seq"] == 1


def test_a_correction_is_a_new_record_referencing_the_old(ledger):
    old = ledger.records()[1]
    fixed = ledger.append_decision(old["inputs"], round_id="r1", kind="correction", references=[old["hash"]], note="typo in team name")
    records = ledger.records()
    assert records[1] == old and records[-1] == fixed and fixed["references"] == [old["hash"]]
    assert ledger.verify().intact
    with pytest.raises(LedgerError, match="no such record"):
        ledger.append(kind="correction", references=["0" * 64])


def test_a_published_bundle_re_decides_byte_identically_in_a_fresh_process(ledger, tmp_path):
    bundle_path = tmp_path / "bundle.json"
    bundle = publish(ledger, bundle_path)
    assert bundle["chain_head"] == ledger.head and bundle["record"]["seq"] == 2

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
