"""Byte-level BPE tokenizers trained with Hugging Face `tokenizers`, saved so that
`transformers.AutoTokenizer.from_pretrained(folder)` loads them offline."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

EOS_TOKEN = "<|endoftext|>"
PAD_TOKEN = "<|pad|>"
SPECIAL_TOKENS = (EOS_TOKEN, PAD_TOKEN)
# Shortest vocabulary that holds the 256 bytes, the special tokens and some merges.
MIN_VOCAB_SIZE = 300


def train_tokenizer(texts: Sequence[str], vocab_size: int, *, seed: int) -> Tokenizer:
    """A byte-level BPE over `texts` with at most `vocab_size` entries.

    `seed` draws the team's own sample of `texts` (with replacement, as large as
    `texts`): BPE merge order follows pair counts, so two teams training on the
    same world still end up with different merges and token ids, as independent
    tokenizers do. The same seed and texts always give the same tokenizer.
    """
    from gauntlet.errors import InputError

    if vocab_size < MIN_VOCAB_SIZE:
        raise InputError(f"vocab_size must be at least {MIN_VOCAB_SIZE}, got {vocab_size}")
    if not texts:
        raise InputError("cannot train a tokenizer on no text")
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    sample = np.random.default_rng(seed).integers(0, len(texts), size=len(texts))
    tokenizer.train_from_iterator((texts[i] for i in sample), trainer=trainer)
    return tokenizer


def save_tokenizer(tokenizer: Tokenizer, folder: Path | str) -> None:
    """Write tokenizer.json, tokenizer_config.json and the special-token map."""
    from transformers import PreTrainedTokenizerFast

    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token=EOS_TOKEN,
        bos_token=EOS_TOKEN,
        pad_token=PAD_TOKEN,
        model_max_length=1024,
        clean_up_tokenization_spaces=False,
    )
    fast.save_pretrained(str(folder))
