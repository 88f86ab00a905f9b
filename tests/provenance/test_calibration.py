"""Under the null (independent training) the p-values are uniform and nobody is accused."""

import numpy as np
import pytest
from scipy import stats

from gauntlet.provenance import DEFAULT_ALPHA, audit
from gauntlet.provenance import generators as gen
from gauntlet.provenance.fingerprint import fingerprint_arrays
from gauntlet.provenance.statistics import direct_z, double_centre, holm, mantel_summaries, mantel_z


def test_mantel_null_moments_match_permutations():
    rng = np.random.default_rng(0)
    k = 10

    def sym(x):
        x = (x + x.T) / 2
        np.fill_diagonal(x, 0)
        return x

    A, B = sym(rng.standard_normal((k, k)) + 0.3), sym(rng.standard_normal((k, k)) ** 2)
    sims = []
    for _ in range(20000):
        p = rng.permutation(k)
        sims.append((A * B[p][:, p]).sum())
    sims = np.array(sims)
    z = mantel_z(sims[None, :], mantel_summaries(A[None]), mantel_summaries(B[None]), k)[0]
    assert abs(z.mean()) < 0.03 and abs(z.std() - 1) < 0.03


def test_direct_null_variance_matches_column_permutations():
    rng = np.random.default_rng(1)
    a = double_centre(rng.standard_normal((9, 7)))
    b = double_centre(rng.standard_normal((9, 7)) * np.arange(1, 8))
    sims = np.array([(a * b[:, rng.permutation(7)]).sum() for _ in range(20000)])
    var_cols = ((a @ a.T) * (b @ b.T)).sum() / 6
    z = direct_z(sims, np.nan, var_cols)
    assert abs(z.std() - 1) < 0.03


def test_holm_is_monotone_and_capped():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.9, 0.8]) == [1.0, 1.0]
    assert holm([0.2, 0.01]) == pytest.approx([0.2, 0.02])


def test_two_hundred_independent_pairs_no_false_positive_and_uniform_p():
    """400 independently initialised and trained models, paired: FPR 0 at the default alpha,
    and the Kolmogorov-Smirnov test does not reject uniform p-values."""
    ps = []
    for i in range(200):
        a = gen.train(gen.llama(10_000 + 2 * i, d=32, h=64, vocab=160, norms="near"), 20_000 + 2 * i, steps=20)
        b = gen.train(gen.llama(10_001 + 2 * i, d=32, h=64, vocab=160, norms="near"), 20_001 + 2 * i, steps=20)
        report = audit(fingerprint_arrays("a", a), [fingerprint_arrays("b", b)])
        ps.append(report.references[0].p_value)
    ps = np.array(ps)
    assert (ps < DEFAULT_ALPHA).sum() == 0
    assert stats.kstest(ps, "uniform").pvalue > 0.01, np.sort(ps)[:10]
