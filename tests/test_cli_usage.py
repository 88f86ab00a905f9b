"""Usage mistakes are bad input like any other: one line on stderr, exit code 2, no traceback."""

import subprocess
import sys

import pytest


def gauntlet(*args):
    return subprocess.run([sys.executable, "-m", "gauntlet", *args], capture_output=True, text=True)


@pytest.mark.parametrize("args, expected", [
    (["serve", "--port", "notaport"], "Invalid value for '--port'"),
    (["round", "decide"], "Missing argument"),
    (["round", "nosuch"], "No such command"),
    (["--bogus"], "No such option"),
    (["serve", "--workers", "2", "--db", "sqlite:///nowhere.sqlite"], "needs a database server (PostgreSQL)"),
])
def test_usage_errors_are_one_line_and_exit_2(args, expected):
    result = gauntlet(*args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and expected in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_help_is_not_an_error():
    result = gauntlet("--help")
    assert result.returncode == 0 and "demo" in result.stdout and result.stderr == ""
