"""`gauntlet ratings fit` vs a FastChat-style pipeline, both timed as whole processes.

Generates 1,000,000 votes among 100 models with known strengths (ties
included) into a CSV in a temporary folder, then runs, side by side:

* ours:     `gauntlet ratings fit VOTES --bootstrap N --json`
* baseline: the FastChat/LMArena rating pipeline as published
            (fastchat/serve/monitor/rating_systems.py): pandas.read_csv,
            factorize + np.unique(axis=0) into weighted (a, b, outcome) rows,
            scipy L-BFGS on the weighted logistic loss, bootstrap by multinomial
            reweighting fitted on a multiprocessing pool.

for the point fit (N = 0) and for 100 resamples, and prints wall-clock
ratios and the largest |rating difference| in Elo points.  Each command runs
`--repeat` times and the best time counts (other work on a shared machine
only ever adds time).  The baseline runs both with the BLAS default and with
one BLAS thread, and its faster setting is the one compared.

Usage: .venv/bin/python benchmarks/bench_ratings_fit.py [--votes 1000000] [--models 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

BASELINE = r'''
import json, math, multiprocessing as mp, os, sys
from functools import partial
import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit

def preprocess_for_bt(df):
    n_rows = len(df)
    model_indices, models = pd.factorize(pd.concat([df["model_a"], df["model_b"]]))
    matchups = np.column_stack([model_indices[:n_rows], model_indices[n_rows:]])
    schedule = np.full((n_rows, 3), fill_value=1, dtype=np.int32)
    schedule[:, [0, 1]] = matchups
    schedule[df["winner"] == "model_a", 2] = 2
    schedule[df["winner"] == "model_b", 2] = 0
    matchups_outcomes, weights = np.unique(schedule, return_counts=True, axis=0)
    matchups = matchups_outcomes[:, [0, 1]]
    outcomes = matchups_outcomes[:, 2].astype(np.float64) / 2.0
    weights = weights.astype(np.float64)
    return matchups, outcomes, models.to_list(), weights

def bt_loss_and_grad(ratings, matchups, outcomes, weights, alpha=1.0):
    matchup_ratings = ratings[matchups]
    logits = alpha * (matchup_ratings[:, 0] - matchup_ratings[:, 1])
    probs = expit(logits)
    loss = -((np.log(probs) * outcomes + np.log(1.0 - probs) * (1.0 - outcomes)) * weights).sum()
    matchups_grads = -alpha * (outcomes - probs) * weights
    model_grad = np.zeros_like(ratings)
    np.add.at(model_grad, matchups[:, [0, 1]], matchups_grads[:, None] * np.array([1.0, -1.0], dtype=np.float64))
    return loss, model_grad

def fit_bt(matchups, outcomes, weights, n_models, alpha, tol=1e-6):
    initial_ratings = np.zeros(n_models, dtype=np.float64)
    result = minimize(fun=bt_loss_and_grad, x0=initial_ratings, args=(matchups, outcomes, weights, alpha),
                      jac=True, method="L-BFGS-B", options={"disp": False, "maxiter": 100, "gtol": tol})
    return result["x"]

def scale_and_offset(ratings, models, scale=400, init_rating=1000):
    return (ratings * scale) + init_rating

if __name__ == "__main__":
    path, num_round = sys.argv[1], int(sys.argv[2])
    df = pd.read_csv(path)
    matchups, outcomes, models, weights = preprocess_for_bt(df)
    ratings = fit_bt(matchups, outcomes, weights, len(models), math.log(10.0))
    out = {"models": models, "rating": scale_and_offset(ratings, models).tolist()}
    if num_round:
        rng = np.random.default_rng(seed=0)
        idxs = rng.multinomial(n=len(df), pvals=weights / weights.sum(), size=(num_round))
        boot_weights = idxs.astype(np.float64) / len(df)
        bt_fn = partial(fit_bt, matchups, outcomes, n_models=len(models), alpha=np.log(10.0), tol=1e-6)
        with mp.Pool(os.cpu_count()) as pool:
            results = list(pool.imap_unordered(bt_fn, boot_weights))
        scaled = scale_and_offset(np.array(results), models)
        out["lower"] = np.quantile(scaled, 0.025, axis=0).tolist()
        out["upper"] = np.quantile(scaled, 0.975, axis=0).tolist()
    print(json.dumps(out))
'''


def generate_votes(path: Path, n_votes: int, n_models: int, seed: int = 7) -> None:
    from gauntlet.ratings.synthetic import generate_votes as draw, write_vote_csv

    strength = np.random.default_rng(seed).normal(0.0, 1.0, n_models)
    names = [f"model-{k:03d}" for k in range(n_models)]
    write_vote_csv(path, *draw(strength, n_votes, seed=seed + 1, tie_rate=0.15, names=names))


def timed(cmd: list[str], env: dict[str, str], repeat: int) -> tuple[float, str]:
    best, out = float("inf"), ""
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"{cmd[0]} failed: {done.stderr.strip()[-500:]}")
        best, out = min(best, elapsed), done.stdout
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--votes", type=int, default=1_000_000)
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--resamples", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    gauntlet = ROOT / ".venv" / "bin" / "gauntlet"
    ours = [str(gauntlet)] if gauntlet.exists() else [sys.executable, "-m", "gauntlet.cli"]
    env = dict(os.environ)
    env_one_thread = dict(env, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")

    with tempfile.TemporaryDirectory() as tmp:
        votes = Path(tmp) / "votes.csv"
        baseline = Path(tmp) / "fastchat_bt.py"
        baseline.write_text(BASELINE)
        generate_votes(votes, args.votes, args.models)
        size_mb = votes.stat().st_size / 1e6
        print(f"{args.votes:,} votes among {args.models} models ({size_mb:.0f} MB CSV); best of {args.repeat}\n")

        rows = []
        for label, n in (("point fit", 0), (f"{args.resamples} resamples", args.resamples)):
            t_ours, out_ours = timed(ours + ["ratings", "fit", str(votes), "--bootstrap", str(n), "--json"], env, args.repeat)
            base_cmd = [sys.executable, str(baseline), str(votes), str(n)]
            t_base_default, out_base = timed(base_cmd, env, args.repeat)
            t_base_single, _ = timed(base_cmd, env_one_thread, args.repeat)
            t_base = min(t_base_default, t_base_single)
            mine = {e["model"]: e for e in json.loads(out_ours)["ratings"]}
            theirs = json.loads(out_base)
            diff = max(abs(mine[m]["rating"] - r) for m, r in zip(theirs["models"], theirs["rating"]))
            bound_diff = None  # a point fit has no interval to compare
            if n:
                bound_diff = max(
                    max(abs(mine[m]["lower"] - lo), abs(mine[m]["upper"] - hi))
                    for m, lo, hi in zip(theirs["models"], theirs["lower"], theirs["upper"])
                )
            rows.append((label, t_ours, t_base_default, t_base_single, t_base / t_ours, diff, bound_diff))

    print(f"{'':<15}{'gauntlet':>10}{'fastchat':>10}{'fastchat':>11}{'speed-up':>10}{'max|Δ|':>9}{'max|Δ|':>9}")
    print(f"{'':<15}{'(s)':>10}{'(s)':>10}{'1 BLAS (s)':>11}{'(x)':>10}{'rating':>9}{'bounds':>9}")
    for label, t_o, t_d, t_s, ratio, diff, bdiff in rows:
        bounds = "-" if bdiff is None else f"{bdiff:.3f}"
        print(f"{label:<15}{t_o:>10.2f}{t_d:>10.2f}{t_s:>11.2f}{ratio:>10.2f}{diff:>9.3f}{bounds:>9}")
    print("\nspeed-up = faster FastChat setting / gauntlet (>1: gauntlet is faster); Δ in Elo points.")


if __name__ == "__main__":
    main()
