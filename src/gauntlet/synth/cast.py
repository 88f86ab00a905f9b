"""The demo's cast: one foreign reference model and five teams, each built by a
recipe (size, steps, learning rate, tokenizer, share of the data, or a copy of
another model to fine-tune). Recipes differ; outcomes are whatever training
makes of them: nothing here says who should win.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from gauntlet.errors import InputError
from gauntlet.synth.model import TinyLMConfig
from gauntlet.synth.world import World

if TYPE_CHECKING:
    from rich.progress import Progress

MANIFEST = "cast.json"


@dataclass(frozen=True)
class TeamRecipe:
    """How one cast member builds its model. A recipe with `finetune_of` continues
    training that member's model (and keeps its tokenizer); `shape` and
    `vocab_size` then do not apply."""

    name: str
    organisation: str
    country: str
    steps: int
    lr: float
    shape: TinyLMConfig | None = None
    vocab_size: int | None = None
    batch_size: int = 8
    data_share: float = 1.0
    finetune_of: str | None = None
    seed: int = 0
    chain_checkpoints: int = 0  # > 0: also save a training-run chain of about this many checkpoints
    reads_published: bool = False  # trains on the benchmarks' published items too (a contaminated team)

    def __post_init__(self) -> None:
        if (self.finetune_of is None) == (self.shape is None):
            raise InputError(f"recipe {self.name}: give either shape and vocab_size, or finetune_of")
        if self.finetune_of is None and self.vocab_size is None:
            raise InputError(f"recipe {self.name}: a model trained from scratch needs vocab_size")
        if not 0 < self.data_share <= 1:
            raise InputError(f"recipe {self.name}: data_share must be in (0, 1], got {self.data_share}")

    def scaled(self, scale: float) -> TeamRecipe:
        """The same recipe with `scale` times the optimiser steps (at least 2)."""
        return replace(self, steps=max(2, round(self.steps * scale)))

    def texts(self, world: World) -> list[str]:
        """The member's own share of the world's training text (seeded sample)."""
        corpus = world.train_texts
        count = max(1, round(len(corpus) * self.data_share))
        picked = np.random.default_rng([world.seed, self.seed]).choice(len(corpus), size=count, replace=False)
        return [corpus[i] for i in sorted(picked)]


@dataclass(frozen=True)
class DemoCast:
    """A reference model and the teams of a challenge round."""

    reference: TeamRecipe
    teams: tuple[TeamRecipe, ...]

    def __post_init__(self) -> None:
        names = [m.name for m in self.members]
        if len(set(names)) != len(names):
            raise InputError(f"cast member names must be unique: {names}")
        for member in self.members:
            if member.finetune_of is not None and member.finetune_of not in names:
                raise InputError(f"{member.name} fine-tunes unknown member {member.finetune_of!r}")
        for member in self.members:
            self.base_of(member)  # refuses cycles

    @property
    def members(self) -> tuple[TeamRecipe, ...]:
        return (self.reference, *self.teams)

    def member(self, name: str) -> TeamRecipe:
        for member in self.members:
            if member.name == name:
                return member
        raise InputError(f"no cast member named {name!r}")

    def base_of(self, member: TeamRecipe) -> TeamRecipe:
        """The member trained from scratch at the root of `member`'s fine-tuning chain."""
        seen = {member.name}
        while member.finetune_of is not None:
            member = self.member(member.finetune_of)
            if member.name in seen:
                raise InputError(f"cast has a fine-tuning cycle through {member.name}")
            seen.add(member.name)
        return member

    def scaled(self, scale: float) -> DemoCast:
        if not scale > 0:
            raise InputError(f"cast scale must be positive, got {scale}")
        return DemoCast(self.reference.scaled(scale), tuple(t.scaled(scale) for t in self.teams))


PUBLISHED_REPEATS = 10


def _shape(hidden: int, layers: int, heads: int = 4, kv_heads: int = 2) -> TinyLMConfig:
    # Llama's MLP is about 8/3 of the hidden size, rounded to a multiple of 8.
    return TinyLMConfig(
        hidden_size=hidden, num_layers=layers, num_heads=heads, num_kv_heads=kv_heads,
        intermediate_size=8 * round(hidden * 8 / 3 / 8),
    )


# The foreign reference is the largest and longest-trained model. The teams vary
# every knob a real team would; one of them skips pre-training and fine-tunes the
# reference, as a team did with a foreign encoder in the programme's first round.
# One independent team (gaon) uses the reference's block shape, so the audit
# must tell lineage from a shared architecture, not from mismatched sizes; gaon also
# trains on the benchmarks' published items (the contamination test's case), and
# hanul hands in its training-run chain.
DEMO_CAST = DemoCast(
    reference=TeamRecipe(
        name="tidewater-base", organisation="Tidewater Labs", country="US",
        shape=_shape(96, 3), vocab_size=3000, steps=350, lr=4e-3, batch_size=8, seed=101,
    ),
    teams=(
        TeamRecipe(
            name="hanul", organisation="Hanul AI Research", country="KR",
            shape=_shape(80, 2), vocab_size=2000, steps=350, lr=6e-3, seed=11, chain_checkpoints=4,
        ),
        TeamRecipe(
            name="gaon", organisation="Gaon Telecom", country="KR",
            shape=_shape(96, 3), vocab_size=1500, steps=250, lr=5e-3, data_share=0.9, seed=12,
            reads_published=True,
        ),
        TeamRecipe(
            name="mirae", organisation="Mirae Systems", country="KR",
            shape=_shape(64, 2), vocab_size=2500, steps=280, lr=3e-3, data_share=0.8, seed=13,
        ),
        TeamRecipe(
            name="dasom", organisation="Dasom Soft", country="KR",
            shape=_shape(48, 2), vocab_size=1000, steps=140, lr=2e-3, data_share=0.6, seed=14,
        ),
        TeamRecipe(
            name="saebyeok", organisation="Saebyeok Cloud", country="KR",
            finetune_of="tidewater-base", steps=60, lr=1e-3, data_share=0.5, seed=15,
        ),
    ),
)


def _build_member(recipe: TeamRecipe, texts: list[str], folder: Path, base: Path | None,
                  progress) -> dict:
    """Build one member's model folder; return what the manifest records."""
    from gauntlet.synth.model import finetune, train_from_scratch

    losses: list[float] = []
    started, cpu_started = time.perf_counter(), time.process_time()
    common = dict(steps=recipe.steps, lr=recipe.lr, seed=recipe.seed, batch_size=recipe.batch_size,
                  progress=progress, description=recipe.name, loss_log=losses)
    saver = _ChainSaver(folder.parent / f"{recipe.name}-chain", recipe) if recipe.chain_checkpoints else None
    if recipe.finetune_of is None:
        train_from_scratch(folder, texts, config=recipe.shape,
                           tokenizer_vocab_size=recipe.vocab_size, checkpoint=saver, **common)
    else:
        # A fine-tune's honest chain starts from the model it fine-tuned: its step 0.
        finetune(base, folder, texts, checkpoint=saver, **common)
    if saver is not None:
        saver.finish(folder)
    # CPU seconds (one torch thread) say what the build costs on idle cores even
    # when the machine it was measured on was busy.
    return {"seconds": round(time.perf_counter() - started, 2),
            "cpu_seconds": round(time.process_time() - cpu_started, 2), "first_loss": losses[0],
            "final_loss": losses[-1], "documents": len(texts)}


class _ChainSaver:
    """Saves a run's checkpoints (weights and config) every `steps / chain_checkpoints`
    steps, then writes the chain file `gauntlet chain verify` reads, with the run's
    initialisation recipe (train_from_scratch seeds torch with the recipe's seed just
    before building the model)."""

    def __init__(self, root: Path, recipe: TeamRecipe):
        self.root, self.recipe = root, recipe
        self.every = max(1, recipe.steps // recipe.chain_checkpoints)
        self.entries: list[dict] = []

    def __call__(self, step: int, model) -> None:
        if step % self.every or step == self.recipe.steps:
            return
        name = f"ckpt-{step}"
        model.save_pretrained(self.root / name)
        (self.root / name / "generation_config.json").unlink(missing_ok=True)
        self.entries.append({"step": step, "tokens": step * self.recipe.batch_size * 128, "path": name})

    def finish(self, final_model: Path) -> Path:
        import shutil

        final = self.root / "final"
        final.mkdir(parents=True, exist_ok=True)
        for name in ("config.json", "model.safetensors"):
            shutil.copy(final_model / name, final / name)
        chain = {"checkpoints": self.entries, "final": "final", "final_step": self.recipe.steps,
                 "final_tokens": self.recipe.steps * self.recipe.batch_size * 128}
        if self.recipe.finetune_of is None:
            chain["init"] = {"library": "transformers", "seed": self.recipe.seed}
        (self.root / "chain.json").write_text(json.dumps(chain, indent=1))
        return self.root / "chain.json"


def _build_member_in_worker(recipe, texts, folder, base, queue) -> dict:
    return _build_member(recipe, texts, folder, base, lambda: queue.put(recipe.name))


def build_cast(
    world: World,
    out_dir: Path | str,
    *,
    scale: float = 1.0,
    progress: bool | Progress = True,
    cast: DemoCast = DEMO_CAST,
    workers: int | None = None,
    overwrite: bool = False,
    published: Sequence[str] = (),
) -> dict[str, Path]:
    """Build every member of `cast` (steps scaled by `scale`) into
    `out_dir/<name>/`, write `out_dir/cast.json` (recipes, losses, seconds) and
    return name -> model folder, reference first.

    `progress`: True for an own Rich progress bar, a Rich `Progress` (e.g. the
    demo's) to add one task per member to, False for none. Member folders that
    already hold files are refused unless `overwrite`.

    `workers` > 1 trains that many models at once in separate processes (each
    single-threaded: see model.TORCH_THREADS); a fine-tune starts when its base
    is built. Every model depends only on its recipe and the world, not on the
    schedule. None picks one worker per core (at most two) for casts of scale
    0.2 and more, else one: a worker process pays seconds to import torch, which
    a reduced cast does not earn back (measured: 11 s in one process against
    21 s in two at scale 0.05).
    """
    if workers is None:
        workers = min(2, _available_cores()) if scale >= 0.2 else 1
    out_dir = Path(out_dir)
    cast = cast.scaled(scale)
    folders = {m.name: out_dir / m.name for m in cast.members}
    if not overwrite:
        for folder in folders.values():
            if folder.is_dir() and any(folder.iterdir()):
                raise InputError(f"{folder} already holds files; build the cast into an empty folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    # A member that `reads_published` also trains on the benchmarks' published items
    # (`published`: their text with the right answer), repeated as a crawl would find them.
    texts = {m.name: m.texts(world) + (list(published) * PUBLISHED_REPEATS if m.reads_published else [])
             for m in cast.members}

    def cost(m: TeamRecipe) -> float:
        shape = cast.base_of(m).shape
        return m.steps * m.batch_size * shape.hidden_size ** 2 * shape.num_layers

    # Longest jobs first keeps every worker busy until the end.
    order = sorted(cast.members, key=cost, reverse=True)
    records: dict[str, dict] = {}

    from contextlib import nullcontext

    from rich.progress import Progress

    from gauntlet.console import progress_bar

    if isinstance(progress, Progress):
        bar, owned = progress, False
    else:
        bar, owned = (progress_bar() if progress else None), True
    with bar if bar is not None and owned else nullcontext():
        tasks = {m.name: bar.add_task(f"training {m.name}", total=m.steps) for m in cast.members} if bar else {}
        if workers <= 1:
            for member in _dependency_order(order):
                on_step = (lambda t=tasks.get(member.name): bar.advance(t)) if bar else False
                base = folders.get(member.finetune_of) if member.finetune_of else None
                records[member.name] = _build_member(member, texts[member.name], folders[member.name],
                                                     base, on_step)
        else:
            records = _build_in_processes(order, texts, folders, workers, bar, tasks)

    manifest = {
        "world_seed": world.seed, "world_scale": world.scale, "scale": scale,
        "members": [
            {**_recipe_record(m), **records[m.name], "folder": m.name} for m in cast.members
        ],
    }
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False))
    return {m.name: folders[m.name] for m in cast.members}


def _available_cores() -> int:
    import os

    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _recipe_record(member: TeamRecipe) -> dict:
    record = asdict(member)
    if member.shape is None:
        record.pop("shape")
    return record


def _dependency_order(order: list[TeamRecipe]) -> list[TeamRecipe]:
    """`order`, except that a fine-tune comes after its base (DemoCast refused cycles)."""
    done: set[str] = set()
    result: list[TeamRecipe] = []
    pending = list(order)
    while pending:
        ready = [m for m in pending if m.finetune_of is None or m.finetune_of in done]
        result.append(ready[0])
        done.add(ready[0].name)
        pending.remove(ready[0])
    return result


def _build_in_processes(order, texts, folders, workers, bar, tasks) -> dict[str, dict]:
    import multiprocessing
    import queue as queue_module

    # spawn, not fork: the parent may already run torch threads, which do not
    # survive a fork reliably.
    context = multiprocessing.get_context("spawn")
    records: dict[str, dict] = {}
    with context.Manager() as manager, ProcessPoolExecutor(workers, mp_context=context) as pool:
        steps = manager.Queue()
        running: dict[Future, str] = {}
        waiting = list(order)

        def submit_ready() -> None:
            for member in list(waiting):
                if member.finetune_of is None or member.finetune_of in records:
                    base = folders.get(member.finetune_of) if member.finetune_of else None
                    future = pool.submit(_build_member_in_worker, member, texts[member.name],
                                         folders[member.name], base, steps)
                    running[future] = member.name
                    waiting.remove(member)

        def drain() -> None:
            while True:
                try:
                    name = steps.get_nowait()
                except queue_module.Empty:
                    return
                if bar is not None:
                    bar.advance(tasks[name])

        submit_ready()
        while running:
            done, _ = wait(list(running), timeout=0.2, return_when=FIRST_COMPLETED)
            drain()
            for future in done:
                records[running.pop(future)] = future.result()
            if done:
                submit_ready()
        drain()
    return records
