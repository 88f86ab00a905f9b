"""Run jobs as Ray tasks: on a Ray cluster when one machine is not enough.

    from gauntlet.jobs.ray_executor import RayExecutor
    RayExecutor("auto", gpus_per_job=1).results(jobs)     # a running cluster
    RayExecutor("local").results(jobs)                     # a Ray started here

The contract is `Executor`'s, the same as the local process pool's: visible
states queued -> running -> done | failed, our own retries (Ray's are off, so
that `attempts` counts what really ran), `report_progress` from inside a job,
and a worker that dies counting one failed attempt. Progress and "running"
events travel through a `ray.util.queue.Queue` actor, the way the process pool
uses a pipe; a job's last progress report rides back with its result.

The cluster's nodes need Gauntlet installed (the same version), as they would
for any Python task; nothing is shipped at run time.
"""

from __future__ import annotations

from collections.abc import Sequence

from gauntlet.errors import InputError
from gauntlet.jobs import base
from gauntlet.jobs.base import Executor, Job, JobState, describe_error

POLL_SECONDS = 0.2


def _require_ray():
    try:
        import ray
    except ImportError:
        raise InputError("the Ray executor needs Ray: pip install 'gauntlet[ray]'") from None
    return ray


class RayExecutor(Executor):
    """Runs each job as one Ray task with `cpus_per_job` CPUs and `gpus_per_job` GPUs.

    address: "auto" (the cluster this machine belongs to), "ray://host:10001" (a remote
    cluster through Ray Client), or "local" (start a Ray on this machine for the run and
    stop it afterwards). When Ray is already initialised in this process it is used as is.
    """

    def __init__(self, address: str = "local", *, cpus_per_job: float = 1, gpus_per_job: float = 0,
                 state_path=None, init_options: dict | None = None):
        super().__init__(state_path=state_path)
        _check_address(address)
        if cpus_per_job <= 0 or gpus_per_job < 0:
            raise InputError("Ray jobs need a positive number of CPUs and a non-negative number of GPUs")
        self.address = address
        self.cpus_per_job = cpus_per_job
        self.gpus_per_job = gpus_per_job
        self.init_options = dict(init_options or {})

    def _connect(self, ray) -> bool:
        """Initialise Ray if this process has not; True when we did (and so shut it down)."""
        if ray.is_initialized():
            return False
        options = {"include_dashboard": False, "log_to_driver": False, **self.init_options}
        _probe(self.address)
        try:
            ray.init(address=None if self.address == "local" else self.address, **options)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise InputError(f"cannot reach the Ray cluster at {self.address!r}: {describe_error(exc)}") from None
        return True

    def _execute(self, jobs: Sequence[Job]) -> None:
        ray = _require_ray()
        from ray.exceptions import RayTaskError, TaskCancelledError
        from ray.util.queue import Empty, Queue

        started_here = self._connect(ray)
        events = Queue()
        task = ray.remote(_ray_call).options(num_cpus=self.cpus_per_job, num_gpus=self.gpus_per_job, max_retries=0)
        attempts = {job.key: 0 for job in jobs}
        pending: dict = {}

        def submit(job: Job) -> None:
            attempts[job.key] += 1
            self._update(job.key, state=JobState.QUEUED, attempts=attempts[job.key])
            ref = task.remote(events, job.key, attempts[job.key], job.fn, job.args, dict(job.kwargs), self.cpus_per_job)
            pending[ref] = job

        def drain() -> None:
            while (waiting := events.qsize()) > 0:
                try:
                    batch = events.get_nowait_batch(waiting)
                except Empty:
                    return
                for kind, key, attempt, *rest in batch:
                    self._worker_event(kind, key, attempt, rest, attempts)

        try:
            for job in jobs:
                submit(job)
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_SECONDS)
                drain()
                for ref in done:
                    job = pending.pop(ref)
                    try:
                        value, last = ray.get(ref)
                    except RayTaskError as exc:  # the job raised: report its own exception
                        error = describe_error(exc.cause if exc.cause is not None else exc)
                    except TaskCancelledError:
                        error = "cancelled"
                    except ray.exceptions.RayError:  # the worker or its node died
                        error = "worker process died"
                    else:
                        self._done(job.key, value, last)
                        continue
                    if attempts[job.key] <= job.retries:
                        self._update(job.key, error=error)
                        submit(job)
                    else:
                        self._update(job.key, state=JobState.FAILED, error=error)
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
        finally:
            try:
                events.shutdown()
            finally:
                if started_here:
                    ray.shutdown()


def _check_address(address: str) -> tuple[str, int] | None:
    if address in ("local", "auto"):
        return None
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise InputError(f"Ray address {address!r} is not 'local', 'auto', HOST:PORT or ray://HOST:PORT")
    return host, int(port)


def _probe(address: str, timeout: float = 5.0) -> None:
    """A host:port that does not answer is reported at once: Ray itself keeps retrying a
    missing cluster for minutes before it gives up."""
    import socket

    if address in ("local", "auto"):
        return
    host, port = _check_address(address)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        raise InputError(f"cannot reach the Ray cluster at {address!r}: {exc.strerror or exc}") from None


# ---------------------------------------------------------------- worker side


def _ray_call(events, key: str, attempt: int, fn, args: tuple, kwargs: dict, cpus: float = 1):
    """Runs inside a Ray worker: announce, run with progress forwarded, return (value, last report).

    Events go to the queue actor without waiting for it (calls from one worker to one actor
    keep their order): a job reporting progress often must not wait on a round trip each time.
    Math libraries get the job's CPUs as threads, whatever they were loaded with."""
    from threadpoolctl import threadpool_limits

    last: list[tuple] = []

    def forward(job_key: str, completed: int, total: int | None, note: str) -> None:
        last[:] = [(completed, total, note)]
        events.actor.put_nowait.remote(("progress", job_key, attempt, completed, total, note))

    events.actor.put_nowait.remote(("running", key, attempt))
    previous = base._reporter
    base._set_reporter(forward)
    try:
        with threadpool_limits(max(1, int(cpus))):
            value = base._call_job(key, fn, args, kwargs)
    finally:
        base._set_reporter(previous)
    return value, (last[0] if last else None)
