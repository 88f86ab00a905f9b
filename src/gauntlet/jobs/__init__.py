"""Where work runs: executors with visible job states, retries and progress.

    from gauntlet.jobs import Job, LocalProcessExecutor
    statuses = LocalProcessExecutor(max_workers=2).run([Job("a", fn, (x,))])
"""

from gauntlet.jobs.base import (
    Executor,
    Job,
    JobFailed,
    JobState,
    JobStatus,
    in_job,
    report_progress,
)
from gauntlet.jobs.local import InlineExecutor, LocalProcessExecutor

__all__ = [
    "Executor",
    "InlineExecutor",
    "Job",
    "JobFailed",
    "JobState",
    "JobStatus",
    "LocalProcessExecutor",
    "in_job",
    "report_progress",
]
