"""Executors that run on this machine: in-process, and a local process pool."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from gauntlet.jobs import base
from gauntlet.jobs.base import Executor, Job, JobState, describe_error


class InlineExecutor(Executor):
    """Runs jobs one after another in this process (debugging, single small jobs)."""

    def _execute(self, jobs: Sequence[Job]) -> None:
        previous = base._reporter
        base._set_reporter(self._progress)
        try:
            for job in jobs:
                for attempt in range(1, job.retries + 2):
                    self._update(job.key, state=JobState.RUNNING, attempts=attempt, error=None)
                    try:
                        result = base._call_job(job.key, job.fn, job.args, job.kwargs)
                    except Exception as exc:  # a job's failure is data, not a crash of the batch
                        final = attempt > job.retries
                        self._update(job.key, state=JobState.FAILED if final else JobState.QUEUED, error=describe_error(exc))
                        if final:
                            break
                    else:
                        self._update(job.key, state=JobState.DONE, result=result)
                        break
        finally:
            base._set_reporter(previous)


class LocalProcessExecutor(Executor):
    """Runs jobs in a pool of worker processes on this machine.

    Workers are started with `spawn` by default: a forked copy of a parent that has
    already started torch's thread pools can deadlock. `threads_per_worker` caps
    each worker's math threads so N workers do not oversubscribe the cores. A
    worker that dies (out of memory, killed) breaks the pool: every job then in
    flight counts one failed attempt and is retried in a fresh pool.
    """

    def __init__(
        self,
        max_workers: int | None = None,
        *,
        mp_context: str = "spawn",
        threads_per_worker: int | None = None,
        state_path: str | Path | None = None,
    ):
        super().__init__(state_path=state_path)
        self.max_workers = max_workers or max(1, (os.cpu_count() or 2) // 2)
        self.mp_context = mp_context
        self.threads_per_worker = threads_per_worker

    def _execute(self, jobs: Sequence[Job]) -> None:
        ctx = multiprocessing.get_context(self.mp_context)
        # A SimpleQueue writes synchronously, so a job's "running" event is in the pipe
        # before the job can crash its worker: that is how a broken pool tells the job
        # that killed it (charged an attempt) from jobs that were only waiting (not charged).
        events = ctx.SimpleQueue()
        attempts = {job.key: 0 for job in jobs}
        started: set[tuple[str, int]] = set()
        pool = self._pool(ctx, events, len(jobs))
        pending: dict[Future, Job] = {}
        breaks = 0

        def submit(job: Job, *, charge: bool = True) -> None:
            if charge:
                attempts[job.key] += 1
            self._update(job.key, state=JobState.QUEUED, attempts=attempts[job.key])
            future = pool.submit(_worker_call, job.key, attempts[job.key], job.fn, job.args, dict(job.kwargs))
            pending[future] = job

        try:
            for job in jobs:
                submit(job)
            while pending:
                done, _ = wait(list(pending), timeout=0.2, return_when=FIRST_COMPLETED)
                self._drain(events, attempts, started)
                broken = False
                retry: list[tuple[Job, bool]] = []
                for future in done:
                    job = pending.pop(future)
                    try:
                        result = future.result()
                    except BrokenProcessPool:
                        broken = True
                        # A pool that keeps breaking before anything starts (a worker
                        # that cannot even import) must not be retried for ever.
                        if (job.key, attempts[job.key]) not in started and breaks <= len(jobs):
                            retry.append((job, False))  # never ran: not its fault
                        elif attempts[job.key] <= job.retries:
                            self._update(job.key, error="worker process died")
                            retry.append((job, True))
                        else:
                            self._update(job.key, state=JobState.FAILED, error="worker process died")
                    except Exception as exc:  # a job's failure is data, not a crash of the batch
                        if attempts[job.key] <= job.retries:
                            self._update(job.key, error=describe_error(exc))
                            retry.append((job, True))
                        else:
                            self._update(job.key, state=JobState.FAILED, error=describe_error(exc))
                    else:
                        self._done(job.key, *result)
                if broken:
                    breaks += 1
                    pool.shutdown(wait=False, cancel_futures=True)
                    pool = self._pool(ctx, events, len(jobs))
                for job, charge in retry:
                    submit(job, charge=charge)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        else:
            pool.shutdown(wait=True)
        finally:
            events.close()

    def _pool(self, ctx, events, n_jobs: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=min(self.max_workers, max(1, n_jobs)),
            mp_context=ctx,
            initializer=_init_worker,
            initargs=(events, self.threads_per_worker),
        )

    def _drain(self, events, attempts: dict[str, int], started: set[tuple[str, int]]) -> None:
        while not events.empty():
            kind, key, attempt, *rest = events.get()
            if kind == "running":
                started.add((key, attempt))
            self._worker_event(kind, key, attempt, rest, attempts)


# ---------------------------------------------------------------- worker side

_events = None
_attempt: dict[str, int] = {}
_last_progress: dict[str, tuple] = {}


_thread_limits = None


def _init_worker(events, threads: int | None) -> None:
    global _events, _thread_limits
    _events = events
    if threads:
        # Libraries loaded later read the variables; ones already loaded (a forked worker
        # inherits its parent's BLAS) need threadpoolctl. Without it, N forked workers each
        # ran the parent's full BLAS pool: measured 3x slower than one process.
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ[var] = str(threads)
        from threadpoolctl import threadpool_limits

        _thread_limits = threadpool_limits(threads)
    base._set_reporter(_send_progress)


def _send_progress(key: str, completed: int, total: int | None, note: str) -> None:
    _last_progress[key] = (completed, total, note)
    if _events is not None:
        _events.put(("progress", key, _attempt.get(key, 0), completed, total, note))


def _worker_call(key: str, attempt: int, fn, args: tuple, kwargs: dict):
    _attempt[key] = attempt
    if _events is not None:
        _events.put(("running", key, attempt))
    _last_progress.pop(key, None)
    value = base._call_job(key, fn, args, kwargs)
    return value, _last_progress.pop(key, None)
