"""How a model is served to lm-eval: `hf` (transformers, CPU or GPU), `vllm`
(optional extra, GPU) and `local-completions` (a team's OpenAI-compatible endpoint).

`BackendSettings.identity()` is everything about the backend that can change a
score (lm-eval's results vary with batch size, and hf and vllm can disagree), so
it is part of every cache key.
"""

from __future__ import annotations

import importlib.util
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gauntlet.artifacts.layout import open_model_folder
from gauntlet.errors import DependencyMissing, InputError
from gauntlet.evaluation.harness import lm_eval, require

BACKENDS = ("hf", "vllm", "local-completions")
DEFAULT_CPU_BATCH_SIZE = 8


@dataclass(frozen=True)
class BackendSettings:
    backend: str = "hf"
    device: str = "cpu"
    batch_size: int | str | None = None  # None: "auto" on GPUs, DEFAULT_CPU_BATCH_SIZE on CPU
    dtype: str = "auto"
    max_length: int | None = None
    base_url: str | None = None  # local-completions: http://host:port/v1/completions
    served_model: str | None = None  # local-completions: the "model" field sent to the endpoint
    tokenizer: str | None = None  # local-completions/vllm: tokenizer folder (default: the model folder)
    options: tuple[tuple[str, Any], ...] = field(default=())  # extra backend kwargs, e.g. vllm gpu_memory_utilization

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise InputError(f"unknown backend {self.backend!r} (expected one of {', '.join(BACKENDS)})")
        if self.backend == "local-completions" and not self.base_url:
            raise InputError("the local-completions backend needs a base URL (e.g. http://127.0.0.1:8000/v1/completions)")

    @property
    def resolved_batch_size(self) -> int | str:
        if self.batch_size is not None:
            return self.batch_size
        if self.backend == "local-completions":
            return 1
        return "auto" if self.device.startswith("cuda") or self.backend == "vllm" else DEFAULT_CPU_BATCH_SIZE

    def identity(self) -> dict[str, Any]:
        """What a cached result depends on (the tokenizer folder enters by content)."""
        out = asdict(self)
        out["batch_size"] = self.resolved_batch_size
        out["options"] = [list(kv) for kv in self.options]
        if self.tokenizer:
            out["tokenizer"] = _folder_digest(Path(self.tokenizer))
        return out


def _folder_digest(folder: Path) -> str:
    from gauntlet.evaluation.hashing import model_content_hash

    return model_content_hash(folder) if folder.is_dir() else str(folder)


def build_lm(model_dir: Path, settings: BackendSettings, *, seed: int):
    """An lm-eval `LM` for the model under the given backend."""
    lm_eval()
    if settings.backend == "hf":
        return _hf(model_dir, settings)
    if settings.backend == "vllm":
        return _vllm(model_dir, settings, seed)
    return _local_completions(model_dir, settings, seed)


def _hf(model_dir: Path, settings: BackendSettings):
    import torch
    import transformers
    from lm_eval.models.huggingface import HFLM

    # The same layout rules as intake: safetensors only, no pickle, nothing outside the folder.
    open_model_folder(model_dir)
    dtype: Any = settings.dtype
    if dtype != "auto":
        dtype = getattr(torch, dtype, None)
        if not isinstance(dtype, torch.dtype):
            raise InputError(f"unknown dtype {settings.dtype!r}")
    try:
        # Weights only from safetensors: a pickle checkpoint can execute code on load.
        model = transformers.AutoModelForCausalLM.from_pretrained(
            model_dir, local_files_only=True, use_safetensors=True, dtype=dtype
        )
        tokenizer = transformers.AutoTokenizer.from_pretrained(settings.tokenizer or model_dir, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise InputError(f"{model_dir}: cannot load model ({str(exc).splitlines()[0]})") from None
    model.to(settings.device).eval()
    return HFLM(
        pretrained=model,
        tokenizer=tokenizer,
        batch_size=settings.resolved_batch_size,
        max_length=settings.max_length,
        **dict(settings.options),
    )


def _vllm(model_dir: Path, settings: BackendSettings, seed: int):
    require("vllm", "vllm", "the vllm backend")
    open_model_folder(model_dir)
    from lm_eval.models.vllm_causallms import VLLM

    return VLLM(
        pretrained=str(model_dir),
        tokenizer=str(settings.tokenizer or model_dir),
        dtype=settings.dtype,
        batch_size=settings.resolved_batch_size,
        max_length=settings.max_length,
        seed=seed,
        **dict(settings.options),
    )


def _local_completions(model_dir: Path, settings: BackendSettings, seed: int):
    missing = [m for m in ("aiohttp", "tenacity", "requests") if importlib.util.find_spec(m) is None]
    if missing:
        raise DependencyMissing(
            f"the local-completions backend needs {', '.join(missing)}; install them with pip install 'lm_eval[api]'"
        )
    from lm_eval.models.openai_completions import LocalCompletionsAPI

    tokenizer = settings.tokenizer or str(model_dir)
    if not Path(tokenizer).is_dir():
        raise InputError(f"local-completions needs a local tokenizer folder to count tokens; not found: {tokenizer}")
    return LocalCompletionsAPI(
        base_url=settings.base_url,
        model=settings.served_model or model_dir.name,
        tokenizer=tokenizer,
        tokenizer_backend="huggingface",
        batch_size=settings.resolved_batch_size,
        max_length=settings.max_length or 2048,
        seed=seed,
        **dict(settings.options),
    )
