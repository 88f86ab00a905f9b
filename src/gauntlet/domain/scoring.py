"""Component scores -> totals and a strict, documented order.

A total is the weight-averaged sum of the 0-100 components: the weights are
points out of their sum (40/35/25 means 40% benchmark, 35% expert, 25% user).
Totals are computed exactly with `Fraction`s of the input floats so that two
teams are tied only when they are truly tied, on every machine.

Tie-break (documented contract): a higher total ranks first; on equal totals,
the higher score in the heaviest-weighted component (then the next heaviest,
and so on; equal weights in name order); if still equal, the team id in
Unicode code-point order decides. Ranks are positions in this order (1, 2, 3,
...), and every tie is flagged in the decision so that nobody mistakes an
arbitrary rule for a difference in merit.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from gauntlet.domain.components import TeamResult
from gauntlet.domain.inputs import DecisionInputs


@dataclass(frozen=True)
class ScoredTeam:
    entry: TeamResult
    total: Fraction
    points: dict[str, Fraction]

    @property
    def team(self) -> str:
        return self.entry.team


def score(inputs: DecisionInputs) -> list[ScoredTeam]:
    """Every team with its exact total, in the strict ranking order."""
    weight_sum = sum(Fraction(w) for w in inputs.weights.values())
    scored = []
    for entry in inputs.teams:
        points = {
            name: Fraction(inputs.weights[name]) * Fraction(entry.components[name].value) / weight_sum
            for name in inputs.weights
        }
        scored.append(ScoredTeam(entry, sum(points.values(), Fraction(0)), points))
    order = inputs.components
    scored.sort(
        key=lambda s: (-s.total, tuple(-Fraction(s.entry.components[c].value) for c in order), s.team)
    )
    return scored


def tie_notes(scored: list[ScoredTeam], components: tuple[str, ...]) -> list[tuple[str, str]]:
    """(team, explanation) for every team whose total equals a neighbour's."""
    notes = []
    for upper, lower in zip(scored, scored[1:]):
        if upper.total != lower.total:
            continue
        decided_by = "team id"
        for name in components:
            if upper.entry.components[name].value != lower.entry.components[name].value:
                decided_by = f"the higher {name} score"
                break
        notes.append((lower.team, f"equal total with {upper.team}; ranked below it by {decided_by}"))
    return notes
