"""Active vs uniform battle sampling: how well is the ranking recovered per vote spent?

Ten models with known Bradley-Terry strengths, some pairs nearly tied (where
the ranking is genuinely hard) and some far apart (where extra votes are
wasted).  Each policy draws pairs sequentially; an honest simulated voter
decides each battle (15% ties).  At each budget we fit Bradley-Terry on the
votes so far and count discordant pairs against the true order (Kendall
distance; 0 = perfect ranking), and the mean standard error of adjacent
rating differences, averaged over seeds.  Both policies use the same seeds
for the voters' coin flips.

Usage: .venv/bin/python benchmarks/bench_ratings_sampling.py [--seeds 20]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from gauntlet.ratings.bradley_terry import ELO_PER_UNIT, fit_log_strengths
from gauntlet.ratings.sampling import ActivePairSampler, UniformPairSampler

STRENGTH = np.array([1.6, 1.5, 0.9, 0.8, 0.3, 0.25, -0.4, -0.45, -1.2, -2.0])
BUDGETS = (500, 1000, 2000, 4000)


def _fit(sampler_pairs, w, s, n):
    i = np.array([p[0] for p in sampler_pairs])
    j = np.array([p[1] for p in sampler_pairs])
    theta = fit_log_strengths(i, j, w, s, n, l2=1.0)  # same weak prior for both policies
    p = 1 / (1 + np.exp(-(theta[i] - theta[j])))
    info = np.zeros((n, n))
    v = w * p * (1 - p)
    np.add.at(info, (i, i), v)
    np.add.at(info, (j, j), v)
    np.add.at(info, (i, j), -v)
    np.add.at(info, (j, i), -v)
    cov = np.linalg.inv(info + np.eye(n))
    order = np.argsort(-theta)
    adjacent_se = [np.sqrt(cov[a, a] + cov[b, b] - 2 * cov[a, b]) for a, b in zip(order[:-1], order[1:])]
    discordant = sum(
        (theta[a] - theta[b]) * (STRENGTH[a] - STRENGTH[b]) < 0 for a in range(n) for b in range(a + 1, n)
    )
    return discordant, ELO_PER_UNIT * float(np.mean(adjacent_se))


def run(policy: str, seed: int):
    models = [f"m{k}" for k in range(len(STRENGTH))]
    sampler = ActivePairSampler(models) if policy == "active" else UniformPairSampler(models)
    pick_rng = np.random.default_rng(seed)
    vote_rng = np.random.default_rng(10_000 + seed)
    index = {m: k for k, m in enumerate(models)}
    pair_index = {p: k for k, p in enumerate(sampler.pairs)}
    w = np.zeros(len(sampler.pairs))
    s = np.zeros(len(sampler.pairs))
    results = {}
    for t in range(1, max(BUDGETS) + 1):
        a, b = sampler(pick_rng)
        i, j = index[a], index[b]
        u, tie = vote_rng.random(), vote_rng.random() < 0.15
        score = 0.5 if tie else float(u < 1 / (1 + np.exp(-(STRENGTH[i] - STRENGTH[j]))))
        sampler.observe(a, b, score)
        lo, hi, score_lo = (i, j, score) if i < j else (j, i, 1 - score)
        w[pair_index[(lo, hi)]] += 1
        s[pair_index[(lo, hi)]] += score_lo
        if t in BUDGETS:
            results[t] = _fit(sampler.pairs, w, s, len(models))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=40)
    args = parser.parse_args()
    start = time.perf_counter()
    table = {}
    for policy in ("uniform", "active"):
        runs = [run(policy, seed) for seed in range(args.seeds)]
        table[policy] = {b: (np.mean([r[b][0] for r in runs]), np.mean([r[b][1] for r in runs])) for b in BUDGETS}
    print(f"{len(STRENGTH)} models, {args.seeds} seeds, 15% ties; discordant pairs (of 45) and mean SE of "
          "adjacent rating gaps (Elo)\n")
    print(f"{'votes':>7}{'uniform':>10}{'active':>10}{'ratio':>8}{'SE unif':>10}{'SE active':>11}")
    for b in BUDGETS:
        (du, su), (da, sa) = table["uniform"][b], table["active"][b]
        ratio = da / du if du else float("nan")
        print(f"{b:>7}{du:>10.2f}{da:>10.2f}{ratio:>8.2f}{su:>10.1f}{sa:>11.1f}")
    print(f"\nratio = active / uniform discordant pairs (<1: active ranks better for the same votes); "
          f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
