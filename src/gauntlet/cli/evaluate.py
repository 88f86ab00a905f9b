"""`gauntlet evaluate`: run a model on benchmark tasks through lm-eval."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from gauntlet.cli import app
from gauntlet.errors import GauntletError


@app.command("evaluate")
def evaluate(
    model_dir: Path = typer.Argument(..., help="Hugging Face model folder (config.json, *.safetensors, tokenizer)."),
    tasks: list[str] = typer.Option(
        ..., "--tasks", "-t",
        help="Task YAML, folder of task YAMLs, suite file (YAML/JSON/TOML with 'entries'), or an lm-eval task name. Repeatable.",
    ),
    backend: str = typer.Option("hf", "--backend", help="hf, vllm or local-completions."),
    device: str = typer.Option("cpu", "--device", help="Device for the hf backend (cpu, cuda, cuda:1...)."),
    batch_size: Optional[str] = typer.Option(None, "--batch-size", help="Integer or 'auto' (default: auto on GPU, 8 on CPU)."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="local-completions: the endpoint, e.g. http://127.0.0.1:8000/v1/completions."),
    served_model: Optional[str] = typer.Option(None, "--served-model", help="local-completions: model name sent to the endpoint."),
    cache: Optional[Path] = typer.Option(None, "--cache", help="Result cache folder (default: $GAUNTLET_EVAL_CACHE or ~/.cache/gauntlet/evaluation)."),
    seed: int = typer.Option(1234, "--seed", help="Seed for lm-eval's random, numpy, torch and few-shot sampling."),
    bootstrap: int = typer.Option(1000, "--bootstrap", help="Bootstrap replicates for the intervals."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON on stdout instead of a table."),
) -> None:
    """Evaluate MODEL_DIR on benchmark tasks; print each task's metric with a 95% interval
    and the suite's 0-100 component score. Results are cached: re-running recomputes nothing."""
    # Domain errors propagate to the app's group, which prints one line and exits 2.
    from gauntlet.evaluation import benchmark_score, evaluate_model, suite_from_specs

    suite = suite_from_specs(tasks)
    if suite.targets:
        raise _targets_unsupported(suite.targets)
    size: int | str | None = None
    if batch_size is not None:
        size = batch_size if batch_size == "auto" else _int(batch_size, "--batch-size")
    evaluation = evaluate_model(
        model_dir, suite, backend=backend, device=device, batch_size=size, cache_dir=cache, seed=seed,
        progress=not as_json, base_url=base_url, served_model=served_model,
    )
    score = benchmark_score(evaluation, suite, n_boot=bootstrap, seed=seed)
    if as_json:
        document = {"evaluation": evaluation.to_dict(), "suite": suite.to_dict(), "score": score.to_dict()}
        typer.echo(json.dumps(document, indent=1, ensure_ascii=False))
        return
    _print_table(evaluation, score)


def _int(text: str, option: str) -> int:
    from gauntlet.errors import InputError

    try:
        return int(text)
    except ValueError:
        raise InputError(f"{option} must be an integer or 'auto', got {text!r}") from None


def _targets_unsupported(targets: list[str]) -> GauntletError:
    from gauntlet.errors import InputError

    return InputError(
        f"the suite scores tasks relative to target model(s) {', '.join(targets)}; "
        "evaluate those through a round (or drop 'target') to score a single model"
    )


def _print_table(evaluation, score) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"{evaluation.model}  sha256 {evaluation.model_hash[:12]}  lm-eval {evaluation.harness_version}",
        caption=f"{len(evaluation.cached)} of {len(evaluation.results)} tasks from the cache",
    )
    for column in ("task", "group", "metric", "score", "95% CI", "n"):
        table.add_column(column, justify="right" if column in ("score", "n") else "left", no_wrap=column != "task")
    for entry in score.entries:
        table.add_row(
            entry.task, entry.group, entry.metric.split(",")[0], f"{entry.score.value:.1f}",
            f"{entry.score.lower:.1f}-{entry.score.upper:.1f}", str(evaluation.results[entry.task].n_items),
        )
    c = score.component
    table.add_row("component (0-100)", "", "", f"{c.value:.1f}", f"{c.lower:.1f}-{c.upper:.1f}", "", style="bold")
    Console().print(table)
