"""`gauntlet challenge decide|publish|redecide|join|lock|appeal|answer`: the commands
that append an event to the challenge's record, each a few lines over one function of
`gauntlet.rounds.service` (the same one the web app calls)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from gauntlet.cli.challenge import (DB, LANG_HELP, NOW, ROUND, SPEC, _context, _now, _store_option, challenge_app,
                                    report_language)


@challenge_app.command("decide")
def decide_command(
    spec: Path = SPEC,
    round_id: str = ROUND,
    seed: int = typer.Option(0, "--seed", help="Seed for the arena and panel bootstraps and the survival draws."),
    allow_missing: bool = typer.Option(False, "--allow-missing", help="Decide despite gaps: a missing component "
                                                                       "scores 0, a missing audit is inconclusive; "
                                                                       "the gaps are written into the ledger record."),
    as_json: bool = typer.Option(False, "--json", help="Print the draft as JSON."),
    now: Optional[str] = NOW,
    store: Path = _store_option(), db: Optional[str] = DB,
) -> None:
    """Draft a closed round's decision from what the store holds (organisers only see it).

    Benchmark results, the arena votes cast on the web (after the vote-quality
    rules), the expert reviews, audits and licences become the decision
    inputs; the draft and its ledger record are written in one transaction.
    Inspect it (survival probabilities, too-close-to-call, `gauntlet round
    what-if`), then `gauntlet challenge publish`. Missing votes, reviews,
    results or audits are refused in one line unless --allow-missing.
    """
    from gauntlet.domain.canonical import canonical_json
    from gauntlet.rounds.round_decision import decide_round
    from gauntlet.rounds.views import show_decision, show_sensitivity
    from gauntlet.rounds.decisions import sensitivity

    result = decide_round(_context(spec, store, db), round_id, now=_now(now), seed=seed, allow_missing=allow_missing)
    if as_json:
        typer.echo(canonical_json({"round": result.round, "sequence": result.sequence, "status": "draft",
                                   "record_hash": result.record_hash, "inputs": result.inputs,
                                   "outputs": result.outputs, "gaps": list(result.gaps)}))
        return
    show_decision(result.outputs)
    show_sensitivity(sensitivity(result.inputs))
    typer.echo(f"draft decision #{result.sequence} (record {result.record_hash[:16]}): not public until "
               f"`gauntlet challenge publish {spec} --round {round_id}`")


@challenge_app.command("publish")
def publish_command(
    spec: Path = SPEC,
    round_id: str = ROUND,
    as_json: bool = typer.Option(False, "--json", help="Print the publication as JSON."),
    now: Optional[str] = NOW,
    store: Path = _store_option(), db: Optional[str] = DB,
    lang: Optional[str] = typer.Option(None, "--lang", help=LANG_HELP),
) -> None:
    """Publish a round's draft decision: it becomes public and its appeal window opens.

    The report folder and the bundle are rebuilt from the record (atomically);
    running the command again after a crash completes them.
    """
    from gauntlet.domain.canonical import canonical_json
    from gauntlet.rounds.publication import publish_round

    result = publish_round(_context(spec, store, db), round_id, now=_now(now), language=report_language(lang))
    if as_json:
        typer.echo(canonical_json({"round": result.round, "sequence": result.sequence,
                                   "record_hash": result.record_hash, "ledger_head": result.ledger_head,
                                   "published": result.newly_published, "report": str(result.report),
                                   "bundle": str(result.bundle), "inputs": str(result.inputs_file)}))
        return
    what = "published" if result.newly_published else "already published; derived files complete"
    typer.echo(f"round {round_id!r}: decision #{result.sequence} {what}; ledger head {result.ledger_head}")
    typer.echo(f"report: {result.report}")
    typer.echo(f"bundle: {result.bundle}  (recompute: gauntlet round decide {result.bundle} --json)")


@challenge_app.command("redecide")
def redecide_command(
    spec: Path = SPEC,
    round_id: str = ROUND,
    appeal: int = typer.Option(..., "--appeal", help="The upheld appeal this re-decision answers."),
    correct: list[str] = typer.Option(..., "--correct", help="What the panel corrected, as TEAM.FIELD=VALUE "
                                                               "(FIELD: independence or a spec component); "
                                                               "repeat for several."),
    as_json: bool = typer.Option(False, "--json", help="Print the draft re-decision as JSON."),
    now: Optional[str] = NOW,
    store: Path = _store_option(), db: Optional[str] = DB,
) -> None:
    """Draft a new decision after an upheld appeal; the original decision is never erased.

    The decision in force is re-decided with exactly the stated corrections,
    recorded as a re-decision that references the record it replaces and the
    appeal's answer; `gauntlet challenge publish` makes it the decision in force.
    """
    from gauntlet.domain.canonical import canonical_json
    from gauntlet.rounds.redecision import parse_corrections, redecide_round
    from gauntlet.rounds.views import show_decision

    sequence, record, replaces = redecide_round(_context(spec, store, db), round_id, appeal,
                                                parse_corrections(correct), now=_now(now))
    if as_json:
        typer.echo(canonical_json({"round": round_id, "appeal": appeal, "sequence": sequence, "status": "draft",
                                   "replaces": replaces, "record_hash": record["hash"], "outputs": record["outputs"]}))
        return
    show_decision(record["outputs"])
    typer.echo(f"draft re-decision #{sequence} replaces record {replaces[:16]} once published")


@challenge_app.command("join")
def join_command(
    spec: Path = SPEC, team: str = typer.Argument(..., help="The entrant's id in the spec."),
    now: Optional[str] = NOW,
    store: Path = _store_option(), db: Optional[str] = DB,
) -> None:
    """An entrant declared in the spec joins at its round, bringing its own allotment."""
    from gauntlet.rounds import service

    ctx = _context(spec, store, db)
    record = service.join(ctx.store, ctx.spec, team, _now(now))
    typer.echo(f"{record['note']}; record {record['hash'][:16]}")


@challenge_app.command("lock")
def lock_command(
    spec: Path = SPEC, round_id: str = ROUND,
    now: Optional[str] = NOW,
    store: Path = _store_option(), db: Optional[str] = DB,
) -> None:
    """Freeze a round's submissions after its deadline (the first stage run after it does this too)."""
    from gauntlet.rounds import service

    ctx = _context(spec, store, db)
    locked = service.lock(ctx.store, ctx.spec, ctx.round(round_id).id, _now(now))
    typer.echo(f"round {round_id!r} submissions {'locked' if locked else 'were already locked'}")


@challenge_app.command("appeal")
def appeal_command(
    spec: Path = SPEC, team: str = typer.Argument(..., help="The appealing team's id."),
    round_id: str = ROUND,
    grounds: str = typer.Option(..., "--grounds", help="Why the decision should change."),
    now: Optional[str] = NOW,
    store: Path = _store_option(), db: Optional[str] = DB,
) -> None:
    """File a team's appeal against a round's published decision (as the team page does)."""
    from gauntlet.rounds import service

    ctx = _context(spec, store, db)
    typer.echo(f"appeal #{service.appeal(ctx.store, ctx.spec, team, round_id, grounds, _now(now))} filed")


@challenge_app.command("answer")
def answer_command(
    spec: Path = SPEC, appeal: int = typer.Argument(..., help="The appeal's number."),
    upheld: bool = typer.Option(..., "--upheld/--rejected", help="Whether the appeal is upheld."),
    reasons: str = typer.Option(..., "--reasons", help="The organisers' reasons."),
    now: Optional[str] = NOW,
    store: Path = _store_option(), db: Optional[str] = DB,
) -> None:
    """Answer an appeal, once (as the organiser page does)."""
    from gauntlet.rounds import service

    ctx = _context(spec, store, db)
    record = service.answer(ctx.store, ctx.spec, appeal, upheld, reasons, _now(now))
    typer.echo(f"appeal #{appeal} {'upheld' if upheld else 'rejected'}; record {record['hash'][:16]}")
