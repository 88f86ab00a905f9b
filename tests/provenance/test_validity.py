"""What the configuration fixes never counts as a match: formula tables, constant or repeated
units, assignment ties. Left out, listed in the report, and a real copy is still found."""

import numpy as np
from scipy import stats

from gauntlet.provenance import DEFAULT_ALPHA, audit
from gauntlet.provenance import generators as gen
from gauntlet.provenance.fingerprint import fingerprint_arrays
from gauntlet.provenance.statistics import assignment_fixed_points, fixed_point_tail, matched_units
from gauntlet.provenance.validity import check_axis, order_z


def _team(seed, **kw):
    return gen.train(gen.llama(seed, **kw), seed + 1000, steps=100)


def _excluded(ref, side="candidate"):
    return {(e["tensor"], e["axis"]): e for e in ref.excluded if e["side"] == side}


def _randomised_p(n, f, rng):
    return fixed_point_tail(n, f + 1) + rng.uniform() * (fixed_point_tail(n, f) - fixed_point_tail(n, f + 1))


def test_fully_tied_similarities_give_the_exact_fixed_point_law():
    """All similarities equal (constant units on both sides): a solver that resolves ties to
    the identity would report 64 of 64 in place. Ties broken at random follow the rencontres
    law, whatever the number of units."""
    rng = np.random.default_rng(0)
    for n in (8, 64):
        us = []
        for i in range(400):
            f = assignment_fixed_points(np.full((n, n), 0.5 + i))  # a new matrix, a new tie-break
            assert f < n
            us.append(_randomised_p(n, f, rng))
        assert stats.kstest(us, "uniform").pvalue > 0.01


def test_partly_tied_units_keep_the_null_exact():
    """A third of each side's units repeat a few patterns (tie-heavy, below the exclusion
    share): the matched-units test still has its exact null law."""
    rng = np.random.default_rng(1)
    us = []
    for _ in range(300):
        def side():
            x = rng.standard_normal((64, 40))
            x[rng.choice(64, 22, replace=False)] = rng.standard_normal((3, 40))[rng.integers(3, size=22)]
            return x
        f, p = matched_units(side(), side())
        us.append(_randomised_p(64, f, rng))
    assert stats.kstest(us, "uniform").pvalue > 0.01


def test_checks_find_formula_tables_and_repeated_units_but_not_random_weights():
    table = gen.sinusoid_table(128, 128)
    assert check_axis(table)[0] == "ordered units" and check_axis(table.T)[0] == "ordered units"
    a_log = np.log(np.tile(np.arange(1, 17, dtype=np.float32), (128, 1)))
    assert check_axis(a_log)[0] == "tied units"
    # a saved rotary cache (cos of position x frequency, the frequencies repeated twice)
    inv_freq = 1.0 / 10000 ** (np.arange(0, 64, 2) / 64)
    cos_cached = np.cos(np.arange(128)[:, None] * np.concatenate([inv_freq, inv_freq])[None, :]).astype(np.float32)
    assert check_axis(cos_cached) is not None and check_axis(cos_cached.T) is not None
    rng = np.random.default_rng(2)
    zs = [order_z(rng.standard_t(4, (64, 96))) for _ in range(300)]
    assert max(zs) < 6 and abs(np.mean(zs)) < 0.3  # exchangeable units: z ~ 0, never near the bar


def test_independent_models_sharing_fixed_tensors_are_independent():
    """Two independent teams whose models hold the same formula table, Mamba-style A_log/D,
    a zero-initialised matrix and constant biases, under names that do not say what they are.
    Before these checks the table alone made such a pair derived at p ~ 1e-75."""
    a = gen.with_fixed_tensors(_team(300))
    b = gen.with_fixed_tensors(_team(301))
    report = audit(fingerprint_arrays("a", a), [fingerprint_arrays("b", b)], progress=False)
    ref = report.references[0]
    assert report.verdict == "independent", ref.p_value
    assert all(m.verdict == "independent" for m in ref.modules)
    excluded = _excluded(ref)
    assert excluded[("encoder.table.weight", "columns")]["reason"] == "ordered units"
    assert excluded[("backbone.layers.0.mixer.A_log", "rows")]["reason"] == "tied units"
    assert excluded[("backbone.layers.1.mixer.gate.weight", "rows")]["reason"] == "constant"
    # identical in both models: listed as such, and still not evidence
    assert excluded[("encoder.table.weight", "columns")]["identical_in_both"]
    assert _excluded(ref, "reference")[("encoder.table.weight", "columns")]["identical_in_both"]


def test_a_real_copy_with_fixed_tensors_is_still_derived_and_the_report_says_what_was_left_out(tmp_path):
    ref_model = gen.with_fixed_tensors(_team(310))
    copy = gen.train(ref_model, 311, steps=40)
    copy.update({k: v for k, v in ref_model.items() if "A_log" in k or "table" in k})  # buffers stay as saved
    report = audit(fingerprint_arrays("copy", copy), [fingerprint_arrays("ref", ref_model)], progress=False)
    ref = report.references[0]
    assert ref.verdict == "derived" and ref.p_value < 1e-10
    derived = {m.name: m.counterpart for m in ref.modules if m.verdict == "derived"}
    assert derived.get("model.layers.0") == "model.layers.0" and derived.get("model.layers.1") == "model.layers.1"
    # the excluded tensors are in the JSON and the HTML report
    data = report.to_dict()["references"][0]["excluded"]
    assert {e["tensor"] for e in data} >= {"encoder.table.weight", "backbone.layers.0.mixer.A_log"}
    assert any("formula tables" in a for a in report.to_dict()["assumptions"])
    html = tmp_path / "r.html"
    report.write_html(html)
    text = html.read_text()
    assert "Left out of the evidence" in text and "encoder.table.weight" in text and "ordered units" in text


def test_tie_heavy_matrices_are_not_evidence():
    """Each model holds matrices whose rows repeat a few patterns shared by both models (tied
    units), and matrices with a third of their rows repeated: nobody is accused."""
    rng = np.random.default_rng(3)
    patterns = rng.standard_normal((3, 48)).astype(np.float32) * 0.02
    ps = []
    for pair in range(20):
        models = []
        for seed in (400 + 2 * pair, 401 + 2 * pair):
            t = gen.llama(seed, d=48, h=96)
            r = np.random.default_rng(seed)
            for i in range(2):
                t[f"model.layers.{i}.extra.router.weight"] = patterns[r.integers(3, size=96)]
                part = t[f"model.layers.{i}.mlp.up_proj.weight"]
                part[r.choice(96, 30, replace=False)] = patterns[0]
            models.append(fingerprint_arrays(str(seed), t))
        ref = audit(models[0], [models[1]], progress=False).references[0]
        assert ref.verdict != "derived", ref.p_value
        ps.append(ref.p_value)
    assert min(ps) > DEFAULT_ALPHA


def test_checks_are_saved_with_a_fingerprint_file_and_read_back(tmp_path):
    """A library's references are checked once, when their file is written."""
    from gauntlet.provenance.fingerprint import Fingerprint

    fp = fingerprint_arrays("m", gen.with_fixed_tensors(_team(320)))
    loaded = Fingerprint.load(fp.save(tmp_path / "m.gfp"))
    for t, u in zip(fp.tensors, loaded.tensors):
        assert u.unusable == (t.unusable if t.is_matrix else None)
    assert loaded.tensors[[t.name for t in loaded.tensors].index("encoder.table.weight")].unusable
