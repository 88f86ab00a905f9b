"""`gauntlet ratings fit`: the JSON contract, the table, and one-line errors with exit 2."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from gauntlet.cli import app
from gauntlet.ratings.bradley_terry import fit_leaderboard
from gauntlet.ratings.synthetic import generate_votes, write_vote_csv
from gauntlet.ratings.votes import read_votes

runner = CliRunner()


@pytest.fixture
def vote_csv(tmp_path):
    records = generate_votes(np.array([0.8, 0.2, 0.0, -0.6]), 2000, seed=5)
    return write_vote_csv(tmp_path / "votes.csv", *records), records


def test_json_output_follows_the_contract(vote_csv):
    path, _ = vote_csv
    result = runner.invoke(app, ["ratings", "fit", str(path), "--bootstrap", "20", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [set(r) for r in doc["ratings"]] == [{"model", "rating", "lower", "upper", "rank"}] * 4
    ratings = [r["rating"] for r in doc["ratings"]]
    assert ratings == sorted(ratings, reverse=True)
    assert doc["ratings"][0]["model"] == "m0" and doc["ratings"][0]["rank"] == 1
    for r in doc["ratings"]:
        assert r["lower"] <= r["rating"] <= r["upper"]
    assert np.mean(ratings) == pytest.approx(1000.0)


def test_same_seed_same_intervals_and_table_output(vote_csv):
    path, _ = vote_csv
    runs = [json.loads(runner.invoke(app, ["ratings", "fit", str(path), "--bootstrap", "10", "--seed", "3",
                                           "--json"]).stdout) for _ in range(2)]
    assert runs[0] == runs[1]
    table = runner.invoke(app, ["ratings", "fit", str(path), "--bootstrap", "5"])
    assert table.exit_code == 0
    assert "m0" in table.stdout and "95% interval" in table.stdout


def test_every_file_format_reads_the_same_votes(tmp_path, vote_csv):
    path, (model_a, model_b, winner) = vote_csv
    rows = [{"model_a": a, "model_b": b, "winner": w, "tstamp": k} for k, (a, b, w) in
            enumerate(zip(model_a, model_b, winner))]
    jsonl = tmp_path / "votes.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    array = tmp_path / "votes.json"
    array.write_text(json.dumps(rows))
    quoted = tmp_path / "quoted.csv"
    quoted.write_text("question_id,model_a,model_b,winner\r\n" + "".join(
        f'q{k},"{a}",{b},"{w}"\r\n' for k, (a, b, w) in enumerate(zip(model_a, model_b, winner))))
    expected = fit_leaderboard(read_votes(path), bootstrap=0)
    for other in (jsonl, array, quoted):
        board = fit_leaderboard(read_votes(other), bootstrap=0)
        assert board.models == expected.models
        assert board.ratings == pytest.approx(expected.ratings, abs=1e-9)


@pytest.mark.parametrize(
    "content, message",
    [
        ("model_a,winner\nx,model_a\n", "missing column(s) model_b"),
        ("model_a,model_b,winner\nx,y,model_c\n", "unknown winner value 'model_c' (line 2)"),
        ("model_a,model_b,winner\n", "no rows"),
        ("", "is empty"),
        ("model_a,model_b,winner\nx,y\n", "line 2 has 2 fields"),
        ("model_a,model_b,winner\nx,x,tie\n", "cannot battle itself"),
        ('{"model_a": "x", "model_b": "y"}\n', "missing column(s) winner"),
        ("model_a,model_b,winner\nx,y,model_a\nx,y,model_b\nx,y,draw\n", "unknown winner value 'draw' (line 4)"),
    ],
)
def test_bad_files_give_one_line_and_exit_2(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    result = runner.invoke(app, ["ratings", "fit", str(path), "--json"])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def test_missing_file_and_bad_anchor_exit_2(tmp_path, vote_csv):
    path, _ = vote_csv
    missing = runner.invoke(app, ["ratings", "fit", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2 and "not found" in missing.stderr
    anchor = runner.invoke(app, ["ratings", "fit", str(path), "--anchor", "m9=1100"])
    assert anchor.exit_code == 2 and "m9" in anchor.stderr
    pinned = runner.invoke(app, ["ratings", "fit", str(path), "--anchor", "m1=1200", "--json", "--bootstrap", "0"])
    assert {r["model"]: r["rating"] for r in json.loads(pinned.stdout)["ratings"]}["m1"] == pytest.approx(1200)


def test_style_control_needs_style_columns(vote_csv):
    path, _ = vote_csv
    result = runner.invoke(app, ["ratings", "fit", str(path), "--style-control"])
    assert result.exit_code == 2 and "sum_assistant_a_tokens" in result.stderr


def test_style_control_reads_fastchat_conv_metadata(tmp_path):
    rng = np.random.default_rng(1)
    battles = []
    for _ in range(600):
        a, b = rng.choice(["long", "short", "mid"], size=2, replace=False)
        tokens = {"long": 500, "short": 50, "mid": 200}
        winner = "model_a" if rng.random() < (0.8 if tokens[a] > tokens[b] else 0.2) else "model_b"
        battles.append({"model_a": str(a), "model_b": str(b), "winner": winner, "conv_metadata": {
            "sum_assistant_a_tokens": tokens[a], "sum_assistant_b_tokens": tokens[b],
            "header_count_a": {"h1": 1, "h2": 0}, "header_count_b": {"h1": 0, "h2": 0},
            "list_count_a": {"ordered": 0, "unordered": 2}, "list_count_b": {"ordered": 0, "unordered": 0},
            "bold_count_a": {"**": 1, "__": 0}, "bold_count_b": {"**": 0, "__": 0}}})
    path = tmp_path / "battles.json"
    path.write_text(json.dumps(battles))
    result = runner.invoke(app, ["ratings", "fit", str(path), "--style-control", "--bootstrap", "5", "--json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert set(doc["style_coefficients"]) == {"sum_assistant_tokens", "header_count", "list_count", "bold_count"}
    assert doc["style_coefficients"]["sum_assistant_tokens"] > 0
