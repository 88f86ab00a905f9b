"""`gauntlet contamination`: does a model do better on published items than on held-out ones?"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from gauntlet.cli import app


@app.command("contamination")
def contamination_command(
    model_dir: Path = typer.Argument(..., help="Hugging Face model folder."),
    tasks: Path = typer.Option(..., "--tasks", help="Folder of lm-eval task folders whose items carry \"published\": true/false."),
    level: float = typer.Option(0.01, "--level", help="Significance level after Holm correction across tasks."),
    cache: Optional[Path] = typer.Option(None, "--cache", help="Evaluation result cache (default: $GAUNTLET_EVAL_CACHE)."),
    device: str = typer.Option("cpu", "--device", help="Device for the hf backend."),
    membership: bool = typer.Option(True, "--membership/--no-membership", help="Also compare Min-K%++ membership scores."),
    as_json: bool = typer.Option(False, "--json", help="Print the JSON report on stdout."),
) -> None:
    """Permutation test of the published-minus-held-out gap on every task (exact p, Holm-corrected)."""
    from gauntlet.errors import InputError
    from gauntlet.evaluation.contamination import check_contamination

    if not 0 < level < 1:
        raise InputError(f"--level must be between 0 and 1, got {level}")
    report = check_contamination(model_dir, tasks, level=level, cache_dir=cache, device=device,
                                 membership=membership, progress=not as_json)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    typer.echo(f"{report.model}: {report.verdict} (level {report.level:g}, Holm across tasks)")
    for t in report.tasks:
        if t.p_value is None:
            typer.echo(f"  {t.task}: {t.note}")
            continue
        typer.echo(f"  {t.task}: published {t.published_score:.3f} (n={t.published_n}) vs held out "
                   f"{t.held_out_score:.3f} (n={t.held_out_n}); gap {t.gap:+.3f} [{t.lower:+.3f}, {t.upper:+.3f}], "
                   f"p = {t.p_value:.2e} -> {t.verdict}")
