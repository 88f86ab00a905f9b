"""Training-run verification: false alarms on honest chains, reach along heavy drift, and
the time for a chain of a 7B-like shape.

Usage: python benchmarks/bench_chain.py [--honest 200] [--big-checkpoints 3] [--big-layers 1]
       [--workdir /tmp/gauntlet-chain-bench] [--skip honest,drift,big]

1. False alarms: --honest independent honest runs (real AdamW steps of tiny Llamas on CPU,
   saved every 4 steps, every fifth one warm-started from the previous run's model), each
   verified against two foreign references (a trained foreign model and another team's
   fresh initialisation). Reports how many chains are not `consistent`, how many links are
   not `derived`, and how many reference tests (models and updates, Holm-corrected per
   chain) reach `derived` (stated level 1e-4) or the `inconclusive` band (1e-3).
2. Reach: one long run with a high learning rate and strong weight decay; every checkpoint is tested against step 0
   directly, as if the chain had only those two checkpoints. Reports the p-value and the
   relative drift at each distance, and the farthest distance still `derived`.
3. 7B-like shape: bf16 checkpoints with Llama-2-7B widths (hidden 4096, MLP 11008,
   vocab 32000) and --big-layers layers, each a random-walk step from the previous (the
   cost does not depend on how realistic the update is). Times fingerprinting, the
   update pass and the tests per checkpoint, side by side with `cat` of the same files,
   and extrapolates linearly to 20 checkpoints of 32 layers (the disk here cannot hold
   twenty 13.5 GB checkpoints).
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


def _bf16(a: np.ndarray) -> np.ndarray:
    bits = np.ascontiguousarray(a, np.float32).view(np.uint32)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)


def _write_big(folder: Path, tensors: dict[str, np.ndarray]) -> None:
    from safetensors.numpy import save_file

    from gauntlet.provenance.generators import _retag_bf16

    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: _bf16(v) for k, v in tensors.items()}, str(folder / "model.safetensors"))
    _retag_bf16(folder / "model.safetensors")
    (folder / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 4096, "intermediate_size": 11008,
                                                    "vocab_size": 32000, "initializer_range": 0.02}))


def big(root: Path, checkpoints: int, layers: int) -> None:
    from gauntlet.provenance.chain import verify_chain

    d, h, vocab = 4096, 11008, 32000
    rng = np.random.default_rng(0)
    shapes = {"model.embed_tokens.weight": (vocab, d), "lm_head.weight": (vocab, d), "model.norm.weight": (d,)}
    for i in range(layers):
        p = f"model.layers.{i}."
        shapes |= {p + "input_layernorm.weight": (d,), p + "post_attention_layernorm.weight": (d,),
                   p + "self_attn.q_proj.weight": (d, d), p + "self_attn.k_proj.weight": (d, d),
                   p + "self_attn.v_proj.weight": (d, d), p + "self_attn.o_proj.weight": (d, d),
                   p + "mlp.gate_proj.weight": (h, d), p + "mlp.up_proj.weight": (h, d), p + "mlp.down_proj.weight": (d, h)}
    weights = {k: (np.ones(s, np.float32) if len(s) == 1 else (rng.standard_normal(s, np.float32) * 0.02))
               for k, s in shapes.items()}
    entries = []
    made = time.perf_counter()
    for c in range(checkpoints + 1):
        _write_big(root / f"ckpt-{c}", weights)
        entries.append({"step": c * 1000, "tokens": c * 4_000_000_000, "path": f"ckpt-{c}"})
        for k, w in weights.items():  # a random-walk step: every weight moves by ~5% of its size
            w += rng.standard_normal(w.shape, np.float32) * (0.001 if w.ndim > 1 else 0.0)
    final = entries.pop()
    (root / "chain.json").write_text(json.dumps({"checkpoints": entries, "final": final["path"]}))
    foreign = root / "foreign"
    _write_big(foreign, {k: (np.ones(s, np.float32) if len(s) == 1 else rng.standard_normal(s, np.float32) * 0.02)
                         for k, s in shapes.items()})
    del weights
    print(f"\n3. 7B-like shape: {checkpoints + 1} bf16 models of {layers} layer(s) "
          f"({sum(f.stat().st_size for f in root.glob('ckpt-*/model.safetensors')) / 2**30:.1f} GiB), made in {time.perf_counter() - made:.0f} s")
    files = sorted(str(f) for f in root.glob("*/model.safetensors"))
    started = time.perf_counter()
    subprocess.run(["cat", *files], stdout=subprocess.DEVNULL, check=True)
    cat_s = time.perf_counter() - started
    started = time.perf_counter()
    report = verify_chain(root / "chain.json", [foreign], progress=True)
    verify_s = time.perf_counter() - started
    models = checkpoints + 1
    per_model_layer = verify_s / (models * (layers + 2))  # embeddings and head weigh about two layers
    print(f"   verdict {report.verdict}; links {[link.verdict for link in report.links]}")
    print(f"   cat of every file: {cat_s:.1f} s; verify: {verify_s:.1f} s ({verify_s / max(cat_s, 1e-9):.1f}x cat)")
    print(f"   per model and layer-equivalent: {per_model_layer:.2f} s")
    print(f"   extrapolated, 20 checkpoints of 32 layers + embeddings: {per_model_layer * 21 * 34 / 60:.0f} min")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--honest", type=int, default=200)
    parser.add_argument("--big-checkpoints", type=int, default=3)
    parser.add_argument("--big-layers", type=int, default=1)
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
            big(args.workdir / "big", args.big_checkpoints, args.big_layers)
    finally:
        shutil.rmtree(args.workdir, ignore_errors=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
