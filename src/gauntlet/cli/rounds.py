"""`gauntlet round ...`, `gauntlet ledger ...` and `gauntlet spec ...`: deciding
rounds, exploring alternatives, and checking the public record."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from gauntlet.cli import app

round_app = typer.Typer(
    help="Decide a round from its published inputs, explore what-ifs, and re-check published bundles.",
    no_args_is_help=True,
)
ledger_app = typer.Typer(help="Inspect and verify the hash-chained record of decisions.", no_args_is_help=True)
spec_app = typer.Typer(help="Check challenge specs (TOML).", no_args_is_help=True)
app.add_typer(round_app, name="round")
app.add_typer(ledger_app, name="ledger")
app.add_typer(spec_app, name="spec")

JSON_HELP = "Print canonical JSON on stdout (sorted keys, no spaces): the byte form that is published and hashed."


def _inputs_document(path: Path) -> dict:
    from gauntlet.rounds.bundle import is_bundle, read_bundle
    from gauntlet.rounds.decisions import read_json

    document = read_json(path)
    if is_bundle(document):
        return read_bundle(document, str(path))["inputs"]
    return document


@round_app.command("decide")
def decide_command(
    inputs: Path = typer.Argument(..., help="Decision input document (JSON), or a published decision bundle."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Decide a round: totals, ranking, eliminations with reasons, allocation.

    A pure function of the document: the same input gives byte-identical
    output on any machine running the same code version.
    """
    from gauntlet.rounds.views import show_decision
    from gauntlet.domain.canonical import canonical_json
    from gauntlet.rounds.decisions import decide

    outputs = decide(_inputs_document(inputs), source=str(inputs))
    if as_json:
        typer.echo(canonical_json(outputs))
    else:
        show_decision(outputs)


def _parse_weights(text: str) -> dict[str, float]:
    from gauntlet.errors import InputError

    weights: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        try:
            if not sep or not name.strip():
                raise ValueError
            weights[name.strip()] = float(value)
        except ValueError:
            raise InputError(f"--weights: expected NAME=NUMBER[,NAME=NUMBER...], got {part!r}") from None
    if not weights:
        raise InputError("--weights: expected NAME=NUMBER[,NAME=NUMBER...]")
    return weights


@round_app.command("what-if")
def what_if_command(
    inputs: Path = typer.Argument(..., help="Decision input document (JSON), or a published decision bundle."),
    weights: Optional[str] = typer.Option(
        None, "--weights", help="Changed weights, e.g. benchmark=50,expert=30,user=20 (unnamed components keep theirs)."
    ),
    eliminate_lowest: Optional[int] = typer.Option(None, "--eliminate-lowest", min=0, help="Cut the N lowest."),
    min_total: Optional[float] = typer.Option(None, "--min-total", help="Cut totals below this threshold."),
    advance_at_most: Optional[int] = typer.Option(None, "--advance-at-most", min=0, help="Let at most N advance."),
    winners: Optional[int] = typer.Option(None, "--winners", min=1, help="Name the top N winners (final round)."),
    allocation: Optional[str] = typer.Option(None, "--allocation", help="equal or score_weighted."),
    sweep: bool = typer.Option(
        False, "--sensitivity", help="Also sweep each weight (others fixed) and show where outcomes first change."
    ),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Re-decide under other weights or cuts and show which outcomes change.

    With --sensitivity, also report for each component how far its weight can
    move before any team's outcome changes.
    """
    from gauntlet.domain.canonical import canonical_json
    from gauntlet.errors import InputError
    from gauntlet.rounds.decisions import sensitivity, what_if
    from gauntlet.rounds.views import show_sensitivity, show_what_if

    scenario: dict = {}
    if weights is not None:
        scenario["weights"] = _parse_weights(weights)
    for key, value in (
        ("eliminate_lowest", eliminate_lowest), ("min_total", min_total),
        ("advance_at_most", advance_at_most), ("winners", winners), ("allocation_policy", allocation),
    ):
        if value is not None:
            scenario[key] = value
    if not scenario and not sweep:
        raise InputError("what-if: name at least one change (--weights, --eliminate-lowest, ...) or --sensitivity")
    document = _inputs_document(inputs)
    report: dict = {}
    if scenario:
        result = what_if(document, scenario, source=str(inputs))
        report.update({k: result[k] for k in ("scenario", "changes", "outcomes_changed")})
    if sweep:
        report["sensitivity"] = sensitivity(document, source=str(inputs))
    if as_json:
        typer.echo(canonical_json(report))
        return
    if scenario:
        show_what_if(result)
    if sweep:
        show_sensitivity(report["sensitivity"])


@round_app.command("replay")
def replay_command(
    bundle: Path = typer.Argument(..., help="A published decision bundle (JSON)."),
    ledger: Optional[Path] = typer.Option(None, "--ledger", help="Also check the record and its chain head in this ledger."),
) -> None:
    """Re-decide a published bundle here and confirm the output is byte-identical.

    Exit 0 when identical (and the record intact), 1 when anything differs.
    """
    from gauntlet.console import err_console
    from gauntlet.rounds.bundle import load_bundle, replay
    from gauntlet.rounds.ledger_file import Ledger

    document = load_bundle(bundle)
    result = replay(document, str(bundle))
    ok = result.ok
    if result.record_intact:
        typer.echo("record: intact (its hash matches its content)")
    else:
        typer.echo("record: ALTERED (its hash does not match its content)")
    if result.identical:
        typer.echo(f"outputs: byte-identical ({len(result.published)} bytes)")
    else:
        typer.echo("outputs: DIFFERENT from the published outputs")
        if result.recorded_code_version != result.current_code_version:
            typer.echo(f"  recorded by: {result.recorded_code_version}; re-decided by: {result.current_code_version}")
    if ledger is not None:
        store = Ledger(ledger)
        report = store.verify(document["chain_head"])
        head_found = not any(p.kind == "head_missing" for p in report.problems)
        in_ledger = store.contains(document["record"].get("hash"))
        typer.echo(
            f"ledger: {'intact' if report.intact else 'BROKEN'}; "
            f"chain head {'present' if head_found else 'MISSING'}; record {'present' if in_ledger else 'MISSING'}"
        )
        for problem in report.problems:
            err_console.print(f"  {problem.message}", markup=False, highlight=False)
        ok = ok and report.intact and in_ledger
    raise typer.Exit(0 if ok else 1)


@round_app.command("publish")
def publish_command(
    ledger: Path = typer.Argument(..., help="The ledger (JSON Lines)."),
    output: Path = typer.Option(..., "-o", "--output", help="Where to write the bundle."),
    record: Optional[str] = typer.Option(None, "--record", help="Seq number or hash prefix (default: latest decision)."),
) -> None:
    """Write a decision bundle (inputs, outputs, record, chain head) for publication."""
    from gauntlet.rounds.bundle import publish
    from gauntlet.rounds.ledger_file import Ledger

    bundle = publish(Ledger(ledger), output, record)
    typer.echo(f"bundle: {output} (record {bundle['record']['seq']}, chain head {bundle['chain_head']})")


def _store_records(db: str, challenge: Optional[str]) -> tuple[str, str]:
    """(slug, the record as JSON Lines) of a challenge in the store at `db` (default: its only one)."""
    from gauntlet.errors import InputError
    from gauntlet.store.repository import Store

    store = Store(db)
    slugs = [c["slug"] for c in store.challenges()]
    if challenge is None:
        if len(slugs) != 1:
            raise InputError(f"--challenge: the store holds {len(slugs)} challenges ({', '.join(slugs) or 'none'})")
        challenge = slugs[0]
    return challenge, store.export_ledger(challenge)


@ledger_app.command("export")
def ledger_export_command(
    output: Path = typer.Option(..., "-o", "--output", help="The JSON Lines file to write."),
    db: str = typer.Option(..., "--db", help="SQLAlchemy URL of the store."),
    challenge: Optional[str] = typer.Option(None, "--challenge", help="Challenge slug (default: the store's only one)."),
) -> None:
    """Write a challenge's record from the store as the JSON Lines file `gauntlet ledger verify` checks."""
    import os

    slug, text = _store_records(db, challenge)
    partial = output.with_name(f".{output.name}.partial-{os.getpid()}")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, output)  # a reader sees the old file or the whole new one
    typer.echo(f"{output}: {text.count(chr(10))} record(s) of {slug!r}")


@ledger_app.command("verify")
def ledger_verify_command(
    ledger: Optional[Path] = typer.Argument(None, help="The ledger (JSON Lines); or --db to read a store."),
    head: Optional[str] = typer.Option(None, "--head", help="A published chain head that must be in the ledger."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    db: Optional[str] = typer.Option(None, "--db", help="Verify the record in this store instead of a file."),
    challenge: Optional[str] = typer.Option(None, "--challenge", help="With --db: the challenge's slug."),
) -> None:
    """Check the hash chain: changed, removed, reordered or forged records are named.

    Records cut off the end can only be caught against the head the organisers
    published (--head); without it the report says what it could not prove.
    Exit 0 when no problem is found, 1 when any is, 2 for bad input.
    """
    import tempfile

    from gauntlet.domain.canonical import canonical_json
    from gauntlet.errors import InputError
    from gauntlet.rounds.ledger_file import Ledger
    from gauntlet.rounds.views import show_ledger_report

    if (ledger is None) == (db is None):
        raise InputError("give a ledger file or --db (one of them)")
    with tempfile.TemporaryDirectory(prefix="gauntlet-ledger-") as scratch:
        if db is not None:  # the store's record, exactly as `ledger export` writes it
            slug, text = _store_records(db, challenge)
            ledger, name = Path(scratch) / f"{slug}.jsonl", f"the record of {slug!r}"
            ledger.write_text(text, encoding="utf-8")
        else:
            name = str(ledger)
        report = Ledger(ledger).verify(head)
    if as_json:
        typer.echo(canonical_json({
            "intact": report.intact, "records": report.records, "head": report.head,
            "head_checked": report.head_checked,
            "redecided": report.redecided, "other_code_version": report.other_code_version,
            "problems": [{"line": p.line, "seq": p.seq, "kind": p.kind, "message": p.message} for p in report.problems],
        }))
    else:
        show_ledger_report(name, report)
    raise typer.Exit(0 if report.intact else 1)


@ledger_app.command("show")
def ledger_show_command(
    ledger: Path = typer.Argument(..., help="The ledger (JSON Lines)."),
    record: Optional[str] = typer.Option(None, "--record", help="Show one record in full: seq number or hash prefix."),
) -> None:
    """List the records (seq, kind, round, hash) or print one in full."""
    from gauntlet.rounds.views import show_ledger
    from gauntlet.domain.canonical import canonical_json
    from gauntlet.rounds.ledger_file import Ledger

    store = Ledger(ledger)
    if record is not None:
        typer.echo(canonical_json(store.find(record)))
    else:
        show_ledger(store.records())


@spec_app.command("check")
def spec_check_command(spec: Path = typer.Argument(..., help="A challenge spec (TOML).")) -> None:
    """Validate a challenge spec and summarise it."""
    from gauntlet.rounds.views import show_spec
    from gauntlet.spec import load

    show_spec(load(spec))

# `gauntlet challenge ...` registers itself on import (its module is not in the lead-owned list).
from gauntlet.cli import challenge  # noqa: E402,F401
