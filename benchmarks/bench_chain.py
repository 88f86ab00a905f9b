"""Training-run verification: false alarms on honest chains, reach along heavy drift, and
the time for a chain of a 7B-like shape.

Usage: python benchmarks/bench_chain.py [--honest 200] [--big-checkpoints 20] [--big-layers 1,2,4]
       [--big-budget-gib 30] [--workdir /tmp/gauntlet-chain-bench] [--skip honest,drift,big]

1. False alarms: --honest independent honest runs (real AdamW steps of tiny Llamas on CPU,
   saved every 4 steps, every fifth one warm-started from the previous run's model), each
   verified against two foreign references (a trained foreign model and another team's
   fresh initialisation). Reports how many chains are not `consistent`, how many links are
   not `derived`, and how many reference tests (models and updates, Holm-corrected per
   chain) reach `derived` (stated level 1e-4) or the `inconclusive` band (1e-3).
2. Reach: one long run with a high learning rate and strong weight decay; every checkpoint is tested against step 0
   directly, as if the chain had only those two checkpoints. Reports the p-value and the
   relative drift at each distance, and the farthest distance still `derived`.
3. 7B-like shape: chains of --big-checkpoints bf16 checkpoints and a final model with
   Llama-2-7B widths (hidden 4096, MLP 11008, vocab 32000) and 1, 2, 4 decoder layers (each
   count that fits --big-budget-gib of disk), each checkpoint a random-walk step from the
   previous. Times `gauntlet chain verify` end to end in a fresh process beside `cat` of the
   same files, deletes each chain after timing it, and fits time = a + b * layers to the
   measured times; the 32-layer figure is that fit, labelled as such (twenty-one 13.5 GB
   checkpoints do not fit this disk).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def honest_null(root: Path, count: int) -> None:
    from gauntlet.console import progress_bar
    from gauntlet.provenance import chain_forgeries as forge
    from gauntlet.provenance.chain import verify_chain
    from gauntlet.synth.training_runs import fresh_model, train_chain

    foreign = forge.foreign_model(root / "foreign")
    other = root / "other-init"
    fresh_model(10_000).save_pretrained(other, safe_serialization=True)
    not_consistent, links_missed, links, tests, derived, unclear = [], 0, 0, 0, 0, 0
    smallest = 1.0
    started = time.perf_counter()
    previous = None
    with progress_bar() as bar:
        task = bar.add_task("honest chains", total=count)
        for s in range(count):
            warm = previous if s % 5 == 4 else None
            chain = train_chain(root / f"run-{s}", seed=1000 + s, steps=8, every=4, data_seed=s, warm_start=warm)
            report = verify_chain(chain, [foreign, other], progress=False)
            if report.verdict != "consistent":
                not_consistent.append((s, report.verdict, report.findings[:2]))
            links += len(report.links)
            links_missed += sum(link.verdict != "derived" for link in report.links)
            for ref in report.references:
                for t in ref.tests:
                    tests += 1
                    derived += t["verdict"] == "derived"
                    unclear += t["verdict"] == "inconclusive"
                    smallest = min(smallest, t["p_value"])
            if previous is not None and warm is None:
                shutil.rmtree(previous.parent, ignore_errors=True)
            previous = chain
            bar.advance(task)
    seconds = time.perf_counter() - started
    print(f"\n1. honest chains: {count} (every fifth warm-started), {seconds:.0f} s")
    print(f"   chains not consistent     {len(not_consistent):>4} / {count}  = {len(not_consistent) / count:.4f}")
    print(f"   links not derived         {links_missed:>4} / {links}")
    print(f"   reference tests derived   {derived:>4} / {tests}  (stated level: chain-wise 1e-4)")
    print(f"   reference tests in band   {unclear:>4} / {tests}  (1e-4 <= p < 1e-3)")
    print(f"   smallest corrected reference p-value over all chains: {smallest:.3g}")
    for row in not_consistent[:5]:
        print("   ", row)


def reach(root: Path) -> None:
    from gauntlet.provenance import audit, fingerprint_model
    from gauntlet.provenance.chain import update_between
    from gauntlet.provenance.chain_file import read_chain
    from gauntlet.synth.training_runs import train_chain

    # Strong weight decay shrinks whatever of step 0 the updates do not renew (x0.998 a step).
    chain_file = train_chain(root / "long", seed=7, steps=12000, every=1000, lr=2e-2, weight_decay=0.1)
    chain = read_chain(chain_file)
    first = chain.models[0]
    fp0 = fingerprint_model(first.path, progress=False)
    print("\n2. reach along heavy drift (one run, AdamW lr 2e-2, weight decay 0.1; each checkpoint against step 0 alone)")
    print(f"   {'steps':>6} {'drift':>8} {'p-value':>10}  verdict")
    farthest = 0
    for model in chain.models[1:]:
        p = audit(fingerprint_model(model.path, progress=False), [fp0], progress=False).references[0].p_value
        drift = update_between(first, model)[1]
        verdict = "derived" if p < 1e-4 else "independent" if p >= 1e-3 else "inconclusive"
        steps = model.step if model.step is not None else "final"
        print(f"   {steps!s:>6} {drift:>8.3f} {p:>10.2e}  {verdict}")
        if verdict == "derived":
            farthest = model.step or farthest
    print(f"   farthest checkpoint still derived from step 0: {farthest} steps")


SHAPE = {"hidden": 4096, "intermediate": 11008, "vocab": 32000}  # Llama-2-7B's widths


def _bf16(a: np.ndarray) -> np.ndarray:
    """float32 -> bf16 bits (round to nearest even), as int16 so torch can view them as bf16."""
    bits = np.ascontiguousarray(a, np.float32).view(np.uint32)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16).view(np.int16)


def _shapes(layers: int) -> dict[str, tuple[int, ...]]:
    d, h, vocab = SHAPE["hidden"], SHAPE["intermediate"], SHAPE["vocab"]
    shapes = {"model.embed_tokens.weight": (vocab, d), "lm_head.weight": (vocab, d), "model.norm.weight": (d,)}
    for i in range(layers):
        p = f"model.layers.{i}."
        shapes |= {p + "input_layernorm.weight": (d,), p + "post_attention_layernorm.weight": (d,),
                   p + "self_attn.q_proj.weight": (d, d), p + "self_attn.k_proj.weight": (d, d),
                   p + "self_attn.v_proj.weight": (d, d), p + "self_attn.o_proj.weight": (d, d),
                   p + "mlp.gate_proj.weight": (h, d), p + "mlp.up_proj.weight": (h, d), p + "mlp.down_proj.weight": (d, h)}
    return shapes


def _fresh(shapes: dict, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A fresh initialisation as the config declares it: N(0, 0.02) matrices, unit norms (bf16 bits)."""
    return {k: (_bf16(np.ones(s, np.float32)) if len(s) == 1 else _bf16(rng.standard_normal(s, np.float32) * 0.02))
            for k, s in shapes.items()}


def _write_big(folder: Path, bits: dict[str, np.ndarray]) -> None:
    import torch
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: torch.from_numpy(v).view(torch.bfloat16) for k, v in bits.items()}, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps({
        "model_type": "llama", "hidden_size": SHAPE["hidden"], "intermediate_size": SHAPE["intermediate"],
        "vocab_size": SHAPE["vocab"], "initializer_range": 0.02}))


def _step(bits: dict[str, np.ndarray], rng: np.random.Generator) -> None:
    """One training-like step in place: every matrix entry moves one bf16 unit up or down at random.
    What the verification costs does not depend on how realistic the update is, and random
    bytes are cheap enough that making 20 checkpoints does not swamp the timing on two cores."""
    for w in bits.values():
        if w.ndim > 1:
            delta = (np.frombuffer(rng.bytes(w.size), np.uint8).reshape(w.shape) & 2).astype(np.int16) - 1
            # +0 and -0 move only away from zero: one unit below either is a NaN pattern (numpy's
            # float32 normals include exact zeros, about one in ten million).
            delta[(w & 0x7FFF) == 0] = 1
            w += delta


def _chain_of(root: Path, layers: int, checkpoints: int) -> tuple[Path, Path, float, float]:
    """Write `checkpoints` checkpoints, a final model one step on, and a foreign reference."""
    rng = np.random.default_rng(layers)
    shapes = _shapes(layers)
    made = time.perf_counter()
    bits = _fresh(shapes, rng)
    entries = []
    for c in range(checkpoints + 1):
        _write_big(root / f"ckpt-{c}", bits)
        entries.append({"step": c * 1000, "tokens": c * 4_000_000_000, "path": f"ckpt-{c}"})
        _step(bits, rng)
    final = entries.pop()
    (root / "chain.json").write_text(json.dumps({"checkpoints": entries, "final": final["path"]}))
    del bits
    _write_big(root / "foreign", _fresh(shapes, rng))
    size = sum(f.stat().st_size for f in root.glob("*/model.safetensors")) / 2**30
    return root / "chain.json", root / "foreign", size, time.perf_counter() - made


def _model_gib(layers: int) -> float:
    return sum(int(np.prod(s)) for s in _shapes(layers).values()) * 2 / 2**30


def big(root: Path, checkpoints: int, layer_counts: list[int], budget_gib: float) -> None:
    """Time `gauntlet chain verify` end to end (a fresh process, as a user runs it) on a chain of
    `checkpoints` checkpoints and a final model for each layer count that fits the disk budget,
    beside `cat` of the same files; then fit time = a + b * layers to the measurements."""
    print(f"\n3. 7B-like shape: chains of {checkpoints} bf16 checkpoints + a final model, hidden "
          f"{SHAPE['hidden']}, MLP {SHAPE['intermediate']}, vocab {SHAPE['vocab']:,}, against one foreign reference")
    print(f"   {'layers':>6} {'GiB':>6} {'made s':>7} {'cat s':>7} {'verify s':>9} {'x cat':>6}  verdict")
    measured = []
    for layers in layer_counts:
        need = _model_gib(layers) * (checkpoints + 2)
        if need > budget_gib:
            print(f"   {layers:>6} {need:>6.1f}  not run: over the {budget_gib:g} GiB disk budget")
            continue
        folder = root / f"layers-{layers}"
        try:
            chain, foreign, size, made_s = _chain_of(folder, layers, checkpoints)
            files = sorted(str(f) for f in folder.glob("*/model.safetensors"))
            started = time.perf_counter()
            subprocess.run(["cat", *files], stdout=subprocess.DEVNULL, check=True)
            cat_s = time.perf_counter() - started
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "gauntlet", "chain", "verify", str(chain), "--against",
                                   str(foreign), "--json", "--quiet"], capture_output=True, text=True, check=True)
            verify_s = time.perf_counter() - started
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        report = json.loads(done.stdout)
        links = sum(link["verdict"] == "derived" for link in report["links"])
        print(f"   {layers:>6} {size:>6.1f} {made_s:>7.0f} {cat_s:>7.1f} {verify_s:>9.1f} {verify_s / cat_s:>6.1f}  "
              f"{report['verdict']} ({links}/{len(report['links'])} links derived, origin {report['origin']['verdict']})")
        for finding in report["findings"][:3] if report["verdict"] != "consistent" else ():
            print(f"          {finding}")
        measured.append((layers, verify_s))
    if len(measured) < 2:
        print("   fewer than two layer counts measured: no slope fitted")
        return
    slope, intercept = np.polyfit([m[0] for m in measured], [m[1] for m in measured], 1)
    print(f"   fitted from these measurements: verify = {intercept:.0f} s + {slope:.1f} s per decoder layer")
    print(f"   32 layers (Llama-2-7B's depth), FITTED, not measured: {(intercept + 32 * slope) / 60:.1f} min "
          f"for {checkpoints} checkpoints + the final model")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--honest", type=int, default=200)
    parser.add_argument("--big-checkpoints", type=int, default=20)
    parser.add_argument("--big-layers", default="1,2,4", help="decoder layer counts to measure, comma-separated")
    parser.add_argument("--big-budget-gib", type=float, default=30.0, help="disk a chain may take")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/gauntlet-chain-bench"))
    parser.add_argument("--skip", default="")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    try:
        if "honest" not in skip:
            honest_null(args.workdir / "honest", args.honest)
        if "drift" not in skip:
            reach(args.workdir / "drift")
        if "big" not in skip:
            big(args.workdir / "big", args.big_checkpoints, [int(n) for n in args.big_layers.split(",")],
                args.big_budget_gib)
    finally:
        shutil.rmtree(args.workdir, ignore_errors=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
