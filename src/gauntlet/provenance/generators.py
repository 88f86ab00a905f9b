"""Generated model pairs for every disguise and trap the audit must handle (pure numpy).

Models are dicts of float32 arrays with Hugging Face Llama tensor names, and
can be written as real model folders (config.json + safetensors, optionally
sharded, in bf16/fp16/fp32). "Training" is simulated with gradient-like
updates: each step adds delta^T x for inputs x drawn in the model's *own*
residual basis (as real activations are) and applies weight decay, so that after
long training the correlation with the starting weights becomes small.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def llama(seed: int, *, d: int = 48, h: int = 96, layers: int = 2, vocab: int = 300, heads: int = 4,
          norms: str = "ones", vision: bool = False, std: float = 0.02) -> dict[str, np.ndarray]:
    """A randomly initialised Llama-shaped model (same init scheme for every seed)."""
    rng = np.random.default_rng(seed)

    def w(*shape, scale=1.0):
        return (rng.standard_normal(shape) * std * scale).astype(np.float32)

    def norm(n):
        if norms == "ones":
            return np.ones(n, np.float32)
        return (1.0 + 0.01 * rng.standard_normal(n)).astype(np.float32)

    t = {"model.embed_tokens.weight": w(vocab, d)}
    for i in range(layers):
        p = f"model.layers.{i}."
        t[p + "input_layernorm.weight"] = norm(d)
        t[p + "self_attn.q_proj.weight"] = w(d, d)
        t[p + "self_attn.k_proj.weight"] = w(d, d)
        t[p + "self_attn.v_proj.weight"] = w(d, d)
        # GPT-2-style depth-scaled output projections: every seed shares this std profile
        t[p + "self_attn.o_proj.weight"] = w(d, d, scale=1 / np.sqrt(2 * (i + 1)))
        t[p + "post_attention_layernorm.weight"] = norm(d)
        t[p + "mlp.gate_proj.weight"] = w(h, d)
        t[p + "mlp.up_proj.weight"] = w(h, d)
        t[p + "mlp.down_proj.weight"] = w(d, h, scale=1 / np.sqrt(2 * (i + 1)))
    t["model.norm.weight"] = norm(d)
    t["lm_head.weight"] = w(vocab, d)
    if vision:
        dv = 40
        t["vision_tower.patch_embed.weight"] = w(dv, 3, 4, 4)
        for i in range(2):
            p = f"vision_tower.layers.{i}."
            t[p + "attn.qkv.weight"] = w(3 * dv, dv)
            t[p + "attn.proj.weight"] = w(dv, dv)
            t[p + "mlp.fc1.weight"] = w(2 * dv, dv)
            t[p + "mlp.fc2.weight"] = w(dv, 2 * dv)
            t[p + "norm1.weight"] = norm(dv)
        t["multi_modal_projector.weight"] = w(d, dv)
    return t


def train(tensors: dict[str, np.ndarray], seed: int, *, steps: int = 200, lr: float = 0.02,
          decay: float = 0.0, batch: int = 16) -> dict[str, np.ndarray]:
    """Gradient-like drift: every matrix gets `steps` low-rank updates delta^T x.

    Inputs x have a covariance in this model's own basis (derived from its
    weights), as real activations do; `decay` is decoupled weight decay per step.
    """
    rng = np.random.default_rng(seed)
    out = {}
    for name, W in tensors.items():
        W = W.astype(np.float64).copy()
        if W.ndim < 2:
            out[name] = (W + 0.002 * steps / 100 * rng.standard_normal(W.shape)).astype(np.float32)
            continue
        shape = W.shape
        W = W.reshape(shape[0], -1)
        m, n = W.shape
        scale = W.std() or 0.02
        mix = W[: min(m, n)].T @ rng.standard_normal((min(m, n), n)) / np.sqrt(n) / scale  # own-basis input covariance
        for _ in range(max(1, steps // 10)):  # ten optimiser steps per simulated minibatch group
            x = rng.standard_normal((batch * 10, n)) @ (np.eye(n) + 0.5 * mix)
            delta = rng.standard_normal((batch * 10, m))
            grad = delta.T @ x
            # Adam-like: the update has a fixed per-element size whatever the gradient's scale
            W = W * (1 - lr * decay) ** 10 - lr * scale * 10 * grad / grad.std()
        out[name] = W.reshape(shape).astype(np.float32)
    return out


def correlation(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    """Mean per-matrix Pearson correlation of shared tensors (how far drift went)."""
    rs = [np.corrcoef(a[k].ravel(), b[k].ravel())[0, 1] for k in a if k in b and a[k].ndim == 2 and a[k].shape == b[k].shape]
    return float(np.mean(rs))


# ------------------------------------------------------------------ disguises


def _layer_ids(t):
    return sorted({int(k.split(".")[2]) for k in t if k.startswith("model.layers.")})


def rename_fuse(t: dict) -> dict:
    """GPT-NeoX-like names, q/k/v fused into one tensor, gate/up fused."""
    out = {"gpt_neox.embed_in.weight": t["model.embed_tokens.weight"], "embed_out.weight": t["lm_head.weight"],
           "gpt_neox.final_layer_norm.weight": t["model.norm.weight"]}
    for i in _layer_ids(t):
        p, q = f"model.layers.{i}.", f"gpt_neox.layers.{i}."
        out[q + "attention.query_key_value.weight"] = np.concatenate(
            [t[p + "self_attn.q_proj.weight"], t[p + "self_attn.k_proj.weight"], t[p + "self_attn.v_proj.weight"]])
        out[q + "attention.dense.weight"] = t[p + "self_attn.o_proj.weight"]
        out[q + "mlp.dense_h_to_4h.weight"] = np.concatenate([t[p + "mlp.gate_proj.weight"], t[p + "mlp.up_proj.weight"]])
        out[q + "mlp.dense_4h_to_h.weight"] = t[p + "mlp.down_proj.weight"]
        out[q + "input_layernorm.weight"] = t[p + "input_layernorm.weight"]
        out[q + "post_attention_layernorm.weight"] = t[p + "post_attention_layernorm.weight"]
    return out


def permute_and_rescale(t: dict, seed: int, heads: int = 4, c: float = 3.0) -> dict:
    """Permute MLP neurons and attention heads consistently; up x c, down / c; q x c, k / c."""
    rng = np.random.default_rng(seed)
    out = dict(t)
    for i in _layer_ids(t):
        p = f"model.layers.{i}."
        h = t[p + "mlp.up_proj.weight"].shape[0]
        perm = rng.permutation(h)
        out[p + "mlp.up_proj.weight"] = t[p + "mlp.up_proj.weight"][perm] * c
        out[p + "mlp.gate_proj.weight"] = t[p + "mlp.gate_proj.weight"][perm]
        out[p + "mlp.down_proj.weight"] = t[p + "mlp.down_proj.weight"][:, perm] / c
        d = t[p + "self_attn.q_proj.weight"].shape[0]
        hd = d // heads
        hp = rng.permutation(heads)
        rows = np.concatenate([np.arange(j * hd, (j + 1) * hd) for j in hp])
        out[p + "self_attn.q_proj.weight"] = t[p + "self_attn.q_proj.weight"][rows] * c
        out[p + "self_attn.k_proj.weight"] = t[p + "self_attn.k_proj.weight"][rows] / c
        out[p + "self_attn.v_proj.weight"] = t[p + "self_attn.v_proj.weight"][rows]
        out[p + "self_attn.o_proj.weight"] = t[p + "self_attn.o_proj.weight"][:, rows]
    return out


def rotate_residual(t: dict, seed: int) -> dict:
    """Fold norm gains into the next linear layers, then rotate the residual stream by a
    random orthogonal matrix: the model computes the same function."""
    rng = np.random.default_rng(seed)
    d = t["model.embed_tokens.weight"].shape[1]
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    Q = Q.astype(np.float32)
    out = dict(t)
    out["model.embed_tokens.weight"] = t["model.embed_tokens.weight"] @ Q
    for i in _layer_ids(t):
        p = f"model.layers.{i}."
        g1, g2 = t[p + "input_layernorm.weight"], t[p + "post_attention_layernorm.weight"]
        for name in ("q_proj", "k_proj", "v_proj"):
            out[p + f"self_attn.{name}.weight"] = (t[p + f"self_attn.{name}.weight"] * g1) @ Q
        for name in ("gate_proj", "up_proj"):
            out[p + f"mlp.{name}.weight"] = (t[p + f"mlp.{name}.weight"] * g2) @ Q
        out[p + "self_attn.o_proj.weight"] = Q.T @ t[p + "self_attn.o_proj.weight"]
        out[p + "mlp.down_proj.weight"] = Q.T @ t[p + "mlp.down_proj.weight"]
        out[p + "input_layernorm.weight"] = np.ones(d, np.float32)
        out[p + "post_attention_layernorm.weight"] = np.ones(d, np.float32)
    out["lm_head.weight"] = (t["lm_head.weight"] * t["model.norm.weight"]) @ Q
    out["model.norm.weight"] = np.ones(d, np.float32)
    return out


def store_transposed(t: dict) -> dict:
    """Every matrix stored [in, out] (GPT-2's Conv1D layout), names kept."""
    return {k: (np.ascontiguousarray(v.T) if v.ndim == 2 else v) for k, v in t.items()}


def own_vocabulary(t: dict, seed: int) -> dict:
    """The team's own tokenizer: embeddings and output head replaced by fresh ones."""
    rng = np.random.default_rng(seed)
    out = dict(t)
    for name in ("model.embed_tokens.weight", "lm_head.weight"):
        E = t[name]
        out[name] = (rng.standard_normal((E.shape[0] + 37, E.shape[1])) * E.std()).astype(np.float32)
    return out


def to_layout(t: dict, layout: str, seed: int = 0, heads: int = 4) -> dict:
    """The same weights in another family's storage layout and names:
    - "gpt2": Conv1D [in, out]; q/k/v fused into c_attn [d, 3d] with biases; MLP c_fc/c_proj;
    - "neox": query_key_value [3d, d] interleaved per head (q_h, k_h, v_h, ...) with biases;
    - "phi3": qkv_proj [3d, d] and gate_up_proj [2h, d] fused.
    Biases are the copy's own (zeros plus noise): they are not evidence either way."""
    rng = np.random.default_rng(seed)

    def bias(n):
        return (0.01 * rng.standard_normal(n)).astype(np.float32)

    names = {"gpt2": ("transformer.wte.weight", "lm_head.weight", "transformer.ln_f.weight", "transformer.h."),
             "neox": ("gpt_neox.embed_in.weight", "embed_out.weight", "gpt_neox.final_layer_norm.weight",
                      "gpt_neox.layers."),
             "phi3": ("model.embed_tokens.weight", "lm_head.weight", "model.norm.weight", "model.layers.")}[layout]
    out = {names[0]: t["model.embed_tokens.weight"], names[1]: t["lm_head.weight"], names[2]: t["model.norm.weight"]}
    for i in _layer_ids(t):
        p, q = f"model.layers.{i}.", f"{names[3]}{i}."
        wq, wk, wv = (t[p + f"self_attn.{x}_proj.weight"] for x in "qkv")
        wo = t[p + "self_attn.o_proj.weight"]
        gate, up, down = (t[p + f"mlp.{x}_proj.weight"] for x in ("gate", "up", "down"))
        n1, n2 = t[p + "input_layernorm.weight"], t[p + "post_attention_layernorm.weight"]
        if layout == "gpt2":
            qkv = np.concatenate([wq, wk, wv])
            out.update({q + "attn.c_attn.weight": qkv.T.copy(), q + "attn.c_attn.bias": bias(qkv.shape[0]),
                        q + "attn.c_proj.weight": wo.T.copy(), q + "mlp.c_fc.weight": up.T.copy(),
                        q + "mlp.c_proj.weight": down.T.copy(), q + "ln_1.weight": n1, q + "ln_2.weight": n2})
        elif layout == "neox":
            hd = wq.shape[0] // heads
            qkv = np.concatenate([w[j * hd:(j + 1) * hd] for j in range(heads) for w in (wq, wk, wv)])
            out.update({q + "attention.query_key_value.weight": qkv, q + "attention.query_key_value.bias": bias(qkv.shape[0]),
                        q + "attention.dense.weight": wo, q + "mlp.dense_h_to_4h.weight": up,
                        q + "mlp.dense_4h_to_h.weight": down, q + "input_layernorm.weight": n1,
                        q + "post_attention_layernorm.weight": n2})
        else:
            out.update({q + "self_attn.qkv_proj.weight": np.concatenate([wq, wk, wv]),
                        q + "self_attn.o_proj.weight": wo, q + "mlp.gate_up_proj.weight": np.concatenate([gate, up]),
                        q + "mlp.down_proj.weight": down, q + "input_layernorm.weight": n1,
                        q + "post_attention_layernorm.weight": n2})
    return out


def sinusoid_table(positions: int, channels: int) -> np.ndarray:
    """Whisper's fixed position table (the same formula as the original Transformer's)."""
    increment = np.log(10000) / (channels // 2 - 1)
    inv = np.exp(-increment * np.arange(channels // 2))
    angle = np.arange(positions)[:, None] * inv[None, :]
    return np.concatenate([np.sin(angle), np.cos(angle)], axis=1).astype(np.float32)


def with_fixed_tensors(t: dict, *, layers: int = 2, inner: int = 96, state: int = 16) -> dict:
    """Add what a configuration fixes, under names that do not say so: a sinusoidal table
    (a Whisper-style audio encoder), Mamba-style A_log (one row repeated) and D (ones),
    a zero-initialised matrix and a constant bias."""
    d = t["model.embed_tokens.weight"].shape[1]
    out = dict(t)
    out["encoder.table.weight"] = sinusoid_table(120, d)
    for i in range(layers):
        p = f"backbone.layers.{i}.mixer."
        out[p + "A_log"] = np.log(np.tile(np.arange(1, state + 1, dtype=np.float32), (inner, 1)))
        out[p + "D"] = np.ones(inner, np.float32)
        out[p + "gate.weight"] = np.zeros((inner, d), np.float32)
        out[p + "gate.bias"] = np.full(inner, 0.5, np.float32)
    return out


def relayer(t: dict, order: list[int]) -> dict:
    """Build a model whose layer j is the source's layer order[j] (drop/duplicate/interleave)."""
    out = {k: v for k, v in t.items() if not k.startswith("model.layers.")}
    for j, src in enumerate(order):
        for k, v in t.items():
            if k.startswith(f"model.layers.{src}."):
                out[k.replace(f"model.layers.{src}.", f"model.layers.{j}.", 1)] = v.copy()
    return out


def prune_width(t: dict, seed: int, keep: float = 0.5, heads: int = 4) -> dict:
    rng = np.random.default_rng(seed)
    out = dict(t)
    for i in _layer_ids(t):
        p = f"model.layers.{i}."
        h = t[p + "mlp.up_proj.weight"].shape[0]
        idx = np.sort(rng.choice(h, int(h * keep), replace=False))
        out[p + "mlp.up_proj.weight"] = t[p + "mlp.up_proj.weight"][idx]
        out[p + "mlp.gate_proj.weight"] = t[p + "mlp.gate_proj.weight"][idx]
        out[p + "mlp.down_proj.weight"] = t[p + "mlp.down_proj.weight"][:, idx]
        d = t[p + "self_attn.q_proj.weight"].shape[0]
        hd = d // heads
        kept = np.sort(rng.choice(heads, heads // 2, replace=False))
        rows = np.concatenate([np.arange(j * hd, (j + 1) * hd) for j in kept])
        for name in ("q_proj", "k_proj", "v_proj"):
            out[p + f"self_attn.{name}.weight"] = t[p + f"self_attn.{name}.weight"][rows]
        out[p + "self_attn.o_proj.weight"] = t[p + "self_attn.o_proj.weight"][:, rows]
    return out


def change_vocab(t: dict, seed: int) -> dict:
    """Reorder the vocabulary, drop 10% of tokens and add 15% new ones (rows follow)."""
    rng = np.random.default_rng(seed)
    out = dict(t)
    for name in ("model.embed_tokens.weight", "lm_head.weight"):
        E = t[name]
        v, d = E.shape
    order = rng.permutation(v)[: int(v * 0.9)]
    extra = int(v * 0.15)
    for name in ("model.embed_tokens.weight", "lm_head.weight"):
        E = t[name]
        new = (rng.standard_normal((extra, E.shape[1])) * E.std()).astype(np.float32)
        out[name] = np.concatenate([E[order], new])
    return out


def upcycle_moe(t: dict, seed: int, experts: int = 4) -> dict:
    """Dense MLPs copied into experts (Mixtral names), then each expert trained apart."""
    out = {k: v for k, v in t.items() if ".mlp." not in k}
    for i in _layer_ids(t):
        p = f"model.layers.{i}."
        d = t[p + "mlp.up_proj.weight"].shape[1]
        out[p + "block_sparse_moe.gate.weight"] = np.random.default_rng(seed + i).standard_normal((experts, d)).astype(np.float32) * 0.02
        for e in range(experts):
            src = {"w1": t[p + "mlp.gate_proj.weight"], "w3": t[p + "mlp.up_proj.weight"], "w2": t[p + "mlp.down_proj.weight"]}
            trained = train(src, seed * 100 + i * 10 + e, steps=100)
            for k, v in trained.items():
                out[p + f"block_sparse_moe.experts.{e}.{k}.weight"] = v
    return out


def with_component(base: dict, donor: dict, prefix: str) -> dict:
    """Replace every tensor under `prefix` in base by the donor's (e.g. a vision encoder)."""
    out = {k: v for k, v in base.items() if not k.startswith(prefix)}
    out.update({k: v.copy() for k, v in donor.items() if k.startswith(prefix)})
    return out


def rename_component(t: dict, old: str, new: str) -> dict:
    return {(new + k[len(old):] if k.startswith(old) else k): v for k, v in t.items()}


# ------------------------------------------------------------------ folders


def write_folder(path, tensors: dict[str, np.ndarray], *, dtype: str = "F32", shards: int = 1,
                 config: dict | None = None, tokenizer: dict | None = None) -> Path:
    """Write an HF-style folder: config.json, (sharded) safetensors + index, tokenizer.json."""
    from safetensors.numpy import save_file

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    names = list(tensors)
    groups = [names[i::shards] for i in range(shards)]

    def cast(a):
        a = np.ascontiguousarray(a, dtype=np.float32)
        if dtype == "BF16":  # numpy has no bf16: round-to-nearest-even on the bits
            bits = a.view(np.uint32)
            return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
        return a.astype(np.float16) if dtype == "F16" else a

    weight_map = {}
    for i, group in enumerate(groups):
        fname = "model.safetensors" if shards == 1 else f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        arrays = {n: cast(tensors[n]) for n in group}
        save_file(arrays, str(path / fname))
        if dtype == "BF16":
            _retag_bf16(path / fname)
        weight_map.update({n: fname for n in group})
    if shards > 1:
        (path / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    (path / "config.json").write_text(json.dumps(config or {"model_type": "llama"}))
    if tokenizer is not None:
        (path / "tokenizer.json").write_text(json.dumps(tokenizer))
    return path


def _retag_bf16(file: Path) -> None:
    """safetensors.numpy wrote the bf16 bits as U16; relabel them (data offsets are relative
    to the data section, so only the header is rewritten)."""
    raw = file.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    for key, entry in header.items():
        if key != "__metadata__":
            entry["dtype"] = "BF16"
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    file.write_bytes(len(blob).to_bytes(8, "little") + blob + raw[8 + n :])


def bpe_tokenizer(words: list[str], merges: list[str]) -> dict:
    """A minimal tokenizer.json document (BPE) for tokenizer-evidence tests."""
    return {"version": "1.0", "model": {"type": "BPE", "vocab": {w: i for i, w in enumerate(words)}, "merges": merges}}
