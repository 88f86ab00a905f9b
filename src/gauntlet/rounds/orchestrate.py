"""Gather one round's stage results into the round engine's inputs.

Each stage (audit, benchmarks, arena, panel) produces its own typed result;
this module joins them per team into `TeamResult`s for `decision_inputs`, and
keeps the audit's evidence for the report. It holds no policy of its own:
which reuse disqualifies is the spec's independence policy, applied by
`gauntlet.domain`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from gauntlet.domain.components import ComponentScore
from gauntlet.domain.independence import ModuleFinding
from gauntlet.rounds.inputs import TeamResult, findings_from_audit
from gauntlet.spec.model import ChallengeSpec

FINGERPRINT_SUFFIX = ".gfp"


@dataclass(frozen=True)
class TeamAudit:
    """A team's audit against every reference and every other team."""

    team: str
    verdict: str
    findings: tuple[ModuleFinding, ...]
    report: dict
    html: Path | None = None


def fingerprint_models(models: Mapping[str, Path], origins: Mapping[str, dict], out_dir: Path,
                       *, progress: bool = True) -> dict[str, Path]:
    """Fingerprint each model once (one streaming pass); later audits read the small files."""
    from gauntlet.provenance import fingerprint_model

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, folder in models.items():
        path = out_dir / f"{name}{FINGERPRINT_SUFFIX}"
        fingerprint_model(folder, name=name, origin=dict(origins.get(name, {})), progress=progress).save(path)
        paths[name] = path
    return paths


def audit_teams(teams: Mapping[str, Path], references: Mapping[str, Path], spec: ChallengeSpec,
                report_dir: Path, *, alpha: float | None = None) -> dict[str, TeamAudit]:
    """Audit every team against the references and against each other team.

    Two teams sharing weights is a finding for both: each sees the other as a
    reference whose origin (organisation, country) the policy judges.
    """
    from gauntlet.provenance import DEFAULT_ALPHA, audit

    report_dir.mkdir(parents=True, exist_ok=True)
    audits = {}
    for team, fingerprint in teams.items():
        others = [path for name, path in teams.items() if name != team]
        report = audit(fingerprint, [*references.values(), *others], alpha=alpha or DEFAULT_ALPHA, progress=False)
        html = report_dir / f"{team}.html"
        report.write_html(html, spec.language)
        document = report.to_dict()
        verdict, findings = findings_from_audit(document, spec)
        audits[team] = TeamAudit(team, verdict, findings, document, html)
    return audits


def stored_team_audit(team: str, stored: list[dict], spec: ChallengeSpec, evidence_dir: Path | None = None) -> TeamAudit:
    """A team's audit read back from the store (one row per reference, each holding that
    reference's part of the report).  The team's verdict follows the audit's own rule:
    derived if any reference is, else inconclusive if any is, else independent."""
    references = [row["report"] or {"reference": row["reference"], "verdict": row["verdict"],
                                     "p_value": row["p_value"]} for row in stored]
    verdicts = {r["verdict"] for r in references}
    verdict = "derived" if "derived" in verdicts else "inconclusive" if "inconclusive" in verdicts else "independent"
    document = {"candidate": team, "verdict": verdict, "references": references}
    _, findings = findings_from_audit(document, spec)
    names = {r.get("evidence") for r in references if r.get("evidence")}
    html = evidence_dir / sorted(names)[0] if evidence_dir is not None and names else None
    return TeamAudit(team, verdict, findings, document, html)


def audit_rows(audits: Mapping[str, TeamAudit], relative_to: Path | None = None) -> list[dict]:
    """One row per (team, reference) for reports: verdict, p-value, the modules found derived."""
    rows = []
    for team, team_audit in audits.items():
        html = team_audit.html
        if html is not None and relative_to is not None:
            html = html.relative_to(relative_to)
        for ref in team_audit.report.get("references", ()):
            derived = sorted({m.get("name", "?") for m in ref.get("modules", ()) if m.get("verdict") == "derived"})
            rows.append({"team": team, "reference": ref["reference"], "verdict": ref["verdict"],
                         "p_value": ref["p_value"], "modules": derived, "html": str(html) if html else None})
    return rows


def team_results(components: Mapping[str, Mapping[str, ComponentScore]], audits: Mapping[str, TeamAudit],
                 licences: Mapping[str, str | None] | None = None, *, chains: Mapping | None = None,
                 contamination: Mapping | None = None) -> list[TeamResult]:
    """Join per-team component scores, audit findings, licences and evidence of own work
    (`rounds.own_work`: chain evidence and contamination findings; teams in `components` order)."""
    results = []
    for team, scores in components.items():
        team_audit = audits.get(team)
        results.append(TeamResult(
            team=team,
            components=dict(scores),
            independence=team_audit.verdict if team_audit else "inconclusive",
            findings=team_audit.findings if team_audit else (),
            licence=(licences or {}).get(team),
            chain=(chains or {}).get(team),
            contamination=tuple((contamination or {}).get(team, ())),
        ))
    return results
