"""Re-deciding a round after an upheld appeal, without erasing anything.

An appeal is filed by a team and answered by the organisers (web app or store).
When it is upheld, the organisers state what the panel corrected — a team's
independence verdict, or a component score — and the round is decided again
from the decision in force with exactly those corrections. The new decision
is a `re-decision` record that references the record it replaces and the
appeal's answer, and quotes the appeal; the original stays on record (the web
app shows every published decision of a round, marking the one in force).
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Mapping

from gauntlet.errors import InputError
from gauntlet.rounds.workspace import RoundContext, aware

VERDICTS = ("independent", "derived", "inconclusive")


def parse_corrections(items: list[str]) -> dict[str, dict[str, str]]:
    """`TEAM.FIELD=VALUE` strings (FIELD: independence or one of the spec's components) -> {team: {field: value}}."""
    corrections: dict[str, dict[str, str]] = {}
    for item in items:
        target, sep, value = item.partition("=")
        team, dot, name = target.partition(".")
        if not sep or not dot or not team or not value:
            raise InputError(f"--correct: expected TEAM.FIELD=VALUE, got {item!r}")
        corrections.setdefault(team, {})[name] = value
    return corrections


def corrected_inputs(inputs: dict, corrections: Mapping[str, Mapping[str, str]]) -> dict:
    """The decision inputs with the panel's corrections applied (the original is not modified).
    What changed and why is the ledger record's note, published in the bundle with the inputs."""
    if not corrections:
        raise InputError("a re-decision needs at least one correction (what the upheld appeal changed)")
    document = copy.deepcopy(inputs)
    teams = {t["team"]: t for t in document.get("teams", [])}
    for team, fields in corrections.items():
        if team not in teams:
            raise InputError(f"--correct: team {team!r} is not in the decision (teams: {', '.join(sorted(teams))})")
        entry = teams[team]
        for name, value in fields.items():
            if name != "independence" and name not in document.get("weights", {}):
                known = ", ".join(("independence", *document.get("weights", {})))
                raise InputError(f"--correct {team}.{name}: FIELD must be one of {known}")
            if name == "independence":
                if value not in VERDICTS:
                    raise InputError(f"--correct {team}.independence: expected one of {', '.join(VERDICTS)}")
                entry["independence"] = value
                # The panel's ruling replaces the audit's module findings for this team.
                entry.pop("findings", None)
            else:
                try:
                    score = float(value)
                except ValueError:
                    raise InputError(f"--correct {team}.{name}: expected a number from 0 to 100, got {value!r}") from None
                if not 0.0 <= score <= 100.0:
                    raise InputError(f"--correct {team}.{name}: expected a number from 0 to 100, got {value!r}")
                entry[name] = score
    return document


def redecide_round(ctx: RoundContext, round_id: str, appeal_id: int, corrections: Mapping[str, Mapping[str, str]],
                   *, now: datetime):
    """Draft a new decision of `round_id` after appeal `appeal_id` was upheld, with `corrections`
    (the rules are the lifecycle's; `gauntlet challenge publish` makes it the decision in force).
    Returns (sequence, ledger record, hash of the record it replaces)."""
    from gauntlet.rounds import service

    ctx.round(round_id)
    return service.redecide(ctx.store, ctx.spec, round_id, appeal_id, corrections, aware(now))
