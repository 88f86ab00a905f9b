"""How good a model really is: held-out bits per byte, multiple-choice accuracy,
and arena answers.

The demo uses held-out bits per byte as each model's "true quality" behind its
simulated voters and experts; bits per byte (not per token) is comparable across
models whose tokenizers differ.
"""

from __future__ import annotations

import math
import zlib
from pathlib import Path
from typing import Iterable, Sequence

from gauntlet.errors import InputError
from gauntlet.evaluation.items import BenchmarkTask


def load_model(model_dir: Path | str):
    """(model, tokenizer) from a local folder, in evaluation mode; never downloads."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise InputError(f"no model at {model_dir} (config.json missing)")
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), local_files_only=True)
    model.eval()
    return model, tokenizer


def _sum_logprobs(model, sequences: list[tuple[list[int], int]], pad_id: int, batch_size: int = 32):
    """For each (token ids, n_scored) the summed natural-log probability of its last
    n_scored tokens given everything before them."""
    import torch

    totals = []
    for start in range(0, len(sequences), batch_size):
        chunk = sequences[start : start + batch_size]
        width = max(len(ids) for ids, _ in chunk)
        input_ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for row, (ids, _) in enumerate(chunk):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            mask[row, : len(ids)] = 1
        with torch.no_grad():
            logprobs = torch.log_softmax(model(input_ids=input_ids, attention_mask=mask).logits.float(), -1)
        for row, (ids, scored) in enumerate(chunk):
            positions = torch.arange(len(ids) - scored, len(ids))
            targets = input_ids[row, positions]
            totals.append(float(logprobs[row, positions - 1, targets].sum()))
    return totals


def heldout_bits_per_byte(model_dir: Path | str, texts: Sequence[str]) -> float:
    """Total negative log-likelihood of `texts` in bits divided by their total UTF-8
    bytes. Each text is scored after an end-of-text token (the document separator
    the model trained with), so its first token counts too. Lower is better."""
    from gauntlet.synth.model import torch_threads

    texts = [t for t in texts if t]
    if not texts:
        raise InputError("no held-out text to measure")
    with torch_threads():
        model, tokenizer = load_model(model_dir)
        window = model.config.max_position_embeddings - 1
        sequences = []
        for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]:
            # Texts longer than the context are scored window by window.
            for start in range(0, len(ids), window):
                piece = ids[start : start + window]
                sequences.append(([tokenizer.eos_token_id] + piece, len(piece)))
        nats = -sum(_sum_logprobs(model, sequences, tokenizer.pad_token_id))
    return nats / math.log(2) / sum(len(t.encode("utf-8")) for t in texts)


def choice_logprobs(model_dir: Path | str, task: BenchmarkTask) -> list[list[float]]:
    """Log-probability of every choice of every item of a multiple-choice task,
    tokenised as lm-evaluation-harness does (context and choice encoded together,
    the choice's tokens being what follows the context's)."""
    from gauntlet.synth.model import torch_threads

    if task.output_type != "multiple_choice":
        raise InputError(f"task {task.name} is {task.output_type}, not multiple_choice")
    with torch_threads():
        model, tokenizer = load_model(model_dir)
        sequences, shape = [], []
        for item in task.items:
            context = tokenizer(item["context"], add_special_tokens=False)["input_ids"]
            for choice in item["choices"]:
                whole = tokenizer(item["context"] + choice, add_special_tokens=False)["input_ids"]
                sequences.append((whole, len(whole) - len(context)))
            shape.append(len(item["choices"]))
        flat = _sum_logprobs(model, sequences, tokenizer.pad_token_id)
    out, at = [], 0
    for n in shape:
        out.append(flat[at : at + n])
        at += n
    return out


def multiple_choice_accuracy(model_dir: Path | str, task: BenchmarkTask) -> float:
    """Share of items whose most likely choice is the answer (lm-eval's `acc`).

    The demo's benchmark component goes through lm-evaluation-harness; this direct
    computation exists so that tests and the cast script can check a model's
    knowledge in a second instead of paying lm-eval's start-up for every model.
    """
    scores = choice_logprobs(model_dir, task)
    hits = [max(range(len(s)), key=s.__getitem__) == item["answer"] for s, item in zip(scores, task.items)]
    return sum(hits) / len(hits)


def generate_answers(
    model_dir: Path | str,
    prompts: Iterable[tuple[str, str, str]],
    *,
    max_new_tokens: int = 32,
    seed: int,
    temperature: float = 0.7,
) -> dict[str, str]:
    """Each prompt's answer (the continuation, without the prompt), keyed by prompt
    id. `prompts` are (id, lang, text), e.g. `World.arena_prompts`. Sampling is
    seeded, so the same model, prompts and seed give the same answers;
    temperature 0 means greedy decoding."""
    import torch

    from gauntlet.synth.model import torch_threads

    prompts = list(prompts)
    ids = [p[0] for p in prompts]
    if len(set(ids)) != len(ids):
        raise InputError("arena prompt ids must be unique")
    if not prompts:
        return {}
    with torch_threads():
        model, tokenizer = load_model(model_dir)
        tokenizer.padding_side = "left"
        batch = tokenizer([p[2] for p in prompts], return_tensors="pt", padding=True,
                          add_special_tokens=False)
        torch.manual_seed(zlib.crc32(f"{seed}".encode()))
        sampling = {"do_sample": True, "temperature": temperature, "top_k": 0, "top_p": 1.0} \
            if temperature > 0 else {"do_sample": False}
        with torch.no_grad():
            out = model.generate(
                **batch, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id, **sampling,
            )
    new = out[:, batch["input_ids"].shape[1] :]
    texts = tokenizer.batch_decode(new, skip_special_tokens=True)
    # The token budget can cut a character in two: keep only whole characters, as the arena's answers do.
    from gauntlet.evaluation.generation import readable_text

    return {pid: readable_text(text).strip() for pid, text in zip(ids, texts)}
