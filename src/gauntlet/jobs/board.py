"""Rich progress display of a batch of jobs: one line per job with its state."""

from __future__ import annotations

from collections.abc import Mapping

from gauntlet.console import progress_bar

_STYLE = {"queued": "dim", "running": "cyan", "done": "green", "failed": "red"}


class JobBoard:
    """An overall bar plus one bar per job (state, attempts, progress reported by the job)."""

    def __init__(self, statuses: Mapping[str, object]):
        self._statuses = statuses
        self._progress = progress_bar()
        self._rows: dict[str, int] = {}
        self._overall = None

    def __enter__(self) -> "JobBoard":
        self._progress.__enter__()
        self._overall = self._progress.add_task("jobs", total=len(self._statuses))
        for key, status in self._statuses.items():
            self._rows[key] = self._progress.add_task(self._label(status), total=None, start=False)
        return self

    def __exit__(self, *exc) -> None:
        self._progress.__exit__(*exc)

    def _label(self, status) -> str:
        state = status.state.value
        extra = f" (attempt {status.attempts})" if status.attempts > 1 else ""
        note = f" {status.note}" if status.note else ""
        return f"[{_STYLE[state]}]{state:<7}[/] {status.description}{extra}{note}"

    def refresh_job(self, status) -> None:
        row = self._rows.get(status.key)
        if row is None:
            return
        if status.state.value != "queued":
            self._progress.start_task(row)
        total, completed = status.total, status.completed
        if status.state.value == "done" and total is None:
            total, completed = 1, 1  # a job that reported no progress is simply finished
        self._progress.update(row, description=self._label(status), total=total, completed=completed)
        finished = sum(1 for s in self._statuses.values() if s.state.value in ("done", "failed"))
        self._progress.update(self._overall, completed=finished)
