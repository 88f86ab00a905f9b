"""Is step 0 of a chain a fresh initialisation?

Two ways to know, strongest first:
- a recipe {"library": "transformers", "seed": s}: replay `torch.manual_seed(s)`
  then `AutoModelForCausalLM.from_config(config)` and compare every stored tensor
  bit for bit (in its stored dtype). The only step here that needs torch.
- otherwise, the initialisation scheme the config declares (`initializer_range`:
  transformers draws every matrix i.i.d. N(0, initializer_range^2), norm gains 1,
  biases 0). Per matrix, rows at fixed positions (chosen before any value is
  read, so under the scheme the sampled entries are i.i.d. normal with a known
  scale) are tested twice, exactly: sum x^2 / sigma^2 against chi-square (the
  declared scale) and Kolmogorov-Smirnov against N(0, sigma^2) (the shape);
  all-zero rows are padding embeddings and are left out. The per-matrix
  p-values are merged with Bonferroni (valid whatever they share). Trained or
  rescaled weights fail the scale or the shape; a foreign model that still
  looks like its own initialisation is what the reference tests are for.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from gauntlet.artifacts.layout import open_model_folder
from gauntlet.artifacts.safetensors_io import read_header, read_tensor
from gauntlet.errors import DependencyMissing, InputError

SAMPLE_ROWS = 32
SAMPLE_VALUES = 4096


@dataclass
class OriginResult:
    verdict: str  # "fresh" | "not-fresh" | "unknown"
    method: str  # "recipe" | "scheme" | "none"
    p_value: float | None = None
    detail: str = ""
    tensors_checked: int = 0
    references: list[str] = field(default_factory=list)  # references step 0 is derived from

    def to_dict(self) -> dict:
        return {"verdict": self.verdict, "method": self.method, "p_value": self.p_value, "detail": self.detail,
                "tensors_checked": self.tensors_checked, "derived_from": self.references}


def replay_recipe(folder, seed: int) -> OriginResult:
    """Rebuild step 0 from its recipe and compare it bit for bit with the stored tensors."""
    try:
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM
    except ImportError:
        raise DependencyMissing("replaying an init recipe needs torch and transformers: pip install 'gauntlet[eval]'") from None
    import transformers

    model = open_model_folder(folder)
    try:
        config = AutoConfig.from_pretrained(str(model.root), trust_remote_code=False)
    except Exception as exc:  # a config transformers cannot read is the team's input
        raise InputError(f"step 0 config.json cannot be read by transformers: {type(exc).__name__}: {exc}") from None
    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    try:
        torch.manual_seed(seed)
        rebuilt = AutoModelForCausalLM.from_config(config)
    finally:
        transformers.logging.set_verbosity(verbosity)
    state = {k: v.detach() for k, v in rebuilt.state_dict().items()}
    stored = set()
    checked = 0
    for shard in model.shards:
        header = read_header(shard)
        for name, info in header.tensors.items():
            stored.add(name)
            if name not in state:
                return OriginResult("not-fresh", "recipe", 0.0, f"tensor {name} is not part of the model the recipe builds")
            expected = state[name]
            if tuple(expected.shape) != tuple(info.shape):
                return OriginResult("not-fresh", "recipe", 0.0, f"tensor {name} has shape {list(info.shape)}, the recipe builds {list(expected.shape)}")
            dtype = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}.get(info.dtype)
            if dtype is None:
                return OriginResult("not-fresh", "recipe", 0.0, f"tensor {name} is stored as {info.dtype}, not a float type the recipe makes")
            want = expected.to(dtype).to(torch.float32).numpy()
            got = read_tensor(header, name)
            if not np.array_equal(want.view(np.uint32), got.view(np.uint32)):
                differ = int((want.view(np.uint32) != got.view(np.uint32)).sum())
                return OriginResult("not-fresh", "recipe", 0.0,
                                    f"tensor {name} differs from the recipe's in {differ:,} of {got.size:,} values")
            checked += 1
    # tied weights appear once under their first name, which is the one a checkpoint stores
    missing = [k for k, _ in rebuilt.named_parameters() if k not in stored]
    if missing:
        return OriginResult("not-fresh", "recipe", 0.0, f"step 0 lacks tensor {missing[0]} that the recipe builds")
    return OriginResult("fresh", "recipe", 1.0, f"all {checked} tensors reproduced bit for bit from seed {seed}", checked)


def _sample(header, name: str) -> np.ndarray | None:
    info = header.tensors[name]
    rows = info.shape[0]
    if rows < 2:
        return None
    picks = np.unique(np.linspace(0, rows - 1, min(rows, SAMPLE_ROWS)).astype(int))
    per_row = max(1, SAMPLE_VALUES // picks.size)
    values = []
    for r in picks:
        row = read_tensor(header, name, slice(int(r), int(r) + 1)).ravel()
        values.append(row[np.linspace(0, row.size - 1, min(row.size, per_row)).astype(int)])
    # An all-zero row is a padding embedding; a matrix of nothing but zeros is no initialisation.
    kept = [v for v in values if v.any()] or values
    return np.concatenate(kept).astype(np.float64)


def scheme_test(folder) -> OriginResult:
    """Step 0 against the initialisation scheme its config declares."""
    model = open_model_folder(folder)
    sigma = model.config.get("initializer_range")
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not sigma > 0:
        return OriginResult("unknown", "none", None, "the config declares no initializer_range and no init recipe was given")
    sigma = float(sigma)
    ps: list[float] = []
    worst = ("", 1.0)
    for shard in model.shards:
        header = read_header(shard)
        for name, info in header.tensors.items():
            if not info.is_float or info.numel == 0:
                continue
            if len(info.shape) == 1:
                values = read_tensor(header, name)
                low = name.lower()
                want = 1.0 if "norm" in low else 0.0 if "bias" in low else None
                if want is not None:
                    p = 1.0 if np.all(values == want) else 0.0
                    ps.append(p)
                    if p < worst[1]:
                        worst = (f"{name} is not all {want:g}", p)
                continue
            x = _sample(header, name)
            if x is None or x.size < 8:
                continue
            chi = float(np.sum((x / sigma) ** 2))
            p_scale = float(min(1.0, 2 * min(stats.chi2.cdf(chi, x.size), stats.chi2.sf(chi, x.size))))
            p_shape = float(stats.kstest(x, "norm", args=(0.0, sigma)).pvalue)
            p = min(1.0, 2 * min(p_scale, p_shape))
            ps.append(p)
            if p < worst[1]:
                worst = (f"{name}: std {x.std():.4g} vs declared {sigma:g} (scale p = {p_scale:.1e}, shape p = {p_shape:.1e})", p)
    if not ps:
        return OriginResult("unknown", "scheme", None, "no tensor could be tested against the declared scheme")
    p = float(min(1.0, min(ps) * len(ps)))
    detail = f"{len(ps)} tensors against i.i.d. N(0, {sigma:g}^2), norms 1, biases 0"
    if worst[0]:
        detail += f"; least consistent: {worst[0]}"
    return OriginResult("fresh" if p >= 1e-3 else "not-fresh" if p < 1e-4 else "unknown", "scheme", p, detail, len(ps))
