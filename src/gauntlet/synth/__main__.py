"""Build the demo cast and measure it: `python -m gauntlet.synth [--scale S]`.

Prints, per member, build seconds, held-out bits per byte and multiple-choice
accuracy on the world's tasks, so that claims about the cast (the reference is
strongest, one team is clearly weakest, trained models beat chance) are checked
by measurement, not asserted.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m gauntlet.synth", description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--scale", type=float, default=1.0, help="cast scale (optimiser steps)")
    parser.add_argument("--world-scale", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=None, help="default: build_cast's choice")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()

    from rich.table import Table

    from gauntlet.console import err_console
    from gauntlet.synth import build_cast, generate_world, heldout_bits_per_byte, multiple_choice_accuracy

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="gauntlet-cast-"))
    world = generate_world(args.seed, scale=args.world_scale)
    started = time.perf_counter()
    folders = build_cast(world, workdir, scale=args.scale, workers=args.workers)
    build_seconds = time.perf_counter() - started
    manifest = {m["name"]: m for m in json.loads((workdir / "cast.json").read_text())["members"]}

    mc_tasks = [t for t in world.benchmark_tasks if t.output_type == "multiple_choice"]
    table = Table(title=f"cast at scale {args.scale} (world seed {args.seed}, {len(world.countries)} countries)")
    for column in ("member", "recipe", "seconds", "cpu s", "held-out bpb", *(t.name.removeprefix("synth_") for t in mc_tasks)):
        table.add_column(column)
    for name, folder in folders.items():
        m = manifest[name]
        recipe = (f"ft {m['finetune_of']}" if m["finetune_of"]
                  else f"h{m['shape']['hidden_size']} L{m['shape']['num_layers']} V{m['vocab_size']}")
        recipe += f" s{m['steps']} lr{m['lr']:g} d{m['data_share']:g}"
        bpb = heldout_bits_per_byte(folder, world.heldout_texts)
        accuracies = [multiple_choice_accuracy(folder, t) for t in mc_tasks]
        table.add_row(name, recipe, f"{m['seconds']:.1f}", f"{m['cpu_seconds']:.1f}", f"{bpb:.3f}", *(f"{a:.2f}" for a in accuracies))
    from rich.console import Console

    Console(stderr=True, width=140).print(table)
    err_console.print(f"whole cast built in {build_seconds:.1f} s (workers: {args.workers or 'auto'}); models in {workdir}")


if __name__ == "__main__":
    main()
