"""CHAIN.json: a team's declared training run, parsed by a bounded reader.

    {"checkpoints": [{"step": 0, "tokens": 0, "path": "ckpt-0"}, ...],
     "final": "path", "init": {"library": "transformers", "seed": 1234},
     "final_step": 3000, "final_tokens": 12000000}      # the last two optional

Paths are relative to the file's folder and may not leave it (after following
symlinks): the chain is evidence about folders the team handed over, never a way
to make the verifier read elsewhere. Steps and tokens are cumulative along the
whole chain, including a warm start from the team's earlier run (whose chain is
listed first), so both must never go down and steps must go up.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from gauntlet.errors import InputError

MAX_CHAIN_BYTES = 1 << 20
MAX_CHECKPOINTS = 1000
MAX_COUNT = 2**63 - 1
RECIPE_LIBRARIES = ("transformers",)


@dataclass(frozen=True)
class Checkpoint:
    step: int | None  # None only for a final model whose step was not declared
    tokens: int | None
    path: Path
    label: str  # what reports call it: the step, or "final"

    @property
    def key(self) -> int | str:
        return self.label if self.label == "final" else self.step


@dataclass(frozen=True)
class InitRecipe:
    library: str
    seed: int


@dataclass(frozen=True)
class Chain:
    source: Path
    checkpoints: tuple[Checkpoint, ...]
    final: Checkpoint
    init: InitRecipe | None

    @property
    def models(self) -> tuple[Checkpoint, ...]:
        """Every model along the run, step 0 first and the final model last."""
        return (*self.checkpoints, self.final)


def _count(value, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise InputError(f"{where} must be a non-negative integer, got {value!r}")
    return value


def _inside(base: Path, raw, where: str) -> Path:
    if not isinstance(raw, str) or not raw or "\x00" in raw:
        raise InputError(f"{where} must be a non-empty relative path")
    if Path(raw).is_absolute():
        raise InputError(f"{where} {raw!r} is absolute; paths are relative to the chain file's folder")
    resolved = (base / raw).resolve()
    try:
        resolved.relative_to(base)
    except ValueError:
        raise InputError(f"{where} {raw!r} leaves the chain file's folder") from None
    if not resolved.is_dir():
        raise InputError(f"{where} {raw!r} is not a model folder")
    return resolved


def read_chain(path) -> Chain:
    source = Path(path)
    if not source.is_file():
        raise InputError(f"chain file {source} does not exist")
    if source.stat().st_size > MAX_CHAIN_BYTES:
        raise InputError(f"chain file {source.name} is larger than {MAX_CHAIN_BYTES:,} bytes")
    try:
        doc = json.loads(source.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InputError(f"chain file {source.name} is not valid JSON: {str(exc).splitlines()[0]}") from None
    if not isinstance(doc, dict):
        raise InputError(f"chain file {source.name} must hold a JSON object")
    unknown = sorted(set(doc) - {"checkpoints", "final", "init", "final_step", "final_tokens"})
    if unknown:
        raise InputError(f"chain file {source.name}: unknown key {unknown[0]!r}")
    base = source.parent.resolve()
    raw = doc.get("checkpoints")
    if not isinstance(raw, list) or not raw:
        raise InputError("chain file: 'checkpoints' must be a non-empty list")
    if len(raw) > MAX_CHECKPOINTS:
        raise InputError(f"chain file: more than {MAX_CHECKPOINTS} checkpoints")
    checkpoints = []
    for i, entry in enumerate(raw):
        where = f"checkpoint {i}"
        if not isinstance(entry, dict) or set(entry) - {"step", "tokens", "path"}:
            raise InputError(f"{where} must be an object with 'step', 'tokens' and 'path'")
        step = _count(entry.get("step"), f"{where}: 'step'")
        tokens = _count(entry.get("tokens"), f"{where}: 'tokens'")
        checkpoints.append(Checkpoint(step, tokens, _inside(base, entry.get("path"), f"{where}: path"), str(step)))
    for before, after in zip(checkpoints, checkpoints[1:]):
        if after.step <= before.step:
            raise InputError(f"chain file: steps must increase along the chain ({before.step} then {after.step})")
        if after.tokens < before.tokens:
            raise InputError(f"chain file: tokens seen must not decrease (step {after.step})")
    final_step = doc.get("final_step")
    final_tokens = doc.get("final_tokens")
    if final_step is not None:
        final_step = _count(final_step, "'final_step'")
        if final_step < checkpoints[-1].step:
            raise InputError("chain file: 'final_step' is before the last checkpoint")
    if final_tokens is not None:
        final_tokens = _count(final_tokens, "'final_tokens'")
        if final_tokens < checkpoints[-1].tokens:
            raise InputError("chain file: 'final_tokens' is below the last checkpoint's")
    final = Checkpoint(final_step, final_tokens, _inside(base, doc.get("final"), "'final'"), "final")
    return Chain(source=source, checkpoints=tuple(checkpoints), final=final, init=_recipe(doc.get("init")))


def _recipe(raw) -> InitRecipe | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) != {"library", "seed"}:
        raise InputError("chain file: 'init' must be {\"library\": \"transformers\", \"seed\": int}")
    if raw["library"] not in RECIPE_LIBRARIES:
        raise InputError(f"chain file: init library {raw['library']!r} is not one of {', '.join(RECIPE_LIBRARIES)}")
    seed = raw["seed"]
    # torch.manual_seed takes any 64-bit integer
    if isinstance(seed, bool) or not isinstance(seed, int) or not -(2**63) <= seed < 2**64:
        raise InputError(f"chain file: init seed must be a 64-bit integer, got {seed!r}")
    return InitRecipe(raw["library"], seed)
