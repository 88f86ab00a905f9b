"""What running a stage's jobs on Ray costs next to the local process pool, on one machine.

Usage: python benchmarks/bench_executors.py [--jobs 8] [--job-seconds 2]

Each job is the same CPU-bound work (a fixed number of float64 matrix products,
about --job-seconds on one core), reporting progress as it goes. The same jobs
run in this process (InlineExecutor), in the local process pool with one worker
per core, and on a Ray started here with one CPU per job; Ray's start-up is
timed apart from the run. On a single machine Ray can only add overhead: the
table shows how much, as the ratio pool time / Ray time (1.0 = no overhead).
What Ray buys is a cluster, which a single-machine benchmark cannot show.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def work(products: int, seed: int) -> float:
    from gauntlet.jobs import report_progress

    rng = np.random.default_rng(seed)
    a = rng.standard_normal((128, 128))
    total = 0.0
    for i in range(products):
        a = np.tanh(a @ a / 128.0)
        total += float(a[0, 0])
        if i % 50 == 0:
            report_progress(i + 1, products)
    return total


def calibrate(seconds: float) -> int:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        start = time.perf_counter()
        work(200, 0)
        per = (time.perf_counter() - start) / 200
    return max(1, int(seconds / per))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--job-seconds", type=float, default=2.0)
    args = ap.parse_args()

    import ray
    import ray.cloudpickle

    from gauntlet.jobs import InlineExecutor, Job, LocalProcessExecutor
    from gauntlet.jobs.ray_executor import RayExecutor

    import sys

    # this script is not importable in Ray's workers: its job function travels by value
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    cores = os.cpu_count() or 1
    products = calibrate(args.job_seconds)
    jobs = [Job(f"job-{i}", work, (products, i)) for i in range(args.jobs)]

    def timed(executor) -> tuple[float, dict]:
        start = time.perf_counter()
        results = executor.results(jobs, progress=False)
        return time.perf_counter() - start, results

    t_inline, expected = timed(InlineExecutor())
    # fork: this script's function must be importable by the workers (spawn would re-import it)
    t_pool, pool_results = timed(LocalProcessExecutor(max_workers=cores, mp_context="fork", threads_per_worker=1))
    start = time.perf_counter()
    ray.init(num_cpus=cores, include_dashboard=False, log_to_driver=False, object_store_memory=80 * 2**20)
    t_ray_start = time.perf_counter() - start
    try:
        timed(RayExecutor(cpus_per_job=1))  # workers warm up (imports), as a long-lived cluster's are
        t_ray, ray_results = timed(RayExecutor(cpus_per_job=1))
    finally:
        ray.shutdown()
    assert pool_results == expected and ray_results == expected, "every executor must compute the same results"

    print(f"{args.jobs} jobs of ~{args.job_seconds} s each on {cores} cores (same results from every executor)")
    print(f"{'executor':<28} {'wall s':>7} {'vs inline':>9}")
    print(f"{'inline (this process)':<28} {t_inline:7.2f} {t_inline / t_inline:9.2f}")
    print(f"{'local process pool':<28} {t_pool:7.2f} {t_inline / t_pool:9.2f}")
    print(f"{'Ray (started here)':<28} {t_ray:7.2f} {t_inline / t_ray:9.2f}")
    print(f"Ray overhead vs the pool: pool time / Ray time = {t_pool / t_ray:.2f} (1.00 = none); "
          f"starting Ray took {t_ray_start:.1f} s (once per cluster, not per stage).")


if __name__ == "__main__":
    main()
