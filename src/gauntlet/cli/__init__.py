"""The `gauntlet` command line.

Each command is a few lines that parse arguments and call the layers below.
Command groups live in sibling modules and register themselves on `app`;
heavy imports happen inside the commands so `gauntlet --help` stays instant.
Domain errors become one line on stderr and exit code 2 here, and only here.
"""

from __future__ import annotations

import typer
from typer.core import TyperGroup

from gauntlet.errors import GauntletError


class _GauntletGroup(TyperGroup):
    """Turns domain errors into one line on stderr and exit code 2, for every subcommand."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except GauntletError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None


app = typer.Typer(
    cls=_GauntletGroup,
    name="gauntlet",
    help="Run a sovereign-AI foundation-model challenge: intake, benchmarks, "
    "independence audit, arena and expert ratings, rounds, and a public record.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _register_groups() -> None:
    # Sibling modules add their commands to `app` on import.
    from gauntlet.cli import core  # noqa: F401

    for name in ("audit", "ratings", "evaluate", "rounds", "chain", "contamination"):
        try:
            __import__(f"gauntlet.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"gauntlet.cli.{name}":
                raise


_register_groups()


def main() -> None:
    """Run the CLI. Usage mistakes (unknown option, bad value, missing argument) are bad
    input like any other: one line on stderr and exit code 2, not a boxed usage screen."""
    import sys

    try:
        result = app(standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(1)
    except typer.exceptions.TyperException as exc:  # Typer's usage errors (BadParameter, NoSuchOption, ...)
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        if message:  # empty when the help itself was the answer (a group called without a command)
            ctx = getattr(exc, "ctx", None)
            hint = f" (see: {ctx.command_path} --help)" if ctx is not None else ""
            typer.echo(f"error: {message}{hint}", err=True)
        sys.exit(getattr(exc, "exit_code", 2))
    sys.exit(result if isinstance(result, int) else 0)
