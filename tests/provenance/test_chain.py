"""`verify_chain`: honest runs are consistent, every forgery is broken at the step that gives it away."""

import json
import shutil

import numpy as np
import pytest

pytest.importorskip("torch")

from gauntlet.provenance import chain_forgeries as forge  # noqa: E402
from gauntlet.provenance.chain import verify_chain  # noqa: E402
from gauntlet.synth.training_runs import train_chain  # noqa: E402


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("chains")
    foreign = forge.foreign_model(root / "foreign")
    honest = train_chain(root / "honest", seed=3, steps=24, every=8)
    other = train_chain(root / "other", seed=5, steps=24, every=8)
    return {"root": root, "foreign": foreign, "honest": honest, "other": other}


def _edit(chain_path, out, change):
    """Copy a chain folder and rewrite its chain file."""
    shutil.copytree(chain_path.parent, out)
    doc = json.loads((out / "chain.json").read_text())
    change(doc)
    (out / "chain.json").write_text(json.dumps(doc))
    return out / "chain.json"


def test_honest_chain_with_its_recipe_is_consistent(runs):
    report = verify_chain(runs["honest"], [runs["foreign"]], progress=False)
    assert report.verdict == "consistent", report.findings
    assert [link.verdict for link in report.links] == ["derived"] * 3
    assert report.origin.verdict == "fresh" and report.origin.method == "recipe"
    assert report.references[0].verdict == "independent" and report.references[0].first_step is None
    doc = report.to_dict()
    assert [(link["from"], link["to"]) for link in doc["links"]] == [(0, 8), (8, 16), (16, "final")]
    assert all(link["drift_per_step"] > 0 for link in doc["links"])


def test_warm_start_from_the_teams_own_model_is_consistent(runs):
    warm = train_chain(runs["root"] / "warm", seed=4, steps=16, every=8, warm_start=runs["honest"])
    report = verify_chain(warm, [runs["foreign"]], progress=False)
    assert report.verdict == "consistent", report.findings
    assert len(report.links) == 5


def test_without_a_recipe_step_0_is_tested_against_the_declared_scheme(runs, tmp_path):
    chain = _edit(runs["honest"], tmp_path / "c", lambda d: d.pop("init"))
    report = verify_chain(chain, [runs["foreign"]], progress=False)
    assert report.origin.method == "scheme" and report.origin.verdict == "fresh"
    assert report.verdict == "consistent"


def test_a_recipe_that_does_not_reproduce_step_0_breaks_the_chain_at_0(runs, tmp_path):
    chain = _edit(runs["honest"], tmp_path / "c", lambda d: d["init"].update(seed=4))
    report = verify_chain(chain, progress=False)
    assert report.origin.verdict == "not-fresh" and "differs from the recipe" in report.origin.detail
    assert report.verdict == "broken" and report.first_offending_step == 0


@pytest.mark.parametrize("kind", ["splice", "interpolate", "perturbed_start"])
def test_forgeries_from_a_foreign_model_are_broken_at_the_first_forged_step(runs, tmp_path, kind):
    chain, first = getattr(forge, kind)(tmp_path / kind, runs["foreign"])
    report = verify_chain(chain, [runs["foreign"]], progress=False)
    assert report.verdict == "broken", report.findings
    assert report.first_offending_step == first
    ref = report.references[0]
    assert ref.verdict == "derived" and ref.first_step == first
    if kind == "interpolate":  # every link looks like training; only the updates give it away
        assert all(link.verdict == "derived" for link in report.links)
        assert report.origin.verdict == "fresh"
        assert any(t["what"] == "update" and t["step"] == first and t["verdict"] == "derived" for t in ref.tests)
    if kind == "perturbed_start":
        assert report.origin.verdict == "not-fresh"


def test_a_checkpoint_swapped_for_another_runs_breaks_the_chain_there(runs, tmp_path):
    chain, first = forge.swap(runs["honest"], runs["other"], tmp_path / "swap", index=2)
    report = verify_chain(chain, progress=False)
    assert report.verdict == "broken" and report.first_offending_step == first == 16
    assert [link.verdict for link in report.links] == ["derived", "independent", "independent"]


def test_a_checkpoint_that_did_not_move_although_steps_advanced_is_implausible(runs, tmp_path):
    def duplicate(doc):
        doc["checkpoints"][2]["path"] = doc["checkpoints"][1]["path"]
    report = verify_chain(_edit(runs["honest"], tmp_path / "c", duplicate), progress=False)
    assert report.links[1].drift == 0.0 and not report.links[1].plausible
    assert report.verdict == "inconclusive"
    assert any("did not move" in f for f in report.findings)


def test_honest_chains_raise_no_false_alarm(runs, tmp_path):
    """A small null in the suite (the benchmark runs >= 200): independent honest runs are
    consistent, and their models and updates are never derived from a foreign model."""
    reports = [verify_chain(train_chain(tmp_path / str(s), seed=100 + s, steps=8, every=4, data_seed=s),
                            [runs["foreign"], runs["other"].parent / "ckpt-0"], progress=False) for s in range(6)]
    assert [r.verdict for r in reports] == ["consistent"] * 6
    smallest = min(t["p_value"] for r in reports for ref in r.references for t in ref.tests)
    assert smallest >= 1e-3


def test_scheme_test_is_calibrated_on_fresh_initialisations(runs, tmp_path):
    """Fresh from_config models of many seeds: the origin p-value is (conservatively)
    super-uniform, and the same models after training are not-fresh."""
    from gauntlet.provenance.chain_origin import scheme_test
    from gauntlet.synth.training_runs import fresh_model

    ps = []
    for seed in range(40):
        folder = tmp_path / f"m{seed}"
        fresh_model(seed).save_pretrained(folder, safe_serialization=True)
        ps.append(scheme_test(folder).p_value)
    ps = np.array(ps)
    assert (ps < 0.1).mean() <= 0.2 and (ps < 1e-3).sum() == 0
    assert scheme_test(runs["honest"].parent / "ckpt-8").verdict == "not-fresh"
    assert scheme_test(runs["foreign"]).verdict == "not-fresh"


def test_step_0_made_of_zeros_or_constants_is_not_fresh(tmp_path):
    from gauntlet.provenance.chain_origin import scheme_test
    from gauntlet.synth.training_runs import fresh_model

    model = fresh_model(0)
    for p in model.parameters():
        p.data.zero_() if p.dim() > 1 else None
    model.save_pretrained(tmp_path / "zeros", safe_serialization=True)
    assert scheme_test(tmp_path / "zeros").verdict == "not-fresh"
    for p in model.parameters():
        p.data.fill_(0.02) if p.dim() > 1 else None
    model.save_pretrained(tmp_path / "const", safe_serialization=True)
    assert scheme_test(tmp_path / "const").verdict == "not-fresh"


def test_declared_tokens_that_do_not_fit_the_steps_are_implausible(runs, tmp_path):
    def no_tokens(doc):
        doc["checkpoints"][2]["tokens"] = doc["checkpoints"][1]["tokens"]
    report = verify_chain(_edit(runs["honest"], tmp_path / "c", no_tokens), progress=False)
    assert not report.links[1].plausible and report.verdict == "inconclusive"
    assert any("tokens per step" in f for f in report.findings)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_a_checkpoint_with_non_finite_weights_makes_its_drift_implausible(runs, tmp_path, value):
    """NaN compares false with everything: a NaN drift must not pass the plausibility check
    silently, nor spoil the run's median for the other links."""
    chain = _edit(runs["honest"], tmp_path / "c", lambda doc: None)
    tensors = forge._read(chain.parent / "ckpt-16")
    name = next(n for n, t in tensors.items() if t.ndim == 2)
    tensors[name][0, 0] = value
    forge._write(chain.parent / "ckpt-16", tensors, runs["honest"].parent / "ckpt-16")
    report = verify_chain(chain, progress=False)
    assert [link.plausible for link in report.links] == [True, False, False]
    assert report.verdict != "consistent"
    assert any("step 16" in f and "not finite" in f for f in report.findings), report.findings
    assert report.to_dict()  # the JSON document still builds
