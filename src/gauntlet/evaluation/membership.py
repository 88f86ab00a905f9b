"""Min-K%++ membership scores (Zhang et al. 2024), published items against held-out ones.

For each token x_t of an item's text, Min-K%++ standardises its log-probability by
the model's own next-token distribution at that position:
    z_t = (log p(x_t) - mu_t) / sigma_t,  mu_t = E_p[log p],  sigma_t^2 = Var_p[log p],
and scores the item by the mean of its lowest k% of z_t. Text a model trained on
scores higher (its tokens sit near local maxima of the likelihood). Membership
inference is weak evidence (near chance on some benchmarks), so this is reported
next to the permutation test and never decides anything: the comparison is the
published-minus-held-out mean score, AUROC, and a Monte Carlo permutation p-value.

Written by hand because no maintained library computes Min-K%++ over a local
Hugging Face model; the formula is a few lines over the logits.
"""

from __future__ import annotations

import json

import numpy as np

K_FRACTION = 0.2
PERMUTATIONS = 9_999


def item_texts(ref) -> tuple[list[str], list[bool]] | None:
    """(text, published) per item from a Gauntlet-written task's data files; None for
    task layouts whose text fields are unknown."""
    fields = {"multiple_choice": ("context", "choices", "answer"), "loglikelihood": ("context", "continuation"),
              "generate_until": ("prompt", "target")}.get(ref.output_type)
    if fields is None:
        return None
    texts, flags = [], []
    for path in ref.data_files:
        lines = path.read_text(encoding="utf-8").splitlines() if path.suffix == ".jsonl" else None
        rows = [json.loads(line) for line in lines if line.strip()] if lines is not None else json.loads(path.read_text())
        for row in rows:
            if not all(f in row for f in fields):
                return None
            if ref.output_type == "multiple_choice":
                text = f"{row['context']}{row['choices'][row['answer']]}"
            elif ref.output_type == "loglikelihood":
                text = f"{row['context']}{row['continuation']}"
            else:
                text = f"{row['prompt']}{row['target']}"
            texts.append(text)
            flags.append(bool(row["published"]))
    return texts, flags


def min_k_plus_plus(model, tokenizer, texts: list[str], *, k: float = K_FRACTION, device: str = "cpu") -> np.ndarray:
    import torch

    scores = []
    with torch.no_grad():
        for text in texts:
            ids = tokenizer(text, return_tensors="pt").input_ids.to(device)
            if ids.shape[1] < 2:
                scores.append(float("nan"))
                continue
            logits = model(input_ids=ids).logits[0, :-1].float()
            logp = torch.log_softmax(logits, dim=-1)
            probs = logp.exp()
            mu = (probs * logp).sum(-1)
            sigma = ((probs * logp.square()).sum(-1) - mu.square()).clamp_min(1e-12).sqrt()
            token = logp.gather(-1, ids[0, 1:, None]).squeeze(-1)
            z = ((token - mu) / sigma).cpu().numpy()
            lowest = np.sort(z)[: max(1, int(np.ceil(k * z.size)))]
            scores.append(float(lowest.mean()))
    return np.asarray(scores)


def compare_scores(scores: np.ndarray, published: np.ndarray, *, seed: int = 0) -> dict:
    """Published minus held-out mean score, AUROC, and a permutation p-value (one-sided)."""
    from scipy.stats import mannwhitneyu

    keep = ~np.isnan(scores)
    scores, published = scores[keep], published[keep]
    pub, held = scores[published], scores[~published]
    if not pub.size or not held.size:
        return {"note": "no items on one side"}
    rng = np.random.default_rng(seed)
    observed = pub.mean() - held.mean()
    n = pub.size
    hits = 0
    for _ in range(PERMUTATIONS):
        perm = rng.permutation(scores)
        hits += perm[:n].mean() - perm[n:].mean() >= observed - 1e-12
    auroc = mannwhitneyu(pub, held, alternative="greater").statistic / (pub.size * held.size)
    return {"score": "min-k%++", "k": K_FRACTION, "published_mean": float(pub.mean()), "held_out_mean": float(held.mean()),
            "gap": float(observed), "auroc": float(auroc), "p_value": (1 + hits) / (1 + PERMUTATIONS),
            "decisive": False}


def membership_comparisons(model_dir, refs, *, device: str = "cpu") -> dict[str, dict | None]:
    """Min-K%++ per task (name -> comparison) under a local Hugging Face model loaded once;
    None for a task whose text fields are unknown, a note when the model gives no
    log-likelihoods (it cannot be loaded with transformers)."""
    parsed = {ref.name: item_texts(ref) for ref in refs}
    out: dict[str, dict | None] = {name: None for name, p in parsed.items() if p is None}
    wanted = {name: p for name, p in parsed.items() if p is not None}
    if not wanted:
        return out
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(str(model_dir), local_files_only=True).to(device).eval()
    except (ImportError, OSError, ValueError) as exc:
        return out | {name: {"note": f"no log-likelihoods: {type(exc).__name__}"} for name in wanted}
    for name, (texts, flags) in wanted.items():
        out[name] = compare_scores(min_k_plus_plus(model, tokenizer, texts, device=device), np.asarray(flags))
    return out
