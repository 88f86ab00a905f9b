"""Evidence of own work: a team's training-run chain and its benchmark-contamination tests.

Rules (pure; the evidence comes from `gauntlet chain verify` and `gauntlet contamination`):
- Chain. When the policy requires one (`require_chain`), a missing chain or a
  `broken` one disqualifies under the independence policy (the finding is the
  stated reason); an `inconclusive` chain is flagged for the panel, or
  disqualifies when the independence policy says so for inconclusive evidence.
  When no chain is required, a chain the team gave anyway is weighed the same
  way except that a missing one is no reason and a broken one is flagged.
- Contamination. A task `contaminated` for the team (Holm-corrected permutation
  test) leads to what the policy says: `flag` for the panel, `drop_task` (the
  task leaves that team's benchmark score; the scoring stage applies it, and it is
  flagged here so that the report and leaderboard say so), or `disqualify`.
"""

from __future__ import annotations

from dataclasses import dataclass

CHAIN_VERDICTS = ("consistent", "broken", "inconclusive")
CONTAMINATION_VERDICTS = ("contaminated", "clean", "inconclusive")
ON_CONTAMINATION = ("flag", "drop_task", "disqualify")


@dataclass(frozen=True)
class OwnWorkPolicy:
    require_chain: bool = False
    on_contamination: str = "flag"


@dataclass(frozen=True)
class ChainEvidence:
    verdict: str
    detail: str = ""


@dataclass(frozen=True)
class ContaminationFinding:
    task: str
    verdict: str
    p_value: float | None = None
    gap: float | None = None


@dataclass(frozen=True)
class OwnWorkRuling:
    independence: str = ""  # a reason under the independence policy ("" if none)
    contamination: str = ""  # a disqualifying contamination finding ("" if none)
    dropped_tasks: tuple[str, ...] = ()
    flags: tuple[tuple[str, str], ...] = ()


def rule_on_own_work(policy: OwnWorkPolicy, chain: ChainEvidence | None,
                     contamination: tuple[ContaminationFinding, ...], *, on_inconclusive: str = "flag") -> OwnWorkRuling:
    flags: list[tuple[str, str]] = []
    independence = ""
    if chain is None:
        if policy.require_chain:
            independence = "no training-run chain was provided, and this round requires one"
    elif chain.verdict == "broken":
        text = f"training-run chain broken: {chain.detail}" if chain.detail else "training-run chain broken"
        if policy.require_chain:
            independence = text
        else:
            flags.append(("chain_broken", text))
    elif chain.verdict == "inconclusive":
        text = f"training-run chain inconclusive: {chain.detail}" if chain.detail else "training-run chain inconclusive"
        if policy.require_chain and on_inconclusive == "disqualify":
            independence = text
        else:
            flags.append(("chain_inconclusive", text))
    found = [f for f in contamination if f.verdict == "contaminated"]
    described = "; ".join(f"{f.task}" + (f" (gap {f.gap:+.2f}, p = {f.p_value:.1e})" if f.p_value is not None and f.gap is not None else "")
                          for f in found)
    disqualifying, dropped = "", ()
    if found:
        if policy.on_contamination == "disqualify":
            disqualifying = f"better on published than on held-out benchmark items: {described}"
        elif policy.on_contamination == "drop_task":
            dropped = tuple(f.task for f in found)
            flags.append(("contamination_task_dropped", f"task(s) dropped from the benchmark score: {described}"))
        else:
            flags.append(("contamination", f"better on published than on held-out items, for the panel: {described}"))
    return OwnWorkRuling(independence, disqualifying, dropped, tuple(flags))
