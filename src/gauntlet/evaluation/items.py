"""Benchmark items in a backend-neutral form (the contract between data generators
and the lm-eval task writer). Generators (e.g. `gauntlet.synth`) produce
`BenchmarkTask`s; `gauntlet.evaluation` turns them into lm-eval task folders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

OutputType = Literal["multiple_choice", "loglikelihood", "generate_until"]


@dataclass(frozen=True)
class BenchmarkTask:
    """A named task and its items.

    Item fields by output type:
    - multiple_choice: {"id", "context", "choices": [str, ...], "answer": int}
    - loglikelihood:   {"id", "context", "continuation"}
    - generate_until:  {"id", "prompt", "target"}
    """

    name: str
    output_type: OutputType
    lang: str  # "ko" or "en"
    items: tuple[dict, ...]
    group: str = "common"
    description: str = ""
    metadata: dict = field(default_factory=dict)
