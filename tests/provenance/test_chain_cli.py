"""`gauntlet chain verify` keeps its contract; bad chain files are one line and exit 2."""

import json
import os

import pytest
from typer.testing import CliRunner

pytest.importorskip("torch")

from gauntlet.cli import app  # noqa: E402
from gauntlet.provenance import fingerprint_model  # noqa: E402
from gauntlet.provenance import chain_forgeries as forge  # noqa: E402
from gauntlet.synth.training_runs import train_chain  # noqa: E402

runner = CliRunner()


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli-chain")
    foreign = forge.foreign_model(root / "foreign", steps=16)
    library = root / "library"
    fingerprint_model(foreign, name="foreign-lab", progress=False,
                      origin={"organisation": "Foreign Lab", "country": "XX", "licence": "open",
                              "release_date": "2025-01-01"}).save(library / "foreign.fingerprint")
    spliced, first = forge.splice(root / "spliced", foreign, early_steps=8, every=4, later_steps=8)
    return {"honest": train_chain(root / "honest", seed=2, steps=8, every=4), "foreign": foreign,
            "library": library, "spliced": spliced, "first": first}


def test_json_contract_for_a_consistent_chain(chain, tmp_path):
    html = tmp_path / "chain.html"
    result = runner.invoke(app, ["chain", "verify", str(chain["honest"]), "--against", str(chain["foreign"]),
                                 "--json", "--quiet", "--html", str(html)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["verdict"] == "consistent"
    assert {"verdict", "links", "origin", "references", "findings"} <= set(doc)
    assert [(link["from"], link["to"], link["verdict"]) for link in doc["links"]] == [(0, 4, "derived"), (4, "final", "derived")]
    assert all(0 <= link["p_value"] <= 1 for link in doc["links"])
    assert doc["origin"]["verdict"] == "fresh"
    assert doc["references"][0]["verdict"] == "independent" and doc["references"][0]["first_step"] is None
    page = html.read_text()  # in Korean unless --lang en: the default language of a challenge
    assert '<html lang="ko">' in page and "<svg" in page and "단계당 변화량" in page and "일관됨" in page
    english = tmp_path / "chain-en.html"
    result = runner.invoke(app, ["chain", "verify", str(chain["honest"]), "--against", str(chain["foreign"]),
                                 "--quiet", "--html", str(english), "--lang", "en"])
    assert result.exit_code == 0, result.output
    page = english.read_text()
    assert '<html lang="en">' in page and "drift per step" in page and "consistent" in page
    refused = runner.invoke(app, ["chain", "verify", str(chain["honest"]), "--quiet", "--html", str(english),
                                  "--lang", "fr"])
    assert refused.exit_code == 2 and "--lang must be one of ko, en" in refused.output


def test_library_references_name_the_first_offending_step(chain):
    result = runner.invoke(app, ["chain", "verify", str(chain["spliced"]), "--library", str(chain["library"]), "--json", "--quiet"])
    doc = json.loads(result.stdout)
    assert doc["verdict"] == "broken"
    assert doc["references"] == [{**doc["references"][0], "reference": "foreign-lab", "verdict": "derived",
                                  "first_step": chain["first"]}]
    assert any(f.startswith(f"step {chain['first']} is derived from foreign-lab") for f in doc["findings"])


@pytest.mark.parametrize("body, message", [
    ({"checkpoints": [{"step": 0, "tokens": 0, "path": "../outside"}], "final": "ckpt-0"}, "leaves the chain file's folder"),
    ({"checkpoints": [{"step": 0, "tokens": 0, "path": "/etc"}], "final": "ckpt-0"}, "is absolute"),
    ({"checkpoints": [{"step": 0, "tokens": 0, "path": "ckpt-0"}], "final": "link-out"}, "leaves the chain file's folder"),
    ({"checkpoints": [{"step": 4, "tokens": 0, "path": "ckpt-4"}, {"step": 0, "tokens": 0, "path": "ckpt-0"}],
      "final": "ckpt-0"}, "steps must increase"),
    ({"checkpoints": [{"step": -1, "tokens": 0, "path": "ckpt-0"}], "final": "ckpt-0"}, "non-negative integer"),
    ({"checkpoints": [{"step": True, "tokens": 0, "path": "ckpt-0"}], "final": "ckpt-0"}, "non-negative integer"),
    ({"checkpoints": [], "final": "ckpt-0"}, "non-empty list"),
    ({"checkpoints": [{"step": 0, "tokens": 0, "path": "ckpt-0"}], "final": "ckpt-0", "init": {"library": "jax", "seed": 1}}, "init library"),
    ({"checkpoints": [{"step": 0, "tokens": 0, "path": "missing"}], "final": "ckpt-0"}, "is not a model folder"),
    ([1, 2], "JSON object"),
    ("{not json", "not valid JSON"),
])
def test_bad_chain_files_are_one_line_and_exit_2(chain, tmp_path, body, message):
    folder = chain["honest"].parent
    target = folder / "bad.json"
    link = folder / "link-out"
    if not link.exists():
        os.symlink(tmp_path, link)
    target.write_text(body if isinstance(body, str) else json.dumps(body))
    result = runner.invoke(app, ["chain", "verify", str(target), "--quiet"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.output


def test_a_missing_chain_file_is_bad_input(tmp_path):
    result = runner.invoke(app, ["chain", "verify", str(tmp_path / "nope.json")])
    assert result.exit_code == 2 and "does not exist" in result.stderr
