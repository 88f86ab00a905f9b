"""Who advances, who is out, and why.

Order of judgement:
1. Disqualification: independence (see `independence.py`) and eligibility
   (the submission's licence must be on the spec's list of open-weight
   licences). A disqualified team is out whatever its score.
2. Performance cuts apply only among the teams still standing, in the strict
   ranking order (see `scoring.py`), all together:
   - `eliminate_lowest = k`: the k lowest are out (all of them if k >= count);
   - `min_total = x`: a total below x is out;
   - `advance_at_most = n`: only the first n may advance;
   - `winners = n` (final round): the first n win; the rest are out.
   Evidence of own work (`own_work.py`) adds reasons: a missing or broken
   training-run chain where one is required ("independence"), and a
   contamination finding where the policy disqualifies for it ("contamination").
Reasons published: "independence", "eligibility", "contamination", "performance".
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from gauntlet.domain.independence import rule_on
from gauntlet.domain.inputs import CutPolicy, DecisionInputs
from gauntlet.domain.own_work import rule_on_own_work
from gauntlet.domain.scoring import ScoredTeam


@dataclass(frozen=True)
class Disqualification:
    team: str
    reason: str
    detail: str


@dataclass(frozen=True)
class Judgement:
    disqualified: dict[str, Disqualification]
    flags: list[tuple[str, str, str]]  # (team, flag, detail)


def judge_eligibility(inputs: DecisionInputs, scored: list[ScoredTeam]) -> Judgement:
    disqualified: dict[str, Disqualification] = {}
    flags: list[tuple[str, str, str]] = []
    for s in scored:
        entry = s.entry
        ruling = rule_on(inputs.independence, entry.independence, entry.findings, entry.organisation)
        flags.extend((entry.team, code, detail) for code, detail in ruling.flags)
        own = rule_on_own_work(inputs.own_work, entry.chain, entry.contamination,
                               on_inconclusive=inputs.independence.on_inconclusive)
        flags.extend((entry.team, code, detail) for code, detail in own.flags)
        reasons: list[tuple[str, str]] = []
        if ruling.disqualified:
            reasons.append(("independence", ruling.detail))
        if own.independence:
            reasons.append(("independence", own.independence))
        if own.contamination:
            reasons.append(("contamination", own.contamination))
        if inputs.eligible_licences is not None:
            if entry.licence is None:
                reasons.append(("eligibility", "no licence declared; an open-weight licence is required"))
            elif entry.licence not in inputs.eligible_licences:
                reasons.append(("eligibility", f"licence {entry.licence!r} is not an allowed open-weight licence"))
        if reasons:
            disqualified[entry.team] = Disqualification(
                entry.team, reasons[0][0], "; ".join(detail for _, detail in reasons)
            )
    return Judgement(disqualified, flags)


def passes_cuts(totals_in_order: list[Fraction], cuts: CutPolicy) -> list[bool]:
    """For teams still standing, in ranking order: does each one advance?"""
    count = len(totals_in_order)
    keep = [True] * count
    for position, total in enumerate(totals_in_order):
        if position >= count - cuts.eliminate_lowest:
            keep[position] = False
        if cuts.min_total is not None and total < Fraction(cuts.min_total):
            keep[position] = False
        if cuts.advance_at_most is not None and position >= cuts.advance_at_most:
            keep[position] = False
        if cuts.winners is not None and position >= cuts.winners:
            keep[position] = False
    return keep


def describe_cut(position: int, count: int, total: Fraction, cuts: CutPolicy) -> str:
    """Why a standing team did not advance, in words."""
    reasons = []
    if position >= count - cuts.eliminate_lowest:
        reasons.append(f"among the {cuts.eliminate_lowest} lowest of {count} eligible teams")
    if cuts.min_total is not None and total < Fraction(cuts.min_total):
        reasons.append(f"total below the threshold {cuts.min_total:g}")
    if cuts.advance_at_most is not None and position >= cuts.advance_at_most:
        reasons.append(f"outside the {cuts.advance_at_most} who may advance")
    if cuts.winners is not None and position >= cuts.winners:
        reasons.append(f"outside the {cuts.winners} winners")
    return "; ".join(reasons)
