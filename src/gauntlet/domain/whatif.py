"""What-if: re-decide under other weights or policies and say what changes.

A scenario is a set of changes to the top-level keys of the input document:
`weights` are merged (name the components you want to change), any other key
replaces the original, and `None` removes a key (e.g. drop a threshold).
Only teams whose outcome, rank or allocation changes appear in the table.
"""

from __future__ import annotations

import copy
from typing import Any

from gauntlet.domain.decision import decide
from gauntlet.domain.validation import InvalidDocument


def apply_scenario(document: Any, scenario: dict[str, Any]) -> dict:
    if not isinstance(document, dict):
        raise InvalidDocument("", "expected a JSON object (the decision input document)")
    changed = copy.deepcopy(document)
    for key, value in scenario.items():
        if key == "weights" and isinstance(value, dict) and isinstance(changed.get("weights"), dict):
            changed["weights"] = {**changed["weights"], **value}
        elif value is None:
            changed.pop(key, None)
        else:
            changed[key] = copy.deepcopy(value)
    return changed


def outcome_of(outputs: dict, team: str) -> str:
    """One word for a team's fate: winner, advancing, or out (reason)."""
    if team in outputs.get("winners", ()):
        return "winner"
    if team in outputs["advancing"]:
        return "advancing"
    for entry in outputs["eliminated"]:
        if entry["team"] == team:
            return f"out ({entry['reason']})"
    return "unknown"


def compare(before: dict, after: dict) -> list[dict]:
    """Rows for the teams whose outcome, rank or allocation differs, in the
    original ranking order."""
    ranks_before = {r["team"]: r for r in before["ranking"]}
    ranks_after = {r["team"]: r for r in after["ranking"]}
    rows = []
    for team in ranks_before:
        b, a = ranks_before[team], ranks_after[team]
        row = {
            "team": team,
            "outcome": [outcome_of(before, team), outcome_of(after, team)],
            "rank": [b["rank"], a["rank"]],
            "total": [b["total"], a["total"]],
            "allocation": [before["allocation"].get(team, {}), after["allocation"].get(team, {})],
        }
        survival = [
            doc.get("uncertainty", {}).get("teams", {}).get(team, {}).get("survival_probability")
            for doc in (before, after)
        ]
        if survival != [None, None]:
            row["survival_probability"] = survival
        row["outcome_changed"] = row["outcome"][0] != row["outcome"][1]
        if row["outcome_changed"] or row["rank"][0] != row["rank"][1] or row["allocation"][0] != row["allocation"][1]:
            rows.append(row)
    return rows


def what_if(document: Any, scenario: dict[str, Any]) -> dict:
    """{"scenario", "before", "after", "changes", "outcomes_changed"}."""
    before = decide(document)
    after = decide(apply_scenario(document, scenario))
    changes = compare(before, after)
    return {
        "scenario": scenario,
        "before": before,
        "after": after,
        "changes": changes,
        "outcomes_changed": sum(1 for row in changes if row["outcome_changed"]),
    }


def _point_values(document: dict) -> dict:
    """The document with every component reduced to its point value: a sweep
    asks which weights flip the published outcome, not how noisy it is."""
    plain = copy.deepcopy(document)
    weights = plain.get("weights", {})
    for team in plain.get("teams", ()):
        if isinstance(team, dict):
            for name in weights:
                if isinstance(team.get(name), dict) and "value" in team[name]:
                    team[name] = team[name]["value"]
    return plain


def _fates(outputs: dict) -> dict[str, str]:
    return {row["team"]: outcome_of(outputs, row["team"]) for row in outputs["ranking"]}


def sensitivity(document: Any, steps: int = 100) -> list[dict]:
    """For each component: holding the other weights fixed, the nearest weights
    below and above the current one (scanned over 0..sum of all weights in
    `steps` steps) at which some team's outcome changes, and which teams."""
    decide(document)  # validate once, with the real error messages
    plain = _point_values(document)
    weights = plain["weights"]
    span = float(sum(weights.values()))
    published = _fates(decide(plain))
    rows = []
    for name in sorted(weights, key=lambda n: (-weights[n], n)):
        current = float(weights[name])
        grid = sorted({round(span * i / steps, 6) for i in range(steps + 1)} | {current})
        flips: dict[float, list[str]] = {}
        for w in grid:
            if w == current or (w == 0 and sum(v for k, v in weights.items() if k != name) == 0):
                continue
            fates = _fates(decide({**plain, "weights": {**weights, name: w}}))
            changed = sorted(t for t in published if fates[t] != published[t])
            if changed:
                flips[w] = changed
        below = max((w for w in flips if w < current), default=None)
        above = min((w for w in flips if w > current), default=None)
        rows.append({
            "component": name,
            "weight": current,
            "flips_at_or_below": below,
            "teams_below": flips.get(below, []) if below is not None else [],
            "flips_at_or_above": above,
            "teams_above": flips.get(above, []) if above is not None else [],
        })
    return rows
