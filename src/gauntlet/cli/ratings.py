"""`gauntlet ratings ...`: Bradley-Terry ratings from FastChat-format vote files."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from gauntlet.cli import app

ratings_app = typer.Typer(
    help="Arena ratings: fit Bradley-Terry (Elo-scale) ratings with bootstrap intervals from vote files.",
    no_args_is_help=True,
)
app.add_typer(ratings_app, name="ratings")


@ratings_app.command("fit")
def fit(
    votes: Path = typer.Argument(
        ..., help="Vote file: CSV, JSONL or a JSON array with FastChat's columns model_a, model_b, winner "
        "(winner: model_a, model_b, tie, 'tie (bothbad)').",
    ),
    bootstrap: int = typer.Option(100, "--bootstrap", min=0, help="Bootstrap resamples for the 95% intervals (0: none)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap's multinomial draws."),
    style_control: bool = typer.Option(
        False, "--style-control",
        help="Adjust for answer length and markdown (needs FastChat's style columns, e.g. sum_assistant_a_tokens).",
    ),
    anchor: Optional[str] = typer.Option(
        None, "--anchor", metavar="MODEL=RATING",
        help="Pin one model's rating (default: the mean rating is 1000).",
    ),
    json_out: bool = typer.Option(False, "--json", help="Print {\"ratings\": [...]} as JSON on stdout."),
) -> None:
    """Fit ratings: maximum-likelihood Bradley-Terry on the Elo scale (400/ln 10 x log-strength),
    ties as half wins, 95% bootstrap intervals, rank = 1 + models whose lower bound beats this upper bound."""
    from gauntlet.errors import GauntletError

    try:
        leaderboard = _fit(votes, bootstrap, seed, style_control, anchor, quiet=json_out)
    except GauntletError as exc:
        # One line, exit 2, whatever shell wraps this command.
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if json_out:
        import json

        typer.echo(json.dumps(leaderboard.to_dict(), indent=2, ensure_ascii=False))
    else:
        _print_table(leaderboard, votes)


def _parse_anchor(text: Optional[str]):
    from gauntlet.errors import InputError

    if text is None:
        return None
    model, sep, value = text.rpartition("=")
    try:
        rating = float(value)
    except ValueError:
        rating = None
    if not sep or not model or rating is None:
        raise InputError(f"--anchor must look like MODEL=RATING, got {text!r}")
    return model, rating


def _fit(votes: Path, bootstrap: int, seed: int, style_control: bool, anchor: Optional[str], quiet: bool):
    from gauntlet.ratings.bradley_terry import fit_leaderboard
    from gauntlet.ratings.votes import read_votes

    pinned = _parse_anchor(anchor)
    pairwise = read_votes(votes, style_control=style_control)
    if quiet or not bootstrap:
        return fit_leaderboard(pairwise, bootstrap=bootstrap, seed=seed, style_control=style_control, anchor=pinned)
    from gauntlet.console import progress_bar

    with progress_bar(transient=True) as bar:
        task = bar.add_task("bootstrap", total=bootstrap)
        return fit_leaderboard(
            pairwise, bootstrap=bootstrap, seed=seed, style_control=style_control, anchor=pinned,
            progress=lambda done: bar.update(task, completed=done),
        )


def _print_table(leaderboard, votes: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{votes.name}: {leaderboard.n_votes:,} votes, {len(leaderboard.models)} models")
    table.add_column("rank", justify="right")
    table.add_column("model")
    table.add_column("rating", justify="right")
    table.add_column("95% interval", justify="right")
    for e in leaderboard.entries():
        table.add_row(str(e.rank), e.model, f"{e.rating:.1f}", f"{e.lower:.1f} .. {e.upper:.1f}")
    if leaderboard.style_coefficients:
        table.caption = "style coefficients: " + ", ".join(
            f"{k} {v:+.3f}" for k, v in leaderboard.style_coefficients.items()
        )
    Console().print(table)
