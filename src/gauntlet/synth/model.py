"""Tiny Llama-architecture causal language models, trained for real on CPU.

A model folder is a standard Hugging Face layout (config.json, model.safetensors,
generation_config.json, tokenizer.json, tokenizer_config.json) and nothing else:
it is what a team would submit, so it carries no note of how it was made.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

import numpy as np

from gauntlet.errors import InputError

if TYPE_CHECKING:
    from rich.progress import Progress

# Tiny models are latency-bound: their matrices are too small for intra-op
# threads to pay off, and when the cores are busy a second thread makes a step
# several times slower (measured: 72 ms vs 440 ms of CPU per step at hidden 64).
# Parallelism comes from training several models at once instead (see cast.py).
TORCH_THREADS = 1


@dataclass(frozen=True)
class TinyLMConfig:
    """The shape of a tiny Llama model. `vocab_size=None` takes the tokenizer's."""

    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 4
    num_kv_heads: int = 2
    intermediate_size: int = 172
    max_positions: int = 256
    vocab_size: int | None = None

    def llama_config(self, *, eos_token_id: int | None = None, pad_token_id: int | None = None):
        """The `LlamaConfig`; token ids left out keep transformers' defaults (a pad id zeroes
        its embedding row at initialisation, so leaving it out changes the weights drawn)."""
        from transformers import LlamaConfig

        if self.vocab_size is None:
            raise InputError("TinyLMConfig.vocab_size is not set")
        if self.hidden_size % self.num_heads or self.num_heads % self.num_kv_heads:
            raise InputError(
                f"hidden size {self.hidden_size}, {self.num_heads} heads and "
                f"{self.num_kv_heads} kv heads do not divide evenly"
            )
        return LlamaConfig(
            vocab_size=self.vocab_size,
            hidden_size=self.hidden_size,
            intermediate_size=self.intermediate_size,
            num_hidden_layers=self.num_layers,
            num_attention_heads=self.num_heads,
            num_key_value_heads=self.num_kv_heads,
            max_position_embeddings=self.max_positions,
            tie_word_embeddings=False,
            **({} if eos_token_id is None else {"bos_token_id": eos_token_id, "eos_token_id": eos_token_id}),
            **({} if pad_token_id is None else {"pad_token_id": pad_token_id}),
        )


@contextlib.contextmanager
def torch_threads() -> Iterator[None]:
    """Run torch on TORCH_THREADS threads with transformers' own tqdm bars off
    (our Rich bars report progress), and give the caller's settings back."""
    import torch
    from transformers.utils import logging as hf_logging

    before = torch.get_num_threads()
    bars_were_on = hf_logging.is_progress_bar_enabled()
    torch.set_num_threads(TORCH_THREADS)
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        torch.set_num_threads(before)
        if bars_were_on:
            hf_logging.enable_progress_bar()


def _packed_rows(docs: list[list[int]], seq_len: int, pad_id: int, rng) -> np.ndarray:
    """One epoch of training rows: documents in a fresh random order, packed whole
    into rows that each begin at a document start (as evaluation prompts do), the
    rest of a row padded. A document longer than a row is cut."""
    rows, row = [], []
    for index in rng.permutation(len(docs)):
        doc = docs[index][:seq_len]
        if len(row) + len(doc) > seq_len:
            rows.append(row + [pad_id] * (seq_len - len(row)))
            row = []
        row = row + doc
    if row:
        rows.append(row + [pad_id] * (seq_len - len(row)))
    return np.asarray(rows, dtype=np.int64)


def _tokenized_documents(tokenizer, texts: Sequence[str]) -> list[list[int]]:
    eos = tokenizer.eos_token_id
    encoded = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    return [ids + [eos] for ids in encoded if ids]


@contextlib.contextmanager
def _progress_task(progress, description: str, total: int):
    """Yield an `advance()` callable: on the given Rich progress, on an own bar
    (True), the given callable itself, or nothing (False)."""
    from rich.progress import Progress

    if progress is False:
        yield lambda: None
        return
    if callable(progress) and not isinstance(progress, Progress):
        yield progress
        return
    if progress is True:
        from gauntlet.console import progress_bar

        with progress_bar() as own:
            task = own.add_task(description, total=total)
            yield lambda: own.advance(task)
        return
    task = progress.add_task(description, total=total)
    yield lambda: progress.advance(task)


def _optimise(model, tokenizer, texts, *, steps, batch_size, lr, seed, seq_len,
              progress, description, checkpoint=None) -> list[float]:
    import torch
    from transformers import get_cosine_schedule_with_warmup

    if steps < 1 or batch_size < 1 or not lr > 0:
        raise InputError(f"steps, batch_size and lr must be positive (got {steps}, {batch_size}, {lr})")
    docs = _tokenized_documents(tokenizer, texts)
    if not docs:
        raise InputError("no training text")
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    pad = tokenizer.pad_token_id
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.01
    )
    schedule = get_cosine_schedule_with_warmup(
        optimizer, num_warmup_steps=max(1, steps // 20), num_training_steps=steps
    )
    model.train()
    losses: list[float] = []
    rows, cursor = _packed_rows(docs, seq_len, pad, rng), 0
    if checkpoint is not None:
        checkpoint(0, model)
    with _progress_task(progress, description, steps) as advance:
        for step in range(1, steps + 1):
            if cursor >= len(rows):
                rows, cursor = _packed_rows(docs, seq_len, pad, rng), 0
            batch = torch.from_numpy(rows[cursor : cursor + batch_size])
            cursor += batch_size
            labels = batch.masked_fill(batch == pad, -100)
            loss = model(input_ids=batch, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(round(loss.item(), 4))
            if checkpoint is not None:
                checkpoint(step, model)
            advance()
    model.eval()
    return losses


def _save(model, tokenizer, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))
    return out_dir


def train_from_scratch(
    out_dir: Path | str,
    texts: Sequence[str],
    *,
    config: TinyLMConfig,
    tokenizer_vocab_size: int,
    steps: int,
    batch_size: int,
    lr: float,
    seed: int,
    seq_len: int = 128,
    progress: bool | Progress = True,
    description: str = "training",
    loss_log: list[float] | None = None,
    checkpoint=None,
) -> Path:
    """Train a new tokenizer and a freshly initialised model on `texts`; save both
    to `out_dir` and return it. `checkpoint(step, model)`, when given, is called
    before the first step (step 0) and after every step (to save a training-run chain).

    `progress`: True for an own progress bar, a Rich `Progress` to add a task to,
    a callable to call after every step, or False for none. `loss_log`, when
    given, receives the loss of every step.
    """
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM

    from gauntlet.synth.tokenizer import save_tokenizer, train_tokenizer

    out_dir = Path(out_dir)
    if seq_len > config.max_positions:
        raise InputError(f"seq_len {seq_len} exceeds max_positions {config.max_positions}")
    with torch_threads():
        out_dir.mkdir(parents=True, exist_ok=True)
        save_tokenizer(train_tokenizer(texts, tokenizer_vocab_size, seed=seed), out_dir)
        tokenizer = AutoTokenizer.from_pretrained(str(out_dir), local_files_only=True)
        shape = replace(config, vocab_size=len(tokenizer))
        torch.manual_seed(seed)
        model = LlamaForCausalLM(
            shape.llama_config(eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
        )
        losses = _optimise(
            model, tokenizer, texts, steps=steps, batch_size=batch_size, lr=lr, seed=seed,
            seq_len=seq_len, progress=progress, description=description, checkpoint=checkpoint,
        )
        if loss_log is not None:
            loss_log.extend(losses)
        return _save(model, tokenizer, out_dir)


def finetune(
    base_dir: Path | str,
    out_dir: Path | str,
    texts: Sequence[str],
    *,
    steps: int,
    lr: float,
    seed: int,
    batch_size: int = 8,
    seq_len: int = 128,
    progress: bool | Progress = True,
    description: str = "fine-tuning",
    loss_log: list[float] | None = None,
    checkpoint=None,
) -> Path:
    """Continue training a copy of the model in `base_dir` on `texts`, keeping its
    tokenizer; save to `out_dir` and return it. `progress` and `loss_log` as in
    `train_from_scratch`."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base_dir, out_dir = Path(base_dir), Path(out_dir)
    if base_dir.resolve() == out_dir.resolve():
        raise InputError("finetune would overwrite its base model; choose another out_dir")
    if not (base_dir / "config.json").is_file():
        raise InputError(f"no model to fine-tune at {base_dir} (config.json missing)")
    with torch_threads():
        tokenizer = AutoTokenizer.from_pretrained(str(base_dir), local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(str(base_dir), local_files_only=True)
        losses = _optimise(
            model, tokenizer, texts, steps=steps, batch_size=batch_size, lr=lr, seed=seed,
            seq_len=min(seq_len, model.config.max_position_embeddings),
            progress=progress, description=description, checkpoint=checkpoint,
        )
        if loss_log is not None:
            loss_log.extend(losses)
        return _save(model, tokenizer, out_dir)
