"""The hostile-document corpus: every command that reads a file a user names answers
each hostile file with one line on stderr and exit code 2, never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gauntlet.cli import app
from gauntlet.errors import InputError
from gauntlet.files import json_depth, parse_json, parse_toml, read_bytes

DEEP = "[" * 200_000 + "]" * 200_000
DEEP_OBJECT = '{"a":' * 200_000 + "1" + "}" * 200_000
BIG_INT = "9" * 5000


def corpus(root: Path, suffix: str) -> dict[str, Path]:
    """name -> file (or folder, or link): the hostile inputs every reader must survive."""
    root.mkdir(parents=True, exist_ok=True)
    files = {
        "deep-array": DEEP, "deep-object": DEEP_OBJECT, "big-int": '{"a": ' + BIG_INT + "}",
        "big-int-in-list": "[" + BIG_INT + "]", "nan": '{"a": NaN}', "not-json": "{nope",
        "empty": "", "nul-bytes": "\0" * 64,
    }
    if suffix == ".toml":
        files = {"deep-array": "a = " + DEEP, "big-int": "a = " + BIG_INT, "not-toml": "a = = 1",
                 "empty": "", "deep-inline": "a = " + "{b = " * 5000 + "1" + "}" * 5000}
    if suffix == ".csv":
        files = {"empty": "", "header-only": "model_a,model_b,winner\n", "wrong-columns": "x,y\n1,2\n",
                 "style-inf": "model_a,model_b,winner,sum_assistant_a_tokens\na,b,model_a,1e999\n",
                 "ragged": "model_a,model_b,winner\na,b\n", "deep-jsonl": DEEP_OBJECT,
                 # found by benchmarks/fuzz_inputs.py: a lone carriage return once quoting is in play
                 "lone-cr": 'model_a,model_b,winner\n"m1",m2,tie\nm2\rx,m0,model_b\n'}
    out = {}
    for name, text in files.items():
        path = root / f"{name}{suffix}"
        path.write_text(text)
        out[name] = path
    raw = root / f"latin1{suffix}"
    raw.write_bytes(b'{"a": "\xe9\xff"}')
    out["not-utf8"] = raw
    loop = root / f"loop{suffix}"
    os.symlink(loop.name, loop)
    out["symlink-loop"] = loop
    folder = root / f"folder{suffix}"
    folder.mkdir()
    out["a-folder"] = folder
    out["missing"] = root / f"missing{suffix}"
    return out


COMMANDS = {  # the commands, each with the kind of file it reads
    "round decide": (["round", "decide"], ".json"),
    "round what-if": (["round", "what-if"], ".json"),
    "ratings fit": (["ratings", "fit"], ".csv"),
    "ratings fit (JSON)": (["ratings", "fit"], ".json"),
    "ratings fit (JSONL)": (["ratings", "fit"], ".jsonl"),
    "spec check": (["spec", "check"], ".toml"),
    "ledger verify": (["ledger", "verify"], ".jsonl"),
    "audit (fingerprint file)": (["audit"], ".gfp"),
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_hostile_document_is_one_line_and_exit_2(tmp_path, command):
    args, suffix = COMMANDS[command]
    runner = CliRunner()
    for name, path in corpus(tmp_path / "corpus", suffix).items():
        extra = ["--against", str(path)] if args == ["audit"] else []
        result = runner.invoke(app, [*args, str(path), *extra])
        if command == "ledger verify" and name in ("empty",):
            continue  # an empty ledger is a valid (if unproven) ledger: see tests/rounds
        assert result.exception is None or isinstance(result.exception, SystemExit), (name, result.exception)
        assert result.exit_code in (1, 2), (name, result.output)
        error = result.output.strip().splitlines()
        if result.exit_code == 2:
            assert len(error) == 1 and error[0].startswith("error: "), (name, result.output)
        assert "Traceback" not in result.output, name


def test_the_depth_check_ignores_brackets_inside_strings():
    assert json_depth(b'{"a": "[[[[[[[[", "b": [1, [2]]}') == 3
    assert json_depth(b'["\\"[[[", ["x"]]') == 2
    assert parse_json('{"a": "' + "[" * 1000 + '"}', what="doc") == {"a": "[" * 1000}


@pytest.mark.parametrize("text,words", [
    (DEEP, "levels deep"), ('{"a": ' + BIG_INT + "}", "5,000 digits"), ('{"a": -' + BIG_INT + "}", "digits"),
    ('{"a": Infinity}', "Infinity is not a number"), ("[1,", "invalid JSON at line 1"),
])
def test_the_json_reader_says_what_was_wrong_in_one_line(text, words):
    with pytest.raises(InputError, match=words) as refused:
        parse_json(text, what="doc")
    assert "\n" not in str(refused.value)


def test_integers_of_ordinary_size_and_floats_of_any_length_are_read():
    assert parse_json('{"a": 18446744073709551615, "b": -1, "c": 1.' + "5" * 3000 + "}", what="doc")["a"] == 2**64 - 1


@pytest.mark.parametrize("text,words", [
    ("a = " + BIG_INT, "invalid TOML"), ("a = 1" + "0" * 30, "more than 24 digits"),
    ("a = " + "[" * 100 + "]" * 100, "levels deep"), ("a = nan", "not a number"),
])
def test_the_toml_reader_bounds_what_tomllib_accepts(text, words):
    with pytest.raises(InputError, match=words):
        parse_toml(text, what="spec")


def test_a_document_over_its_size_limit_is_refused_before_it_is_read_whole(tmp_path):
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 10_000)
    with pytest.raises(InputError, match="larger than the 1,000-byte limit"):
        read_bytes(big, what="doc", max_bytes=1000)


@pytest.mark.parametrize("text,words", [
    ("a: " + "[" * 5000 + "]" * 5000, "invalid YAML|levels deep"), ("a: !!python/object:os.system x", "invalid YAML"),
    ("a: " + "9" * 30, "more than 24 digits"), ("a: [1, 2", "invalid YAML"),
])
def test_the_yaml_reader_is_bounded_and_builds_no_objects(text, words):
    from gauntlet.files import parse_yaml

    with pytest.raises(InputError, match=words) as refused:
        parse_yaml(text, what="suite")
    assert "\n" not in str(refused.value)
