"""Forged checkpoint chains, the ones `verify_chain` must call `broken` (tests, benchmarks).

Each forgery returns (chain file, the step that first gives it away). Honest
parts are real training runs (`gauntlet.synth.training_runs`, torch); the forged
parts are made the way a forger would, from someone else's weights:
- `splice`: a foreign model continued-trained, behind an honest-looking early
  chain from a real fresh initialisation;
- `interpolate`: checkpoints manufactured from a real fresh initialisation
  towards a foreign model, every step a small move from the previous one;
- `perturbed_start`: step 0 is a lightly perturbed foreign model, then honest
  training from there;
- `swap`: an honest chain with one checkpoint replaced by another run's.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from gauntlet.artifacts.layout import open_model_folder
from gauntlet.artifacts.safetensors_io import read_header, read_tensor


def _read(folder) -> dict[str, np.ndarray]:
    model = open_model_folder(folder)
    out = {}
    for shard in model.shards:
        header = read_header(shard)
        out |= {name: read_tensor(header, name) for name in header.tensors}
    return out


def _write(folder: Path, tensors: dict[str, np.ndarray], like) -> None:
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(like) / "config.json", folder / "config.json")
    save_file({k: np.ascontiguousarray(v, np.float32) for k, v in tensors.items()}, str(folder / "model.safetensors"),
              metadata={"format": "pt"})


def _chain(path: Path) -> dict:
    return json.loads(path.read_text())


def _write_chain(out: Path, entries: list[dict], final: str, final_step: int, final_tokens: int, init=None) -> Path:
    doc = {"checkpoints": entries, "final": final, "final_step": final_step, "final_tokens": final_tokens}
    if init is not None:
        doc["init"] = init
    path = out / "chain.json"
    path.write_text(json.dumps(doc, indent=1))
    return path


def _copy(src_chain: Path, rel: str, out: Path, name: str) -> str:
    shutil.copytree(src_chain.parent / rel, out / name, dirs_exist_ok=True)
    return name


def foreign_model(out_dir, *, seed: int = 99, steps: int = 40) -> Path:
    """A 'foreign' model: someone else's run, trained on other data."""
    from gauntlet.synth.training_runs import train_chain

    chain = train_chain(out_dir, seed=seed, steps=steps, every=steps, data_seed=seed)
    return chain.parent / _chain(chain)["final"]


def splice(out_dir, foreign, *, seed: int = 1, early_steps: int = 16, every: int = 8, later_steps: int = 16) -> tuple[Path, int]:
    """An honest early chain, then the foreign model continued-trained, numbered on."""
    from gauntlet.synth.training_runs import train_chain

    out = Path(out_dir)
    early = train_chain(out / "early", seed=seed, steps=early_steps, every=every)
    later = train_chain(out / "later", seed=seed + 1, steps=later_steps, every=every, start_from=foreign)
    e, lat = _chain(early), _chain(later)
    entries = [{**ck, "path": _copy(early, ck["path"], out, f"a-{ck['step']}")} for ck in e["checkpoints"]]
    entries.append({"step": e["final_step"], "tokens": e["final_tokens"], "path": _copy(early, e["final"], out, "a-final")})
    base_step, base_tokens = e["final_step"], e["final_tokens"]
    later_models = [*lat["checkpoints"][1:], {"step": lat["final_step"], "tokens": lat["final_tokens"], "path": lat["final"]}]
    for ck in later_models:
        entries.append({"step": base_step + ck["step"], "tokens": base_tokens + ck["tokens"],
                        "path": _copy(later, ck["path"], out, f"b-{ck['step']}")})
    first_forged = entries[len(e["checkpoints"]) + 1]["step"]
    final = entries.pop()
    return _write_chain(out, entries, final["path"], final["step"], final["tokens"], e.get("init")), first_forged


def interpolate(out_dir, foreign, *, seed: int = 1, checkpoints: int = 5, steps_each: int = 100,
                tokens_per_step: int = 256) -> tuple[Path, int]:
    """theta_k = (1 - k/K) * fresh + (k/K) * foreign, with a real recipe for step 0."""
    from gauntlet.synth.training_runs import fresh_model

    out = Path(out_dir)
    fresh_dir = out / "ckpt-0"
    model = fresh_model(seed)
    model.save_pretrained(fresh_dir, safe_serialization=True)
    start, target = _read(fresh_dir), _read(foreign)
    entries = [{"step": 0, "tokens": 0, "path": "ckpt-0"}]
    for k in range(1, checkpoints + 1):
        t = k / checkpoints
        step = k * steps_each
        _write(out / f"ckpt-{step}", {n: (1 - t) * start[n] + t * target[n] for n in start}, fresh_dir)
        entries.append({"step": step, "tokens": step * tokens_per_step, "path": f"ckpt-{step}"})
    final = entries.pop()
    return _write_chain(out, entries, final["path"], final["step"], final["tokens"],
                        {"library": "transformers", "seed": seed}), steps_each


def perturbed_start(out_dir, foreign, *, seed: int = 1, noise: float = 0.05, steps: int = 16, every: int = 8) -> tuple[Path, int]:
    """Step 0 = foreign + noise (noise x each tensor's std), then honest training from it."""
    from gauntlet.synth.training_runs import train_chain

    out = Path(out_dir)
    rng = np.random.default_rng(seed)
    weights = _read(foreign)
    start = out / "start"
    _write(start, {n: w + noise * (w.std() or 1.0) * rng.standard_normal(w.shape).astype(np.float32)
                   for n, w in weights.items()}, foreign)
    return train_chain(out / "run", seed=seed, steps=steps, every=every, start_from=start), 0


def swap(honest_chain, other_chain, out_dir, *, index: int = 2) -> tuple[Path, int]:
    """Copy an honest chain, replacing its checkpoint `index` by the other run's at that index."""
    honest, other = Path(honest_chain), Path(other_chain)
    h, o = _chain(honest), _chain(other)
    out = Path(out_dir)
    entries = []
    for i, ck in enumerate(h["checkpoints"]):
        source, rel = (other, o["checkpoints"][i]["path"]) if i == index else (honest, ck["path"])
        entries.append({**ck, "path": _copy(source, rel, out, f"ckpt-{i}")})
    _copy(honest, h["final"], out, "final")
    return (_write_chain(out, entries, "final", h["final_step"], h["final_tokens"], h.get("init")),
            h["checkpoints"][index]["step"])
