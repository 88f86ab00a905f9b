"""Resource pools -> integer allocations that sum exactly to each pool.

Apportionment is Hamilton's largest-remainder method, done in exact
arithmetic: each team's quota is pool x share; everyone gets the whole part,
and the units left over go one each to the largest fractional remainders.
Equal remainders go to the better-ranked team, so the result is fully
determined by the ranking. Policies decide the shares:
- `equal`: the same share for every advancing team;
- `score_weighted`: shares proportional to the teams' totals (equal when all
  totals are zero);
- `tiered`: the i-th ranked advancing team weighs `tier_weights[i]` (the last
  weight repeats for everyone below).
Only advancing teams receive anything; with nobody advancing the whole pool is
reported as unallocated.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Sequence

from gauntlet.domain.inputs import AllocationPolicy


def shares(policy: AllocationPolicy, totals_in_rank_order: Sequence[Fraction]) -> list[Fraction]:
    count = len(totals_in_rank_order)
    if policy.policy == "score_weighted" and any(t > 0 for t in totals_in_rank_order):
        raw = [Fraction(t) for t in totals_in_rank_order]
    elif policy.policy == "tiered":
        tiers = policy.tier_weights
        raw = [Fraction(tiers[min(i, len(tiers) - 1)]) for i in range(count)]
        if not any(raw):
            raw = [Fraction(1)] * count
    else:
        raw = [Fraction(1)] * count
    total = sum(raw)
    return [r / total for r in raw]


def largest_remainder(pool: int, weights: Sequence[Fraction]) -> list[int]:
    """Split `pool` units by `weights` (which sum to 1), ties to the earlier entry."""
    if not weights:
        return []
    quotas = [pool * w for w in weights]
    whole = [q.numerator // q.denominator for q in quotas]
    left = pool - sum(whole)
    by_remainder = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - whole[i]), i))
    for i in by_remainder[:left]:
        whole[i] += 1
    return whole


def allocate(
    policy: AllocationPolicy,
    resources: dict[str, int],
    advancing: Sequence[str],
    totals_in_rank_order: Sequence[Fraction],
) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """(allocation per advancing team, unallocated units per resource)."""
    if not advancing:
        return {}, {name: count for name, count in sorted(resources.items()) if count}
    weights = shares(policy, totals_in_rank_order)
    allocation: dict[str, dict[str, int]] = {team: {} for team in advancing}
    for name, pool in sorted(resources.items()):
        for team, units in zip(advancing, largest_remainder(pool, weights)):
            allocation[team][name] = units
    return allocation, {}
