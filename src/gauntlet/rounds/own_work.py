"""The round's evidence of own work: each team's training-run chain and the
benchmark-contamination test, run once the round is closed.

`own_work_round` verifies every chain a team handed in (against the spec's
references and every other team's submission) and tests every submission on
every task whose items carry the published/held-out split, Holm-corrected across
all teams and tasks at the spec's level, on each task's scored metric. When the
spec drops contaminated tasks (`on_contamination = "drop_task"`), the team's
benchmark component without them is computed here too. Everything is written to
one JSON document in the round's evidence folder (next to the audits' HTML),
which `gather_round` reads into the decision inputs and the report shows.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import datetime
from html import escape
from pathlib import Path

from gauntlet.domain.components import ComponentScore
from gauntlet.domain.own_work import ChainEvidence, ContaminationFinding
from gauntlet.errors import InputError
from gauntlet.i18n import _
from gauntlet.rounds.workspace import RoundContext

FILE = "own_work.json"


def _evidence_file(ctx: RoundContext, round_id: str) -> Path:
    return ctx.workspace.audits(round_id) / FILE


def _chain_detail(report) -> str:
    if report.verdict == "consistent":
        return "every link derived, step 0 fresh, nothing derived from a reference"
    first = f"first offending step {report.first_offending_step}: " if report.first_offending_step is not None else ""
    return first + "; ".join(report.findings[:2])


def own_work_round(ctx: RoundContext, round_id: str, tasks_dir: str | Path | None, *, now: datetime,
                   chains: Mapping[str, str | Path] | None = None, references: Mapping[str, str | Path] | None = None,
                   seed: int = 0, progress: bool = False) -> dict:
    from gauntlet.provenance.chain import verify_chain
    from gauntlet.provenance.chain_report import chain_plot

    ctx.require_locked(round_id, now)
    subs = {s["team"]: s for s in ctx.store.round_submissions(ctx.slug, round_id)}
    if not subs:
        raise InputError(f"round {round_id!r} has no submissions")
    unknown = sorted(set(chains or {}) - set(subs))
    if unknown:
        raise InputError(f"chain given for team {unknown[0]!r}, which has no submission in round {round_id!r}")
    folder = ctx.workspace.audits(round_id)
    folder.mkdir(parents=True, exist_ok=True)
    document: dict = {"round": round_id, "chains": {}, "contamination": {}, "benchmark_without": {}}
    for team, chain_file in sorted((chains or {}).items()):
        refs = [*map(str, (references or {}).values()), *(s["stored_path"] for t, s in subs.items() if t != team)]
        report = verify_chain(chain_file, refs, progress=progress)
        html = folder / f"{team}-chain.html"
        report.write_html(html, ctx.spec.language)
        document["chains"][team] = {"verdict": report.verdict, "detail": _chain_detail(report),
                                    "report": report.to_dict(), "html": html.name, "plot_svg": chain_plot(report)}
    if tasks_dir is not None:
        document["contamination"], document["benchmark_without"] = _contamination(ctx, subs, tasks_dir, seed)
    tmp = folder / (FILE + ".tmp")
    tmp.write_text(json.dumps(document, indent=1), encoding="utf-8")
    os.replace(tmp, folder / FILE)  # a kill leaves the old document or the new one
    return document


def _contamination(ctx: RoundContext, subs: dict, tasks_dir, seed: int) -> tuple[dict, dict]:
    from gauntlet.evaluation import benchmark_score, evaluate_model
    from gauntlet.evaluation.contamination import gap_tests, read_published_flags, split_scores
    from gauntlet.evaluation.suites import Suite
    from gauntlet.rounds.pipeline import round_suite

    suite, _ = round_suite(ctx, tasks_dir, only_available=True)
    split = []
    for entry in suite.entries:
        try:
            read_published_flags(entry.ref)
        except InputError:
            continue  # a task without a published/held-out split has nothing to test
        split.append(entry)
    if not split:
        return {}, {}
    refs = [e.ref for e in split]
    metrics = {e.task: e.scored_metric for e in split}
    evaluations = {team: evaluate_model(s["stored_path"], suite, cache_dir=ctx.workspace.eval_cache, seed=seed,
                                        progress=False, label=team) for team, s in sorted(subs.items())}
    families = {team: split_scores(ev, refs, metrics) for team, ev in evaluations.items()}
    level = ctx.spec.own_work.contamination_level if ctx.spec.own_work else 0.01
    rows = gap_tests(families, level=level)
    table = {team: [r.to_dict() for r in team_rows] for team, team_rows in rows.items()}
    without = {}
    if ctx.spec.own_work is not None and ctx.spec.own_work.on_contamination == "drop_task":
        for team, team_rows in rows.items():
            dropped = {r.task for r in team_rows if r.verdict == "contaminated"}
            kept = tuple(e for e in suite.entries if e.task not in dropped)
            if dropped and kept:
                c = benchmark_score(evaluations[team], Suite(suite.name, kept, suite.group_weights), seed=seed).component
                without[team] = {"value": c.value, "lower": c.lower, "upper": c.upper, "samples": list(c.samples),
                                 "dropped": sorted(dropped)}
    return table, without


def stored_own_work(ctx: RoundContext, round_id: str) -> dict | None:
    path = _evidence_file(ctx, round_id)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def chain_evidence(document: dict | None) -> dict[str, ChainEvidence]:
    return {team: ChainEvidence(c["verdict"], c["detail"]) for team, c in ((document or {}).get("chains") or {}).items()}


def contamination_findings(document: dict | None) -> dict[str, tuple[ContaminationFinding, ...]]:
    out = {}
    for team, rows in ((document or {}).get("contamination") or {}).items():
        out[team] = tuple(ContaminationFinding(r["task"], r["verdict"], r["p_value"], r["gap"])
                          for r in rows if r["p_value"] is not None)
    return out


def benchmark_without_dropped(document: dict | None) -> dict[str, ComponentScore]:
    return {team: ComponentScore(c["value"], c["lower"], c["upper"], tuple(c["samples"]))
            for team, c in ((document or {}).get("benchmark_without") or {}).items()}


def own_work_sections(document: dict | None, consequence: str) -> list[dict]:
    """Report sections: each chain (verdict, plot, findings) and the contamination table."""
    if not document:
        return []
    sections = []
    if document.get("chains"):
        parts = []
        for team, c in sorted(document["chains"].items()):
            findings = "".join(f"<li>{escape(f)}</li>" for f in c["report"]["findings"])
            parts.append(f"<h3>{escape(team)}: {escape(c['verdict'])}</h3><p>{escape(c['detail'])}</p>"
                         f"{c['plot_svg']}<ul>{findings}</ul>")
        sections.append({"title": _("Training-run chains"), "html": "".join(parts)})
    if document.get("contamination"):
        rows = []
        for team, task_rows in sorted(document["contamination"].items()):
            for r in task_rows:
                if r["p_value"] is None:
                    rows.append(f"<tr><td>{escape(team)}</td><td>{escape(r['task'])}</td><td colspan=5>{escape(r['note'])}</td></tr>")
                    continue
                rows.append(
                    f"<tr><td>{escape(team)}</td><td>{escape(r['task'])}</td>"
                    f"<td>{r['published']['score']:.3f} (n={r['published']['n']})</td>"
                    f"<td>{r['held_out']['score']:.3f} (n={r['held_out']['n']})</td>"
                    f"<td>{r['gap']:+.3f} [{r['lower']:+.3f}, {r['upper']:+.3f}]</td><td>{r['p_value']:.1e}</td>"
                    f"<td>{escape(r['verdict'])}</td></tr>")
        words = {"flag": "flagged for the panel", "drop_task": "the task is dropped from that team's benchmark score",
                 "disqualify": "the team is disqualified"}
        sections.append({"title": _("Benchmark contamination"), "html": (
            f"<p>Published items against held-out items of the same randomly split pool: exact permutation test, "
            f"Holm-corrected across every team and task. A contaminated task: {escape(words.get(consequence, consequence))}.</p>"
            "<table><tr><th>Team</th><th>Task</th><th>Published</th><th>Held out</th><th>Gap [95%]</th>"
            "<th>p (corrected)</th><th>Verdict</th></tr>" + "".join(rows) + "</table>")})
    return sections
