"""Decide a round from what the store holds: gather -> decision inputs -> ledger ->
store -> published bundle -> HTML report.

The decision is appended to the ledger before anything else is written, so the
hash chain is the record of truth; the store then holds the same inputs and
outputs under that record's hash, and the bundle lets anyone re-run
`gauntlet round decide` on it and compare bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from pathlib import Path

from gauntlet.errors import InputError, StoreError
from gauntlet.rounds.gather import DEFAULT_BOOTSTRAP, RoundEvidence, copy_evidence, gather_round, missing_error
from gauntlet.rounds.workspace import RoundContext


@dataclass(frozen=True)
class RoundDecision:
    round: str
    sequence: int
    record_hash: str
    ledger_head: str
    inputs: dict
    outputs: dict
    report: Path
    bundle: Path
    inputs_file: Path
    gaps: tuple[str, ...] = ()
    evidence: RoundEvidence | None = field(default=None, repr=False)


def decide_round(ctx: RoundContext, round_id: str, *, now: datetime, seed: int = 0, allow_missing: bool = False,
                 report_dir: str | Path | None = None, bootstrap: int = DEFAULT_BOOTSTRAP,
                 draws: int = 4000) -> RoundDecision:
    """Decide a closed round once.  Refuses with one line naming every gap (a team short of
    reviews, votes, a benchmark result or an audit) unless `allow_missing`."""
    from gauntlet.provenance import DEFAULT_ALPHA
    from gauntlet.rounds import Ledger, decision_inputs
    from gauntlet.rounds.orchestrate import audit_rows
    from gauntlet.rounds.report import render_round_report

    ctx.require_closed(round_id, now)
    ctx.decisions_before(round_id)  # refuses while an earlier round is undecided
    try:
        earlier = ctx.store.round_decisions(ctx.slug, round_id)
    except StoreError:
        earlier = []
    if earlier:
        raise InputError(f"round {round_id!r} was already decided (decision #{earlier[-1]['sequence']}, record "
                         f"{earlier[-1]['record_hash'][:12]}); published decisions are never replaced")
    evidence = gather_round(ctx, round_id, seed=seed, bootstrap=bootstrap)
    if evidence.gaps and not allow_missing:
        raise missing_error(round_id, evidence.gaps)
    inputs = decision_inputs(ctx.spec, round_id, evidence.team_results(fill_missing=allow_missing),
                             seed=seed, draws=draws)
    ledger = Ledger(ctx.workspace.ledger)
    note = ("decided with gaps: " + "; ".join(evidence.gaps)) if evidence.gaps else ""
    record = ledger.append_decision(inputs, round_id=round_id, spec_hash=ctx.spec.spec_hash,
                                    recorded_at=now.isoformat(), note=note)
    outputs = record["outputs"]
    _record_human_components(ctx, evidence)
    sequence = ctx.store.record_decision(ctx.slug, round_id, inputs, outputs, record["hash"])
    head = ledger.head
    ctx.store.record_ledger_head(ctx.slug, head, records=len(ledger.records()))

    out = Path(report_dir) if report_dir else ctx.workspace.report(round_id)
    inputs_file, bundle = write_publication(out, inputs, ledger, record["hash"])
    sections = []
    if evidence.arena is not None:
        _write_votes(evidence, out)
        sections.append(arena_section(evidence))
    if evidence.panel is not None:
        sections.append(panel_section(evidence.panel))
    from gauntlet.rounds.own_work import own_work_sections

    sections += own_work_sections(evidence.own_work, ctx.spec.own_work.on_contamination if ctx.spec.own_work else "flag")
    if evidence.gaps:
        sections.append({"title": "Decided with gaps",
                         "html": "<ul>" + "".join(f"<li>{escape(g)}</li>" for g in evidence.gaps) + "</ul>"})
    unc = outputs.get("uncertainty", {}).get("teams", {})
    intervals = {t: (v["total_lower"], v["total_upper"]) for t, v in unc.items() if "total_lower" in v}
    audits = copy_evidence(evidence.audits, out / "audits")
    report = render_round_report(out / "index.html", board=ctx.store.round_board(ctx.slug, round_id),
                                 weights=inputs["weights"], audit_rows=audit_rows(audits, out), alpha=DEFAULT_ALPHA,
                                 inputs_file=inputs_file.name, ledger_head=head, total_intervals=intervals,
                                 extra_sections=sections)
    return RoundDecision(round_id, sequence, record["hash"], head, inputs, outputs, report, bundle, inputs_file,
                         tuple(evidence.gaps), evidence)


def write_publication(out: Path, inputs: dict, ledger, record_hash: str) -> tuple[Path, Path]:
    """What is published with every decision or re-decision: its inputs (readable JSON) and
    the bundle (inputs, outputs, record, chain head) that `gauntlet round decide` re-checks."""
    from gauntlet.rounds import publish

    out.mkdir(parents=True, exist_ok=True)
    inputs_file = out / "decision-inputs.json"
    inputs_file.write_text(json.dumps(inputs, indent=1, sort_keys=True, ensure_ascii=False), encoding="utf-8")
    bundle = out / "decision-bundle.json"
    publish(ledger, bundle, record_hash)
    return inputs_file, bundle


def _record_human_components(ctx: RoundContext, evidence: RoundEvidence) -> None:
    """The arena and panel components as decided, for the team pages and the leaderboard."""
    sources = {"user": evidence.arena.scores if evidence.arena else {},
               "expert": evidence.panel.scores if evidence.panel else {}}
    for name, scores in sources.items():
        for team, score in scores.items():
            sub = evidence.submissions[team]
            if name in sub["components"]:
                continue
            ctx.store.record_component(sub["submission_id"], name, score.value, score.lower, score.upper,
                                       {"samples": list(score.samples)})


def _write_votes(evidence: RoundEvidence, out: Path) -> None:
    """The counted votes in FastChat's columns (`gauntlet ratings fit votes.csv` refits them)
    and every vote with the reason it was or was not counted."""
    import csv

    review = evidence.arena.review
    with (out / "arena-votes.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["model_a", "model_b", "winner", "question_id", "day"])
        for v in review.accepted:
            writer.writerow([v.model_a, v.model_b, v.winner, v.prompt_id, v.day])
    reasons = {e.vote.sequence: e.reason for e in review.excluded}
    votes = sorted([*review.accepted, *(e.vote for e in review.excluded)], key=lambda v: v.sequence)
    with (out / "arena-vote-log.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["model_a", "model_b", "winner", "question_id", "day", "counted", "reason"])
        for v in votes:
            writer.writerow([v.model_a, v.model_b, v.winner, v.prompt_id, v.day,
                             "no" if v.sequence in reasons else "yes", reasons.get(v.sequence, "")])


def arena_section(evidence: RoundEvidence) -> dict:
    review, board = evidence.arena.review, evidence.arena.leaderboard
    reasons = review.reasons()
    excluded = ", ".join(f"{escape(k)}: {v}" for k, v in sorted(reasons.items())) or "none"
    rows = "" if board is None else "".join(
        f"<tr><td>{escape(r.model)}</td><td class='num'>{r.rating:.0f}</td>"
        f"<td class='num'>[{r.lower:.0f}, {r.upper:.0f}]</td><td class='num'>{r.rank}</td></tr>"
        for r in board.entries())
    html = (f"<p>{len(review.accepted):,} blind votes cast on the web counted; excluded votes by reason: {excluded} "
            "(every vote is in <code>arena-vote-log.csv</code>). Ratings are Bradley–Terry on the Elo scale with 95% "
            "bootstrap intervals; <code>gauntlet ratings fit arena-votes.csv</code> reproduces them.</p>"
            "<table><thead><tr><th>Model</th><th class='num'>Rating</th><th class='num'>95% interval</th>"
            f"<th class='num'>Rank</th></tr></thead><tbody>{rows}</tbody></table>")
    return {"title": "Public arena", "html": html}


def panel_section(result) -> dict:
    low = '<span class="badge close">low agreement</span>'
    rows = "".join(f"<tr><td>{escape(r.key)}</td><td class='num'>{'—' if r.alpha is None else f'{r.alpha:.2f}'}</td>"
                   f"<td>{low if r.flagged else 'ok'}</td></tr>" for r in result.reliability)
    html = (f"<p>{len(result.reviews)} reviews submitted by experts without a conflict of interest "
            f"(aggregated by {escape(result.aggregation)}, robust to one extreme reviewer). "
            "Inter-rater reliability per criterion (Krippendorff's α; below 0.667 is flagged):</p>"
            "<table><thead><tr><th>Criterion</th><th class='num'>α</th><th>Agreement</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")
    return {"title": "Expert panel", "html": html}


def round_status(ctx: RoundContext, round_id: str, *, seed: int = 0) -> tuple[list[dict], list[str]]:
    """Per team, what the store holds for the round, and what is still missing to decide it."""
    evidence = gather_round(ctx, round_id, seed=seed, bootstrap=0)  # point ratings are enough to show progress
    votes = {}
    if evidence.arena is not None:
        for v in evidence.arena.review.accepted:
            for m in (v.model_a, v.model_b):
                votes[m] = votes.get(m, 0) + 1
    rows = []
    for team in evidence.teams:
        sub = evidence.submissions[team]
        audit = evidence.audits.get(team)
        rows.append({"team": team, "manifest": sub["manifest_sha256"][:12], "licence": sub["licence"],
                     "audit": audit.verdict if audit else None,
                     "components": {k: v.value for k, v in evidence.components[team].items()},
                     "votes": votes.get(team, 0)})
    return rows, evidence.gaps
