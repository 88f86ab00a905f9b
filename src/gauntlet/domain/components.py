"""The unit every evaluation stage hands to the round engine."""

from __future__ import annotations

from dataclasses import dataclass, field


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

    def to_dict(self) -> dict:
        return {"value": self.value, "lower": self.lower, "upper": self.upper}
