"""One place for terminal output: a stderr console and a progress-bar factory.

Progress goes to stderr so that `--json` output on stdout stays machine-readable.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

err_console = Console(stderr=True)


def progress_bar(*, transient: bool = False, bytes_mode: bool = False) -> Progress:
    """A Rich progress bar on stderr. It disables itself when stderr is not a terminal
    unless forced, so logs and CI output stay clean."""
    columns = [
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
    ]
    if bytes_mode:
        from rich.progress import DownloadColumn, TransferSpeedColumn

        columns += [DownloadColumn(), TransferSpeedColumn()]
    else:
        columns.append(MofNCompleteColumn())
    columns += [TimeElapsedColumn(), TimeRemainingColumn()]
    return Progress(*columns, console=err_console, transient=transient, disable=not err_console.is_terminal)
