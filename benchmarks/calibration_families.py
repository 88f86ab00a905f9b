"""Calibration on every supported architecture family, with each family's real initialisation.

Usage: python benchmarks/calibration_families.py [--pairs 200] [--families llama,mamba,...]

Each pair is two models of one family built by transformers' `from_config` under two torch
seeds (`gauntlet.provenance.families`): they share everything the configuration fixes
(sinusoidal tables, A_log/D, zero biases, depth-scaled stds) and nothing the initialisation
draws. Under the null the audit's reference-level p-value is uniform. Per family the table
prints how many pairs were called derived, the KS test against uniform, the share of p-values
below 0.01 / 0.05 / 0.25 / 0.5 (uniform: the level itself), the smallest p-value, and how many
tensor axes per model the validity checks left out (and the share of checked axes that is).
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy import stats


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=200)
    ap.add_argument("--seed", type=int, default=900_000)
    ap.add_argument("--families", default="")
    args = ap.parse_args()

    from gauntlet.console import progress_bar
    from gauntlet.provenance import DEFAULT_ALPHA, audit
    from gauntlet.provenance.families import FAMILIES, independent_model
    from gauntlet.provenance.fingerprint import fingerprint_arrays

    families = args.families.split(",") if args.families else list(FAMILIES)
    rows = []
    every = []
    with progress_bar() as bar:
        for family in families:
            task = bar.add_task(family, total=args.pairs)
            ps, excluded, reasons = [], [], {}
            for i in range(args.pairs):
                seed = args.seed + 2 * i
                a = fingerprint_arrays("a", independent_model(family, seed))
                b = fingerprint_arrays("b", independent_model(family, seed + 1))
                ref = audit(a, [b], progress=False).references[0]
                ps.append(ref.p_value)
                mine = [e for e in ref.excluded if e["side"] == "candidate"]
                excluded.append(len(mine))
                for e in mine:
                    reasons[e["reason"]] = reasons.get(e["reason"], 0) + 1
                bar.advance(task)
            ps = np.array(ps)
            every.append(ps)
            rows.append((family, int((ps < DEFAULT_ALPHA).sum()), stats.kstest(ps, "uniform").pvalue,
                         *[(ps <= t).mean() for t in (0.01, 0.05, 0.25, 0.5)], ps.min(), np.mean(excluded),
                         {k: round(v / args.pairs, 2) for k, v in reasons.items()}))
    print(f"\n{args.pairs} independent pairs per family (alpha {DEFAULT_ALPHA:g})")
    print(f"{'family':14s} {'derived':>7s} {'KS p':>6s} {'<=.01':>6s} {'<=.05':>6s} {'<=.25':>6s} {'<=.5':>6s}"
          f" {'min p':>8s}  left out per model (by reason)")
    for family, derived, ks, s1, s5, s25, s50, low, n_ex, reasons in rows:
        print(f"{family:14s} {derived:7d} {ks:6.3f} {s1:6.3f} {s5:6.3f} {s25:6.3f} {s50:6.3f} {low:8.1e}  {n_ex:.1f} {reasons}")
    allp = np.concatenate(every)
    print(f"{'all':14s} {int((allp < DEFAULT_ALPHA).sum()):7d} {stats.kstest(allp, 'uniform').pvalue:6.3f} "
          + " ".join(f"{(allp <= t).mean():6.3f}" for t in (0.01, 0.05, 0.25, 0.5)) + f" {allp.min():8.1e}")


if __name__ == "__main__":
    main()
