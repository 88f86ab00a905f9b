"""Contamination test: false positives over many corpus-only models, power on leaky ones.

Usage: python benchmarks/bench_contamination.py [--clean 100] [--leaky 5] [--steps 150]
       [--workdir /tmp/gauntlet-contamination-bench]

Each seed draws its own generated code task (random answers, a random half published),
trains a tiny Llama on CPU on the corpus only (or, for the leaky models, on the corpus
plus the published items), scores it through lm-eval and runs the published-vs-held-out
permutation test at the default level (0.01, Holm across tasks: one task here). Reports
the empirical false-positive rate of the clean models with its exact binomial 95% upper
bound, the distribution of their p-values, and how many leaky models are flagged.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np
from scipy import stats


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clean", type=int, default=100)
    parser.add_argument("--leaky", type=int, default=5)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/gauntlet-contamination-bench"))
    args = parser.parse_args()

    from gauntlet.console import progress_bar
    from gauntlet.evaluation import write_tasks
    from gauntlet.evaluation.contamination import DEFAULT_LEVEL, check_contamination
    from gauntlet.synth.contamination import code_task, train_model

    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    ps, flagged = [], []
    started = time.perf_counter()
    try:
        with progress_bar() as bar:
            row = bar.add_task("models", total=args.clean + args.leaky)
            for s in range(args.clean + args.leaky):
                leaky = s >= args.clean
                folder = args.workdir / f"seed-{s}"
                task = code_task(10_000 + s)
                write_tasks([task], folder / "tasks")
                model = train_model(folder / "model", seed=s, task=task if leaky else None,
                                    steps=300 if leaky else args.steps)
                report = check_contamination(model, folder / "tasks", cache_dir=folder / "cache", membership=False,
                                             progress=False)
                (flagged if leaky else ps).append(report.tasks[0].p_value if not leaky else report.verdict)
                shutil.rmtree(folder, ignore_errors=True)
                bar.advance(row)
    finally:
        shutil.rmtree(args.workdir, ignore_errors=True)
    ps = np.array(ps)
    false = int((ps < DEFAULT_LEVEL).sum())
    upper = stats.beta.ppf(0.975, false + 1, max(1, len(ps) - false)) if len(ps) else float("nan")
    print(f"\ncorpus-only models: {len(ps)} seeds, {time.perf_counter() - started:.0f} s in all")
    print(f"  flagged at {DEFAULT_LEVEL}: {false} / {len(ps)} = {false / max(1, len(ps)):.3f} "
          f"(exact 95% upper bound {upper:.3f}; level {DEFAULT_LEVEL})")
    for level in (0.05, 0.1, 0.5):
        print(f"  share of p < {level:<4}: {(ps < level).mean():.3f}  (at most {level} if calibrated)")
    print(f"  median p: {np.median(ps):.3f}")
    print(f"leaky models (trained on the published items): {sum(v == 'contaminated' for v in flagged)} / {len(flagged)} flagged")


if __name__ == "__main__":
    main()
