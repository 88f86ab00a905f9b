"""Independent models of every architecture family the audit supports, with their real initialisation.

Each family is a tiny configuration of the transformers model that defines it;
`independent_model(family, seed)` builds it with `from_config` (the family's own
`_init_weights`: depth-scaled projections, sinusoidal position tables, Mamba's
`A_log`/`D`, zero biases, trunc-normal vision towers, ...) under its own torch
seed and returns its state dict as float32 numpy arrays. Two seeds give two
models that share everything the configuration fixes and nothing the
initialisation draws: exactly the null hypothesis the audit is calibrated for.

For generators (tests, benchmarks) only: torch and transformers are imported
here, never by the audit.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

FAMILIES = ("llama", "qwen2", "mistral", "gpt2", "gpt-neox", "bert", "mixtral", "deepseek-v3", "mamba",
            "whisper", "vit", "siglip-vision")

_D, _H, _LAYERS, _VOCAB = 64, 128, 2, 160


def _config(family: str):
    import transformers as tf

    common = dict(vocab_size=_VOCAB, hidden_size=_D, intermediate_size=_H, num_hidden_layers=_LAYERS,
                  num_attention_heads=2)
    special = dict(pad_token_id=0, bos_token_id=1, eos_token_id=2)
    if family == "llama":
        return tf.LlamaConfig(**common, num_key_value_heads=2, **special)
    if family == "qwen2":
        return tf.Qwen2Config(**common, num_key_value_heads=1, **special)
    if family == "mistral":
        return tf.MistralConfig(**common, num_key_value_heads=1, sliding_window=64, **special)
    if family == "gpt2":
        return tf.GPT2Config(vocab_size=_VOCAB, n_embd=_D, n_layer=_LAYERS, n_head=2, n_positions=96, **special)
    if family == "gpt-neox":
        return tf.GPTNeoXConfig(**common, max_position_embeddings=96, **special)
    if family == "bert":
        return tf.BertConfig(**common, max_position_embeddings=96, pad_token_id=0)
    if family == "mixtral":
        return tf.MixtralConfig(**common, num_key_value_heads=2, num_local_experts=4, num_experts_per_tok=2, **special)
    if family == "deepseek-v3":
        return tf.DeepseekV3Config(**common, num_key_value_heads=2, moe_intermediate_size=64, n_routed_experts=4,
                                   n_shared_experts=1, num_experts_per_tok=2, first_k_dense_replace=1,
                                   q_lora_rank=48, kv_lora_rank=32, qk_rope_head_dim=16, qk_nope_head_dim=16,
                                   v_head_dim=32, n_group=1, topk_group=1, **special)
    if family == "mamba":
        return tf.MambaConfig(vocab_size=_VOCAB, hidden_size=_D, state_size=16, num_hidden_layers=_LAYERS, expand=2,
                              **special)
    if family == "whisper":
        return tf.WhisperConfig(vocab_size=_VOCAB, d_model=_D, encoder_layers=_LAYERS, decoder_layers=_LAYERS,
                                encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=_H,
                                decoder_ffn_dim=_H, num_mel_bins=16, max_source_positions=96,
                                max_target_positions=64, decoder_start_token_id=1, **special)
    if family == "vit":
        return tf.ViTConfig(hidden_size=_D, num_hidden_layers=_LAYERS, num_attention_heads=2, intermediate_size=_H,
                            image_size=32, patch_size=4)
    if family == "siglip-vision":
        return tf.SiglipVisionConfig(hidden_size=_D, num_hidden_layers=_LAYERS, num_attention_heads=2,
                                     intermediate_size=_H, image_size=32, patch_size=4)
    raise ValueError(f"unknown family {family!r}; known: {', '.join(FAMILIES)}")


@lru_cache(maxsize=None)
def _builder(family: str):
    import transformers as tf

    config = _config(family)
    if family in ("bert", "vit", "whisper"):
        return lambda: tf.AutoModel.from_config(config)
    if family == "siglip-vision":
        return lambda: tf.SiglipVisionModel(config)
    return lambda: tf.AutoModelForCausalLM.from_config(config)


def independent_model(family: str, seed: int) -> dict[str, np.ndarray]:
    """One model of `family`, initialised by transformers under torch seed `seed`."""
    import torch

    from transformers.utils import logging

    logging.set_verbosity_error()
    build = _builder(family)
    torch.manual_seed(seed)
    with torch.no_grad():
        model = build()
    # Tied weights (lm_head = embeddings) appear once, as a saved checkpoint holds them.
    seen: set[int] = set()
    out = {}
    for name, value in model.state_dict().items():
        if value.data_ptr() in seen or not value.is_floating_point():
            continue
        seen.add(value.data_ptr())
        out[name] = value.detach().float().numpy().copy()
    return out
