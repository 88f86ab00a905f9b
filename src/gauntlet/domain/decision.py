"""`decide`: the decision contract, a pure function of one JSON document.

Output (every number rounded as `canonical.py` documents; lists in ranking
order):

    {"ranking":    [{"team", "total", "rank", "points": {component: points}}],
     "eliminated": [{"team", "reason", "detail"}],     # independence | eligibility | performance
     "advancing":  [team, ...],
     "winners":    [team, ...],                        # only when the round names winners
     "allocation": {team: {resource: int}},            # sums exactly to each pool
     "unallocated": {resource: int},                   # non-empty only when nobody advances
     "flags":      [{"team", "flag", "detail"}],       # inconclusive audit, permitted reuse, ties
     "uncertainty": {...}}                              # only when some component is uncertain

`uncertainty` = {"seed", "draws", "confidence", "too_close_to_call": bool,
"close_calls": [team, ...], "margin": {...} | null,
"teams": {team: {"survival_probability", "outcome_confidence", "total_lower",
"total_upper", "too_close_to_call"}}}.

`points` are each component's contribution to the total (weight share x
score). Publish with `canonical.canonical_json` to get the byte form.
"""

from __future__ import annotations

from typing import Any

from gauntlet.domain.allocation import allocate
from gauntlet.domain.canonical import publish_number
from gauntlet.domain.elimination import describe_cut, judge_eligibility, passes_cuts
from gauntlet.domain.inputs import DecisionInputs, read_inputs
from gauntlet.domain.scoring import score, tie_notes
from gauntlet.domain.uncertainty import assess, is_uncertain

DECISION_RULES = "gauntlet-decision/1"


def decide(document: Any) -> dict:
    """Decide a round from its input document. Raises `InvalidDocument`
    (a `ValueError` naming the key path) when the document is malformed."""
    return decide_inputs(read_inputs(document))


def decide_inputs(inputs: DecisionInputs) -> dict:
    scored = score(inputs)
    judgement = judge_eligibility(inputs, scored)
    standing = [s for s in scored if s.team not in judgement.disqualified]
    keep = passes_cuts([s.total for s in standing], inputs.cuts)
    advancing = [s.team for s, ok in zip(standing, keep) if ok]
    through = set(advancing)

    eliminated = []
    standing_position = {s.team: i for i, s in enumerate(standing)}
    for s in scored:
        if s.team in judgement.disqualified:
            dq = judgement.disqualified[s.team]
            eliminated.append({"team": s.team, "reason": dq.reason, "detail": dq.detail})
        elif s.team not in through:
            detail = describe_cut(standing_position[s.team], len(standing), s.total, inputs.cuts)
            eliminated.append({"team": s.team, "reason": "performance", "detail": detail})

    totals_through = [s.total for s in standing if s.team in through]
    allocation, unallocated = allocate(inputs.allocation, inputs.resources, advancing, totals_through)

    flags = [{"team": team, "flag": flag, "detail": detail} for team, flag, detail in judgement.flags]
    flags += [{"team": team, "flag": "tie", "detail": note} for team, note in tie_notes(scored, inputs.components)]
    uncertainty = _uncertainty(inputs, standing, through, judgement.disqualified) if is_uncertain(inputs) else None
    if uncertainty is not None:
        for team in uncertainty["close_calls"]:
            held = uncertainty["teams"][team]["outcome_confidence"]
            flags.append({
                "team": team,
                "flag": "too_close_to_call",
                "detail": f"the published outcome holds in {held:.1%} of plausible score draws "
                f"(at least {inputs.monte_carlo.confidence:.0%} needed)",
            })
    order = {s.team: i for i, s in enumerate(scored)}
    flags.sort(key=lambda f: (order[f["team"]], f["flag"], f["detail"]))

    outputs: dict[str, Any] = {
        "ranking": [
            {
                "team": s.team,
                "total": publish_number(s.total),
                "rank": position,
                "points": {name: publish_number(p) for name, p in s.points.items()},
            }
            for position, s in enumerate(scored, start=1)
        ],
        "eliminated": eliminated,
        "advancing": advancing,
        "allocation": allocation,
        "unallocated": unallocated,
        "flags": flags,
    }
    if inputs.cuts.winners is not None:
        outputs["winners"] = advancing
    if uncertainty is not None:
        outputs["uncertainty"] = uncertainty
    return outputs


def _uncertainty(inputs: DecisionInputs, standing, through: set[str], disqualified) -> dict:
    per_team, margin = assess(inputs, standing, through)
    teams = {
        team: {
            "survival_probability": u.survival_probability,
            "outcome_confidence": u.outcome_confidence,
            "total_lower": u.total_lower,
            "total_upper": u.total_upper,
            "too_close_to_call": u.too_close_to_call,
        }
        for team, u in per_team.items()
    }
    # Disqualification does not come from noisy scores: it is certain here.
    for team in disqualified:
        teams[team] = {"survival_probability": 0.0, "outcome_confidence": 1.0, "too_close_to_call": False}
    close = [s.team for s in standing if per_team[s.team].too_close_to_call]
    return {
        "seed": inputs.monte_carlo.seed,
        "draws": inputs.monte_carlo.draws,
        "confidence": inputs.monte_carlo.confidence,
        "too_close_to_call": bool(close),
        "close_calls": close,
        "margin": margin,
        "teams": teams,
    }
