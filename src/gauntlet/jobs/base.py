"""Jobs and the executor interface.

A `Job` is a picklable call (a top-level function and its arguments) with a
stable key. An `Executor` runs a batch of jobs and makes their states visible
while it does: queued -> running -> done | failed, with retries, per-job
progress reported from inside the job (`report_progress`), an optional JSON
state file for other processes (the web app) to read, and Rich progress bars.

Executors differ only in *where* the calls run: `InlineExecutor` (this process),
`LocalProcessExecutor` (a local process pool); a Ray executor implements the
same `run` over remote tasks and forwards `report_progress` events through a
queue, exactly as the process pool does.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from gauntlet.errors import GauntletError, InputError


class JobState(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class JobFailed(GauntletError):
    """One or more jobs failed after their retries; the message names them."""


@dataclass(frozen=True)
class Job:
    key: str
    fn: Callable[..., Any]
    args: tuple = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    retries: int = 0  # extra attempts after a failure


@dataclass
class JobStatus:
    key: str
    description: str
    state: JobState = JobState.QUEUED
    attempts: int = 0
    error: str | None = None
    result: Any = field(default=None, repr=False)
    completed: int = 0
    total: int | None = None
    note: str = ""
    started_at: float | None = None
    finished_at: float | None = None

    def to_dict(self) -> dict:
        return {
            "key": self.key,
            "description": self.description,
            "state": self.state.value,
            "attempts": self.attempts,
            "error": self.error,
            "completed": self.completed,
            "total": self.total,
            "note": self.note,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }


# ---------------------------------------------------------------- progress from inside a job

_reporter: Callable[[str, int, int | None, str], None] | None = None
_current_key: str | None = None


def report_progress(completed: int, total: int | None = None, note: str = "") -> None:
    """Tell the executor running this job how far it is. A no-op outside an executor."""
    if _reporter is not None and _current_key is not None:
        _reporter(_current_key, completed, total, note)


def in_job() -> bool:
    return _current_key is not None


def _set_reporter(reporter: Callable[[str, int, int | None, str], None] | None) -> None:
    global _reporter
    _reporter = reporter


def _call_job(key: str, fn: Callable[..., Any], args: tuple, kwargs: Mapping[str, Any]) -> Any:
    global _current_key
    previous, _current_key = _current_key, key
    try:
        return fn(*args, **dict(kwargs))
    finally:
        _current_key = previous


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, GauntletError):
        return str(exc)
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# ---------------------------------------------------------------- executor interface


class Executor(ABC):
    """Runs jobs; subclasses decide where."""

    def __init__(self, *, state_path: str | Path | None = None):
        self.state_path = Path(state_path) if state_path else None
        self._lock = threading.RLock()
        self.statuses: dict[str, JobStatus] = {}
        self._on_change: Callable[[JobStatus], None] | None = None
        self._bar = None

    @abstractmethod
    def _execute(self, jobs: Sequence[Job]) -> None:
        """Run every job to DONE or FAILED, updating states through `_update`."""

    def run(
        self,
        jobs: Sequence[Job],
        *,
        progress: bool = True,
        on_change: Callable[[JobStatus], None] | None = None,
    ) -> dict[str, JobStatus]:
        """Run all jobs; return their final statuses by key (failures included)."""
        keys = [j.key for j in jobs]
        if len(set(keys)) != len(keys):
            raise InputError("job keys must be unique within one run")
        self.statuses = {j.key: JobStatus(key=j.key, description=j.description or j.key) for j in jobs}
        self._on_change = on_change
        self._write_state()
        if on_change is not None:
            for status in self.statuses.values():
                on_change(status)
        if progress and jobs:
            from gauntlet.jobs.board import JobBoard

            with JobBoard(self.statuses) as board:
                self._bar = board
                try:
                    self._execute(jobs)
                finally:
                    self._bar = None
        else:
            self._execute(jobs)
        return dict(self.statuses)

    def results(self, jobs: Sequence[Job], *, progress: bool = True) -> dict[str, Any]:
        """Run the jobs and return their results by key, or raise JobFailed naming every failure."""
        statuses = self.run(jobs, progress=progress)
        failed = [s for s in statuses.values() if s.state is JobState.FAILED]
        if failed:
            detail = "; ".join(f"{s.key}: {s.error}" for s in failed)
            raise JobFailed(f"{len(failed)} of {len(statuses)} jobs failed ({detail})")
        return {k: s.result for k, s in statuses.items()}

    # ------------------------------------------------------------ state bookkeeping
    def _update(self, key: str, **changes: Any) -> None:
        with self._lock:
            status = self.statuses[key]
            for name, value in changes.items():
                setattr(status, name, value)
            if changes.get("state") is JobState.RUNNING and status.started_at is None:
                status.started_at = time.time()
            if changes.get("state") in (JobState.DONE, JobState.FAILED):
                status.finished_at = time.time()
            self._write_state()
            if self._bar is not None:
                self._bar.refresh_job(status)
            if self._on_change is not None:
                self._on_change(status)

    def _progress(self, key: str, completed: int, total: int | None, note: str) -> None:
        if key in self.statuses:
            self._update(key, completed=completed, total=total, note=note)

    def _worker_event(self, kind: str, key: str, attempt: int, rest: Sequence, attempts: Mapping[str, int]) -> None:
        """A "running" or "progress" event sent from a worker. Events of an attempt that is
        no longer the current one, or of a job already finished, are stale and ignored."""
        status = self.statuses.get(key)
        if status is None or attempt != attempts.get(key) or status.state in (JobState.DONE, JobState.FAILED):
            return
        if kind == "running":
            self._update(key, state=JobState.RUNNING, note="")
        elif kind == "progress":
            self._progress(key, *rest)

    def _done(self, key: str, value: Any, last: tuple | None) -> None:
        """A job finished; its last progress report rides with its result, so the final
        count is exact even if its events were not read yet."""
        extra = dict(zip(("completed", "total", "note"), last)) if last else {}
        self._update(key, state=JobState.DONE, result=value, error=None, **extra)

    def _write_state(self) -> None:
        if self.state_path is None:
            return
        document = {"jobs": [s.to_dict() for s in self.statuses.values()]}
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".jobs-", dir=self.state_path.parent)
        with os.fdopen(fd, "w") as fh:
            json.dump(document, fh, indent=1)
        os.replace(tmp, self.state_path)
