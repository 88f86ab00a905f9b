"""Re-deciding a round after an upheld appeal, without erasing anything.

An appeal is filed by a team and answered by the organisers (web app or store).
When it is upheld, the organisers state what the panel corrected — a team's
independence verdict, or a component score — and the round is decided again
from the decision in force with exactly those corrections. The new decision
is a `re-decision` record in the ledger that references the record it
replaces and quotes the appeal; the original stays in the ledger and the store
(the web app shows every decision of a round, marking the one in force).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Mapping

from gauntlet.errors import InputError, StoreError
from gauntlet.rounds.workspace import RoundContext, aware

COMPONENTS = ("benchmark", "expert", "user")
VERDICTS = ("independent", "derived", "inconclusive")


@dataclass(frozen=True)
class ReDecision:
    round: str
    appeal: int
    sequence: int
    replaces: str  # record hash of the decision it replaces
    record_hash: str
    ledger_head: str
    inputs: dict
    outputs: dict
    inputs_file: Path
    bundle: Path


def parse_corrections(items: list[str]) -> dict[str, dict[str, str]]:
    """`TEAM.FIELD=VALUE` strings (FIELD: independence, benchmark, expert or user) -> {team: {field: value}}."""
    corrections: dict[str, dict[str, str]] = {}
    for item in items:
        target, sep, value = item.partition("=")
        team, dot, name = target.partition(".")
        if not sep or not dot or not team or not value:
            raise InputError(f"--correct: expected TEAM.FIELD=VALUE, got {item!r}")
        if name not in ("independence", *COMPONENTS):
            raise InputError(f"--correct {item!r}: FIELD must be independence, {', '.join(COMPONENTS)}")
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
                   *, now: datetime, report_dir: str | Path | None = None) -> ReDecision:
    """Decide `round_id` again after appeal `appeal_id` was upheld, with `corrections`."""
    from gauntlet.rounds import Ledger
    from gauntlet.rounds.round_decision import write_publication

    appeal = next((a for a in ctx.store.appeals(ctx.slug) if a["id"] == appeal_id), None)
    if appeal is None:
        raise StoreError(f"no appeal #{appeal_id}")
    if appeal["round"] != round_id:
        raise InputError(f"appeal #{appeal_id} is about round {appeal['round']!r}, not {round_id!r}")
    if appeal["upheld"] is not True:
        state = "not answered yet" if appeal["upheld"] is None else "rejected"
        raise InputError(f"appeal #{appeal_id} is {state}; only an upheld appeal leads to a re-decision")
    index = ctx.spec.round_index(round_id)
    if index + 1 < len(ctx.spec.rounds):
        # The next round was contested by the teams this decision let through: once its
        # submissions are locked, changing who advanced would rewrite that round too.
        following = ctx.spec.rounds[index + 1]
        if aware(now) >= following.submission_deadline:
            raise InputError(f"round {following.id!r} locked its submissions at "
                             f"{following.submission_deadline.isoformat()}; round {round_id!r} can no longer "
                             f"be re-decided")
    decisions = ctx.store.round_decisions(ctx.slug, round_id)
    in_force = decisions[-1]
    if in_force["sequence"] != appeal["decision_sequence"]:
        raise InputError(f"appeal #{appeal_id} was against decision #{appeal['decision_sequence']}, "
                         f"which decision #{in_force['sequence']} has already replaced")

    note = (f"appeal #{appeal_id} by {appeal['team']} upheld: {appeal['answer']} "
            f"(grounds: {appeal['grounds']})")
    changes = "; ".join(f"{team}.{name}={value}" for team, fields in sorted(corrections.items())
                        for name, value in sorted(fields.items()))
    note += f"; corrected: {changes}"
    inputs = corrected_inputs(in_force["inputs"], corrections)
    ledger = Ledger(ctx.workspace.ledger)
    record = ledger.append_decision(inputs, round_id=round_id, spec_hash=ctx.spec.spec_hash, kind="re-decision",
                                    references=(in_force["record_hash"],), note=note,
                                    recorded_at=now.isoformat())
    sequence = ctx.store.record_decision(ctx.slug, round_id, inputs, record["outputs"], record["hash"])
    ctx.store.record_ledger_head(ctx.slug, ledger.head, records=len(ledger.records()))

    out = Path(report_dir) if report_dir else ctx.workspace.report(round_id) / f"re-decision-{sequence}"
    inputs_file, bundle = write_publication(out, inputs, ledger, record["hash"])
    return ReDecision(round_id, appeal_id, sequence, in_force["record_hash"], record["hash"], ledger.head,
                      inputs, record["outputs"], inputs_file, bundle)
