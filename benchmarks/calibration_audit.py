"""Are the audit's p-values calibrated? Many independent pairs, their p-values, a QQ plot.

Usage: python benchmarks/calibration_audit.py [--pairs 2000] [--plot calibration.png]

Each pair is two Llama-shaped models initialised and trained independently
(the generator's exchangeable training). Under the null hypothesis the audit's
reference-level p-value should be uniform on [0, 1]: the script prints the
false-positive count at the default alpha, the share below a few levels next to
the level itself, the decile histogram and a Kolmogorov-Smirnov test, and saves a
QQ plot. Not a timing: calibration is a property, measured at a scale the test
suite (400 pairs) cannot afford.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy import stats


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=500_000)
    ap.add_argument("--plot", default="calibration.png")
    args = ap.parse_args()

    from gauntlet.console import progress_bar
    from gauntlet.provenance import DEFAULT_ALPHA, audit
    from gauntlet.provenance import generators as gen
    from gauntlet.provenance.fingerprint import fingerprint_arrays

    ps = []
    with progress_bar() as bar:
        task = bar.add_task("independent pairs", total=args.pairs)
        for i in range(args.pairs):
            seed = args.seed + 2 * i
            a = gen.train(gen.llama(seed, d=32, h=64, vocab=160, norms="near"), seed + 10**6, steps=20)
            b = gen.train(gen.llama(seed + 1, d=32, h=64, vocab=160, norms="near"), seed + 10**6 + 1, steps=20)
            ps.append(audit(fingerprint_arrays("a", a), [fingerprint_arrays("b", b)], progress=False).references[0].p_value)
            bar.advance(task)
    ps = np.array(ps)
    print(f"{args.pairs} independent pairs; derived at alpha {DEFAULT_ALPHA:g}: {(ps < DEFAULT_ALPHA).sum()}")
    for level in (0.001, 0.01, 0.05, 0.1, 0.25, 0.5):
        print(f"  share of p <= {level:<5g}: {(ps <= level).mean():.4f}")
    print("  deciles:", np.histogram(ps, bins=10, range=(0, 1))[0].tolist(), f"(uniform: {args.pairs // 10} each)")
    print(f"  Kolmogorov-Smirnov vs uniform: D = {stats.kstest(ps, 'uniform').statistic:.4f}, "
          f"p = {stats.kstest(ps, 'uniform').pvalue:.3f}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    expected = (np.arange(1, ps.size + 1) - 0.5) / ps.size
    ax.plot(expected, np.sort(ps), ".", ms=2, label="audit p-values")
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="uniform")
    ax.set_xlabel("expected quantile (uniform)")
    ax.set_ylabel("observed p-value")
    ax.set_title(f"{ps.size} independent pairs")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(args.plot, dpi=120)
    print(f"QQ plot: {args.plot}")


if __name__ == "__main__":
    main()
