"""`gauntlet chain verify`: was this model trained here, from a fresh initialisation?"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from gauntlet.cli import app

chain_app = typer.Typer(help="Verify a team's training run from its checkpoints.", no_args_is_help=True)
app.add_typer(chain_app, name="chain")


@chain_app.command("verify")
def verify_command(
    chain_file: Path = typer.Argument(..., help="CHAIN.json: checkpoints (step, tokens, path), final, optional init recipe."),
    against: List[Path] = typer.Option([], "--against", help="Reference model folder or fingerprint (repeatable)."),
    library: Optional[Path] = typer.Option(None, "--library", help="Folder of reference fingerprints with origin metadata."),
    as_json: bool = typer.Option(False, "--json", help="Print the JSON report on stdout."),
    html: Optional[Path] = typer.Option(None, "--html", help="Also write an HTML report with the chain plotted."),
    lang: str = typer.Option("ko", "--lang", help="Language of the HTML report: ko or en."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
) -> None:
    """Test every link of the chain, its step 0 and every model and update against the references."""
    from gauntlet.cli.challenge import report_language

    language = report_language(lang)  # checked before the work, not after
    from gauntlet.provenance import Library
    from gauntlet.provenance.chain import verify_chain

    refs: list = list(against)
    if library is not None:
        refs += Library.load(library).entries
    report = verify_chain(chain_file, refs, progress=not quiet)
    if html is not None:
        report.write_html(html, language)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    first = f" (first offending step: {report.first_offending_step})" if report.first_offending_step is not None else ""
    typer.echo(f"{chain_file}: {report.verdict}{first}")
    typer.echo(f"  step 0: {report.origin.verdict} ({report.origin.method})")
    for link in report.links:
        typer.echo(f"  {link.source.key} -> {link.target.key}: {link.verdict} (p = {link.p_value:.1e}, drift {link.drift:.3g})")
    for finding in report.findings:
        typer.echo(f"  * {finding}")
