"""Honest training runs saved as checkpoint chains: real optimiser steps on CPU.

A run starts from `torch.manual_seed(seed)` then `AutoModelForCausalLM.from_config`
(the recipe `gauntlet chain verify` can replay bit for bit), trains a tiny Llama
with AdamW on token streams drawn from a fixed Markov source, and saves a Hugging
Face folder every `every` steps, plus a `chain.json` in the layout the verifier
reads. `warm_start` continues a run from the last checkpoint of an earlier one
(the team's own model), listing the earlier chain first as the contract asks.

Needs the `[eval]` extra (torch, transformers); imported only when a run is made.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from gauntlet.synth.model import TinyLMConfig

TOKENS_PER_STEP_BATCH = 8
SEQ_LEN = 32


# The shape every honest run here trains (a chain's recipe replays it from its config.json).
RUN_SHAPE = TinyLMConfig(hidden_size=48, intermediate_size=96, num_layers=2, num_heads=4, num_kv_heads=4,
                         vocab_size=128, max_positions=SEQ_LEN * 2)


def _markov_batches(data_seed: int, vocab: int):
    """An endless stream of token batches from one sparse Markov source (same source for
    every run with the same data seed, as teams share public corpora)."""
    import torch

    rng = np.random.default_rng(data_seed)
    successors = rng.integers(0, vocab, size=(vocab, 4))
    while True:
        tokens = np.empty((TOKENS_PER_STEP_BATCH, SEQ_LEN), np.int64)
        tokens[:, 0] = rng.integers(0, vocab, TOKENS_PER_STEP_BATCH)
        for t in range(1, SEQ_LEN):
            tokens[:, t] = successors[tokens[:, t - 1], rng.integers(0, 4, TOKENS_PER_STEP_BATCH)]
        yield torch.from_numpy(tokens)


def fresh_model(seed: int, shape: TinyLMConfig = RUN_SHAPE):
    """Step 0 exactly as the recipe {"library": "transformers", "seed": seed} describes."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    return AutoModelForCausalLM.from_config(shape.llama_config())


def _save(model, folder: Path) -> None:
    model.save_pretrained(folder, safe_serialization=True)
    for extra in ("generation_config.json",):
        (folder / extra).unlink(missing_ok=True)


def train_chain(out_dir, *, seed: int, steps: int = 24, every: int = 8, lr: float = 3e-3,
                data_seed: int = 0, shape: TinyLMConfig = RUN_SHAPE, warm_start=None,
                start_from=None, recipe: bool = True, weight_decay: float = 0.01) -> Path:
    """Train a run and save its chain under `out_dir`; returns the chain file.

    `warm_start`: a chain file of the team's earlier run; training continues from its
    final model, its checkpoints are copied in front, and steps and tokens keep counting.
    `start_from`: a model folder saved as step 0 instead of a fresh initialisation (how
    the forgeries in `gauntlet.provenance.chain_forgeries` start from someone else's model)."""
    from gauntlet.synth.model import torch_threads

    with torch_threads():
        return _train_chain(Path(out_dir), seed=seed, steps=steps, every=every, lr=lr, data_seed=data_seed,
                            shape=shape, warm_start=warm_start, start_from=start_from, recipe=recipe,
                            weight_decay=weight_decay)


def _train_chain(out: Path, *, seed, steps, every, lr, data_seed, shape, warm_start, start_from, recipe,
                 weight_decay) -> Path:
    import torch

    out.mkdir(parents=True, exist_ok=True)
    entries: list[dict] = []
    start_step = start_tokens = 0
    init = None
    if warm_start is not None:
        earlier_file = Path(warm_start)
        earlier = json.loads(earlier_file.read_text())
        for i, ck in enumerate(earlier["checkpoints"]):
            dest = out / f"earlier-{i}"
            shutil.copytree(earlier_file.parent / ck["path"], dest, dirs_exist_ok=True)
            entries.append({"step": ck["step"], "tokens": ck["tokens"], "path": dest.name})
        dest = out / "earlier-final"
        shutil.copytree(earlier_file.parent / earlier["final"], dest, dirs_exist_ok=True)
        start_step, start_tokens = earlier["final_step"], earlier["final_tokens"]
        entries.append({"step": start_step, "tokens": start_tokens, "path": dest.name})
        init = earlier.get("init")
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(earlier_file.parent / earlier["final"])
    elif start_from is not None:
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(start_from)
    else:
        model = fresh_model(seed, shape)
        init = {"library": "transformers", "seed": seed} if recipe else None
    torch.manual_seed(seed + 1)
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    batches = _markov_batches(data_seed * 7919 + seed, model.config.vocab_size)
    tokens_per_step = TOKENS_PER_STEP_BATCH * SEQ_LEN
    if warm_start is None:
        _save(model, out / "ckpt-0")
        entries.append({"step": 0, "tokens": 0, "path": "ckpt-0"})
    model.train()
    for step in range(1, steps + 1):
        batch = next(batches)
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        optimiser.step()
        optimiser.zero_grad(set_to_none=True)
        if step % every == 0 or step == steps:
            name = f"ckpt-{start_step + step}"
            _save(model, out / name)
            entries.append({"step": start_step + step, "tokens": start_tokens + step * tokens_per_step, "path": name})
    final = entries[-1]["path"]
    chain = {"checkpoints": entries[:-1], "final": final,
             "final_step": entries[-1]["step"], "final_tokens": entries[-1]["tokens"]}
    if init is not None:
        chain["init"] = init
    path = out / "chain.json"
    path.write_text(json.dumps(chain, indent=1))
    return path
