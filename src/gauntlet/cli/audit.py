"""`gauntlet fingerprint` and `gauntlet audit`: the independence audit from the core install."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from gauntlet.cli import app


@app.command("fingerprint")
def fingerprint_command(
    model: Path = typer.Argument(..., help="Model folder (config.json + *.safetensors)."),
    output: Path = typer.Option(..., "-o", "--output", help="Fingerprint file to write."),
    name: Optional[str] = typer.Option(None, help="Name to record (default: folder name)."),
    organisation: Optional[str] = typer.Option(None, help="Origin: who released the model."),
    country: Optional[str] = typer.Option(None, help="Origin: country of the organisation."),
    licence: Optional[str] = typer.Option(None, help="Origin: licence of the weights."),
    release_date: Optional[str] = typer.Option(None, help="Origin: release date (YYYY-MM-DD)."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Fingerprint a model in one streaming pass (small file, records every shard's sha256)."""
    from gauntlet.provenance import fingerprint_model

    origin = {k: v for k, v in {"organisation": organisation, "country": country, "licence": licence,
                                "release_date": release_date}.items() if v}
    fp = fingerprint_model(model, name=name, origin=origin, progress=not quiet)
    fp.save(output)
    size = output.stat().st_size
    typer.echo(f"{output}  ({size:,} bytes, {100 * size / max(1, fp.model_bytes):.3f}% of the model's {fp.model_bytes:,} bytes)")


@app.command("audit")
def audit_command(
    candidate: Path = typer.Argument(..., help="Candidate: model folder or fingerprint file."),
    against: List[Path] = typer.Option([], "--against", help="Reference model folder or fingerprint (repeatable)."),
    library: Optional[Path] = typer.Option(None, "--library", help="Folder of reference fingerprints with origin metadata."),
    alpha: Optional[float] = typer.Option(None, "--alpha", help="Significance level for 'derived' (default 1e-4)."),
    as_json: bool = typer.Option(False, "--json", help="Print the JSON report on stdout."),
    html: Optional[Path] = typer.Option(None, "--html", help="Also write a readable HTML report here."),
    lang: str = typer.Option("ko", "--lang", help="Language of the HTML report: ko or en."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
) -> None:
    """Test whether CANDIDATE's weights were derived from any reference (null: independent training)."""
    from gauntlet.cli.challenge import report_language

    language = report_language(lang)  # checked before the work, not after
    from gauntlet.errors import InputError
    from gauntlet.provenance import DEFAULT_ALPHA, audit
    from gauntlet.provenance.library import library_files
    from gauntlet.provenance.screening import audit_library

    files = library_files(library) if library is not None else []
    if not against and not files:
        raise InputError("give at least one --against REF or a --library DIR")
    if alpha is not None and not 0 < alpha < 1:
        raise InputError(f"--alpha must be between 0 and 1, got {alpha}")
    alpha = alpha if alpha is not None else DEFAULT_ALPHA
    if files:  # a library may hold a whole hub: screened first, full tests where needed
        report = audit_library(candidate, list(against), files, alpha=alpha, progress=not quiet)
    else:
        report = audit(candidate, list(against), alpha=alpha, progress=not quiet)
    if html is not None:
        report.write_html(html, language)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    typer.echo(f"{report.candidate}: {report.verdict}")
    screened_out = sum(ref.screened_out for ref in report.references)
    for ref in report.references:
        if ref.screened_out:
            continue
        typer.echo(f"  vs {ref.reference}: {ref.verdict} (p = {ref.p_value:.2e})")
        fixed = [e for e in ref.excluded if e["reason"] != "rotary/position order"]
        if fixed:
            typer.echo(f"    left out of the evidence: {len(fixed)} tensor axes whose units are not interchangeable "
                       f"({', '.join(sorted({e['reason'] for e in fixed}))}); --json or --html lists them")
        for m in ref.modules:
            if m.verdict != "independent":
                typer.echo(f"    {m.name} [{m.kind}] -> {m.counterpart}: {m.verdict} (p = {m.p_value:.2e})")
    if screened_out:
        typer.echo(f"  {screened_out} more reference(s) ruled out by the library screen: independent (p = 1)")
