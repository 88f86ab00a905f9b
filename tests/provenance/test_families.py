"""Independent pairs of every supported architecture family, built by transformers with each
family's real initialisation, are never called derived and give uniform p-values.
`benchmarks/calibration_families.py` runs 200+ pairs per family."""

import numpy as np
import pytest
from scipy import stats

from gauntlet.provenance import DEFAULT_ALPHA, audit
from gauntlet.provenance.fingerprint import fingerprint_arrays

pytest.importorskip("transformers")
from gauntlet.provenance.families import FAMILIES, independent_model  # noqa: E402

PAIRS = 8


@pytest.mark.slow
def test_independent_pairs_of_every_family_are_calibrated():
    ps = {}
    for family in FAMILIES:
        ps[family] = []
        for i in range(PAIRS):
            a = fingerprint_arrays("a", independent_model(family, 70_000 + 2 * i))
            b = fingerprint_arrays("b", independent_model(family, 70_001 + 2 * i))
            report = audit(a, [b], progress=False)
            assert report.verdict != "derived", (family, report.references[0].p_value)
            ps[family].append(report.references[0].p_value)
    every = np.concatenate(list(ps.values()))
    assert (every < DEFAULT_ALPHA).sum() == 0
    # (the sinusoidal and A_log tables used to give whisper and mamba p ~ 1e-75 and 1e-49)
    assert stats.kstest(every, "uniform").pvalue > 0.01, {f: np.round(np.sort(v)[:3], 3) for f, v in ps.items()}
    for family, values in ps.items():  # no family on its own far from uniform either
        assert stats.kstest(values, "uniform").pvalue > 1e-3, (family, np.sort(values))


def test_family_generators_use_each_familys_own_initialisation():
    """The generator's models are what transformers builds: the fixed tensors that made
    false accusations are there, and two seeds share nothing they draw."""
    whisper_a, whisper_b = independent_model("whisper", 1), independent_model("whisper", 2)
    table = "encoder.embed_positions.weight"
    assert np.array_equal(whisper_a[table], whisper_b[table])  # sinusoids, fixed by the config
    mamba = independent_model("mamba", 1)
    a_log = mamba["backbone.layers.0.mixer.A_log"]
    assert (a_log == a_log[0]).all() and (mamba["backbone.layers.0.mixer.D"] == 1).all()
    q = "model.layers.0.self_attn.q_proj.weight"
    assert not np.array_equal(independent_model("llama", 1)[q], independent_model("llama", 2)[q])
