"""How sure is a decision? Monte Carlo over the components' uncertainty.

Each draw replaces every uncertain component score by a plausible value and
re-applies the same cuts (disqualifications are not resampled: they do not
come from noisy scores). Where a component's plausible values come from:
- bootstrap `samples` when given. When every team has the same number of
  samples for a component, one replicate index is drawn per draw and shared by
  all teams, which keeps the correlation of a joint bootstrap (an arena
  bootstrap resamples the votes of all models at once); otherwise each team's
  samples are resampled on their own;
- else a normal centred on the value whose 95% interval has the width of
  [lower, upper] (sd = width / 3.92);
- else (lower == upper) the value itself.
Random numbers come from numpy's PCG64 seeded by `monte_carlo.seed` and the
component/team names (not their position), so the result is a pure function of
the document and does not depend on the order in which teams are listed.

Rule for "too close to call" (documented contract): a team's published outcome
(advance / win, or performance cut) holds in a share of the draws - its outcome
confidence. When that share is below `monte_carlo.confidence` (0.95 by
default), the team's outcome is too close to call, and so is the decision.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from gauntlet.domain.canonical import publish_number
from gauntlet.domain.components import ComponentScore
from gauntlet.domain.inputs import DecisionInputs
from gauntlet.domain.scoring import ScoredTeam

Z95 = 1.959963984540054


def is_uncertain(inputs: DecisionInputs) -> bool:
    return any(c.uncertain for t in inputs.teams for c in t.components.values())


def _rng(seed: int, label: str) -> np.random.Generator:
    key = int.from_bytes(hashlib.sha256(label.encode("utf-8")).digest()[:8], "big")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy=seed, spawn_key=(key,))))


def _component_draws(inputs: DecisionInputs, name: str, teams: list[ScoredTeam]) -> np.ndarray:
    """(draws, teams) plausible values of one component."""
    mc = inputs.monte_carlo
    components: list[ComponentScore] = [s.entry.components[name] for s in teams]
    out = np.empty((mc.draws, len(teams)))
    lengths = {len(c.samples) for c in components}
    joint = len(lengths) == 1 and 0 not in lengths
    if joint:
        index = _rng(mc.seed, f"{name}\0joint").integers(0, lengths.pop(), size=mc.draws)
    for column, (s, c) in enumerate(zip(teams, components)):
        if joint:
            out[:, column] = np.asarray(c.samples)[index]
        elif c.samples:
            out[:, column] = _rng(mc.seed, f"{name}\0{s.team}").choice(np.asarray(c.samples), size=mc.draws)
        elif c.lower < c.upper:
            sd = (c.upper - c.lower) / (2 * Z95)
            out[:, column] = _rng(mc.seed, f"{name}\0{s.team}").normal(c.value, sd, size=mc.draws)
        else:
            out[:, column] = c.value
    return out


def survival_draws(inputs: DecisionInputs, standing: list[ScoredTeam]) -> tuple[np.ndarray, np.ndarray]:
    """(totals, survives): two (draws, teams) arrays for the standing teams,
    columns in the published ranking order."""
    weight_sum = float(sum(inputs.weights.values()))
    totals = np.zeros((inputs.monte_carlo.draws, len(standing)))
    for name, weight in sorted(inputs.weights.items()):
        if weight:
            totals += (weight / weight_sum) * _component_draws(inputs, name, standing)
    count = len(standing)
    # Stable sort on columns already in published order: exact ties in a draw
    # go to the better-published team, as the published tie-break would.
    order = np.argsort(-totals, axis=1, kind="stable")
    rank = np.empty_like(order)
    rank[np.arange(order.shape[0])[:, None], order] = np.arange(count)
    cuts = inputs.cuts
    survives = rank < count - cuts.eliminate_lowest
    if cuts.min_total is not None:
        survives &= totals >= cuts.min_total
    if cuts.advance_at_most is not None:
        survives &= rank < cuts.advance_at_most
    if cuts.winners is not None:
        survives &= rank < cuts.winners
    return totals, survives


@dataclass(frozen=True)
class TeamUncertainty:
    survival_probability: float
    outcome_confidence: float
    total_lower: float
    total_upper: float
    too_close_to_call: bool


def assess(
    inputs: DecisionInputs, standing: list[ScoredTeam], advancing: set[str]
) -> tuple[dict[str, TeamUncertainty], dict | None]:
    """Per-team uncertainty for the standing teams, and the margin at the cut
    (between the last team through and the first team cut), if there is one."""
    if not standing:
        return {}, None
    totals, survives = survival_draws(inputs, standing)
    draws = inputs.monte_carlo.draws
    needed = inputs.monte_carlo.confidence
    result = {}
    for column, s in enumerate(standing):
        through = int(survives[:, column].sum())
        agreeing = through if s.team in advancing else draws - through
        low, high = np.quantile(totals[:, column], [0.025, 0.975])
        result[s.team] = TeamUncertainty(
            survival_probability=publish_number(through / draws),
            outcome_confidence=publish_number(agreeing / draws),
            total_lower=publish_number(float(low)),
            total_upper=publish_number(float(high)),
            too_close_to_call=agreeing < needed * draws,
        )
    margin = None
    through_cols = [i for i, s in enumerate(standing) if s.team in advancing]
    cut_cols = [i for i, s in enumerate(standing) if s.team not in advancing]
    if through_cols and cut_cols:
        last, first_cut = max(through_cols), min(cut_cols)
        gap = totals[:, last] - totals[:, first_cut]
        low, high = np.quantile(gap, [0.025, 0.975])
        margin = {
            "between": [standing[last].team, standing[first_cut].team],
            "value": publish_number(standing[last].total - standing[first_cut].total),
            "lower": publish_number(float(low)),
            "upper": publish_number(float(high)),
        }
    return result, margin
