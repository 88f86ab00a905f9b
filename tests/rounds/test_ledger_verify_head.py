"""`ledger verify` says what it cannot prove without the published head, and a
malformed --head is bad input."""

import json

import pytest

from .test_record_and_cli import ledger, lines, recorded, run, write_lines  # noqa: F401  (the fixtures)


def said(result) -> str:
    return " ".join(result.stdout.split())  # the console wraps long lines


def test_without_a_head_a_cut_off_ledger_is_not_reported_as_simply_intact(ledger):
    published = ledger.head
    write_lines(ledger, lines(ledger)[:-1])  # the last record removed
    result = run("ledger", "verify", ledger.path)
    assert result.returncode == 0, result.stderr
    assert "intact" not in said(result) and "not proven complete" in said(result)
    assert ledger.head in said(result) and "--head" in said(result)  # the head it found, and what to do
    report = json.loads(run("ledger", "verify", ledger.path, "--json").stdout)
    assert report["head_checked"] is False
    caught = run("ledger", "verify", ledger.path, "--head", published)
    assert caught.returncode == 1 and "cut off the end" in said(caught)


def test_an_emptied_ledger_is_not_reported_as_intact(ledger):
    published = ledger.head
    ledger.path.write_text("")
    result = run("ledger", "verify", ledger.path)
    assert "intact" not in said(result) and "0 record(s)" in said(result) and "not proven complete" in said(result)
    assert run("ledger", "verify", ledger.path, "--head", published).returncode == 1


@pytest.mark.parametrize("head", ["abc", "zz" * 32, "0" * 65, "9" * 5000, ""])
def test_a_malformed_head_is_bad_input(ledger, head):
    result = run("ledger", "verify", ledger.path, "--head", head)
    assert result.returncode == 2, result.stdout
    assert result.stderr.startswith("error: --head") and result.stderr.count("\n") == 1
