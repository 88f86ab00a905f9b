"""One typed team result, from the stage that measures it to the page that shows it.

Every evaluation stage hands the round engine `ComponentScore`s; the decision
inputs are read back into the same `TeamResult` the orchestrator builds them
from, so there is one type for a component score and one for a team's result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from gauntlet.domain.independence import ModuleFinding
from gauntlet.domain.own_work import ChainEvidence, ContaminationFinding


@dataclass(frozen=True)
class ComponentScore:
    """A 0-100 component score (benchmark, expert, user) with its uncertainty.

    `lower`/`upper` bound a 95% interval. `samples` are bootstrap replicates of
    `value` on the same 0-100 scale (empty when none were drawn); the round
    engine resamples them to estimate how likely each team is to survive a cut.
    """

    value: float
    lower: float
    upper: float
    samples: tuple[float, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        if not (self.lower <= self.value <= self.upper):
            raise ValueError(f"interval [{self.lower}, {self.upper}] does not contain {self.value}")

    @classmethod
    def exact(cls, value: float) -> "ComponentScore":
        return cls(value, value, value)

    @property
    def uncertain(self) -> bool:
        return bool(self.samples) or self.lower < self.upper

    def to_dict(self) -> dict:
        return {"value": self.value, "lower": self.lower, "upper": self.upper}


@dataclass(frozen=True)
class TeamResult:
    """Everything the round engine needs to know about one team's submission."""

    team: str
    components: Mapping[str, ComponentScore]  # by the spec's component names (its weights)
    independence: str  # independent | derived | inconclusive (the audit's verdict)
    findings: tuple[ModuleFinding, ...] = ()
    licence: str | None = None  # SPDX id found at intake (LICENSE file or model card)
    organisation: str | None = None
    chain: ChainEvidence | None = None  # `gauntlet chain verify` of the team's training run
    contamination: tuple[ContaminationFinding, ...] = ()  # per task, from the published/held-out test
