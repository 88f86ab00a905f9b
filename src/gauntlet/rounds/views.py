"""Terminal views of decisions, what-ifs, ledgers and specs (Rich, on stdout)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from gauntlet.domain.whatif import outcome_of

console = Console(highlight=False)


def _allocation_text(allocation: dict) -> str:
    return ", ".join(f"{n} {name}" for name, n in sorted(allocation.items())) or "-"


def show_decision(outputs: dict) -> None:
    uncertainty = outputs.get("uncertainty")
    components = list(outputs["ranking"][0]["points"]) if outputs["ranking"] else []
    table = Table(title="Round decision", title_justify="left")
    table.add_column("Rank", justify="right")
    table.add_column("Team")
    table.add_column("Total", justify="right")
    for name in components:
        table.add_column(name.capitalize(), justify="right")
    table.add_column("Outcome")
    if uncertainty:
        table.add_column("P(survive)", justify="right")
        table.add_column("95% total", justify="right")
    table.add_column("Allocation")
    for row in outputs["ranking"]:
        team = row["team"]
        cells = [str(row["rank"]), team, f"{row['total']:.2f}"]
        cells += [f"{row['points'][name]:.2f}" for name in components]
        cells.append(outcome_of(outputs, team))
        if uncertainty:
            u = uncertainty["teams"].get(team, {})
            p = u.get("survival_probability")
            cells.append("-" if p is None else f"{p:.3f}" + (" !" if u.get("too_close_to_call") else ""))
            lo, hi = u.get("total_lower"), u.get("total_upper")
            cells.append("-" if lo is None else f"{lo:.1f}-{hi:.1f}")
        cells.append(_allocation_text(outputs["allocation"].get(team, {})))
        table.add_row(*cells)
    console.print(table)
    for entry in outputs["eliminated"]:
        console.print(f"out: {entry['team']} ({entry['reason']}): {entry['detail']}")
    for flag in outputs["flags"]:
        console.print(f"flag: {flag['team']} [{flag['flag']}] {flag['detail']}", markup=False)
    if outputs.get("unallocated"):
        console.print(f"unallocated (nobody advances): {_allocation_text(outputs['unallocated'])}")
    if uncertainty:
        margin = uncertainty.get("margin")
        if margin:
            a, b = margin["between"]
            console.print(
                f"margin at the cut: {a} over {b} by {margin['value']:.2f} points "
                f"(95% interval {margin['lower']:.2f} to {margin['upper']:.2f}; "
                f"{uncertainty['draws']} draws, seed {uncertainty['seed']})"
            )
        if uncertainty["too_close_to_call"]:
            console.print(
                f"[bold red]TOO CLOSE TO CALL[/]: {', '.join(uncertainty['close_calls'])} "
                f"(outcome holds in fewer than {uncertainty['confidence']:.0%} of draws)"
            )


def show_what_if(result: dict) -> None:
    changes = result["changes"]
    def setting(key, value):
        if isinstance(value, dict):
            return ", ".join(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}" for k, v in value.items())
        return f"{key}={value}"

    scenario = "; ".join(setting(k, v) for k, v in sorted(result["scenario"].items()))
    if not changes:
        console.print(f"No outcome, rank or allocation changes under: {scenario}")
        return
    table = Table(title=f"What if: {scenario}", title_justify="left")
    for name in ("Team", "Outcome", "Rank", "Total", "Allocation"):
        table.add_column(name)
    with_p = any("survival_probability" in row for row in changes)
    if with_p:
        table.add_column("P(survive)")
    for row in changes:
        def pair(values, fmt=str):
            a, b = values
            return fmt(a) if a == b else f"{fmt(a)} -> {fmt(b)}"
        cells = [
            row["team"],
            pair(row["outcome"]),
            pair(row["rank"]),
            pair(row["total"], lambda v: f"{v:.2f}"),
            pair(row["allocation"], _allocation_text),
        ]
        if with_p:
            cells.append(pair(row.get("survival_probability", [None, None]), lambda v: "-" if v is None else f"{v:.3f}"))
        table.add_row(*cells)
    console.print(table)
    console.print(f"{result['outcomes_changed']} outcome(s) change.")


def show_sensitivity(rows: list[dict]) -> None:
    table = Table(title="Sensitivity: each weight moved alone, the others fixed", title_justify="left")
    for name in ("Component", "Weight", "First change going down", "First change going up"):
        table.add_column(name)

    def side(weight, teams):
        return "none in range" if weight is None else f"at {weight:g}: {', '.join(teams)}"

    for row in rows:
        table.add_row(
            row["component"], f"{row['weight']:g}",
            side(row["flips_at_or_below"], row["teams_below"]), side(row["flips_at_or_above"], row["teams_above"]),
        )
    console.print(table)


def show_ledger_report(name: str, report) -> None:
    if report.intact and report.head_checked:
        console.print(f"{name}: intact: {report.records} record(s), ending at the published head {report.head}")
    elif report.intact:
        console.print(f"{name}: the chain is consistent: {report.records} record(s), head {report.head}", markup=False)
        console.print("  not proven complete: records removed from the end (or every record) leave a consistent "
                      "chain; compare this head with the one the organisers published and re-run with "
                      "--head <published head>", markup=False)
    else:
        console.print(f"{name}: [bold red]{len(report.problems)} problem(s)[/] in {report.records} record(s)")
        for problem in report.problems:
            console.print(f"  {problem.message}", markup=False)
    note = f"re-decided {report.redecided} decision record(s): outputs follow from inputs" if report.intact else ""
    if report.other_code_version:
        note += f"; {report.other_code_version} recorded by another code version not re-decided"
    if note:
        console.print(note.lstrip("; "))


def show_ledger(records: list[dict]) -> None:
    table = Table(title="Ledger", title_justify="left")
    for name in ("Seq", "Kind", "Round", "Recorded", "Hash", "References", "Note"):
        table.add_column(name)
    for r in records:
        table.add_row(
            str(r["seq"]), r["kind"], r["round"] or "-", r["recorded_at"] or "-", r["hash"][:16],
            ", ".join(ref[:12] for ref in r["references"]) or "-", r["note"] or "",
        )
    console.print(table)
    if records:
        console.print(f"head: {records[-1]['hash']}")


def show_spec(spec) -> None:
    console.print(f"{spec.name} ({spec.organiser}): spec hash {spec.spec_hash}", markup=False)
    weights = ", ".join(f"{c.name} {c.weight:g}" for c in spec.scoring.components)
    console.print(f"scoring: {weights}")
    for r in spec.rounds:
        entrants = [t.id for t in spec.teams if t.joins_at_round == r.id]
        console.print(
            f"round {r.id}: deadline {r.submission_deadline.isoformat()}, decision {r.decision_date.isoformat()}, "
            f"appeals {r.appeal_window_days} days; {r.policy.describe()}"
            + (f"; entrants {', '.join(entrants)}" if entrants else ""),
            markup=False,
        )
    console.print(f"teams: {', '.join(t.id for t in spec.teams)}")
