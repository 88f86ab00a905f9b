"""Free-text answers (for the arena) through the same lm-eval backends as the benchmarks.

Arena answers must come from the very model object the benchmarks scored, under
the same backend settings (hf on CPU/GPU, vllm, or a team's OpenAI-compatible
endpoint), so a team cannot be benchmarked on one build and voted on another.
We therefore issue lm-eval `generate_until` requests to the backend's `LM`
rather than calling transformers directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from gauntlet.evaluation.backends import BackendSettings, build_lm

DEFAULT_MAX_NEW_TOKENS = 48
STOP_SEQUENCES = ("\n\n",)
# A base model answers in completion style: the prompt, a blank line, then its answer up to the
# next blank line. Without the blank line a base model tends to begin with one, which would end
# the answer before it starts.
COMPLETION_TEMPLATE = "{prompt}\n\n"


def generate_answers(
    model_dir: str | Path,
    prompts: Iterable[tuple[str, str]],
    *,
    settings: BackendSettings | None = None,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    seed: int = 1234,
    template: str = COMPLETION_TEMPLATE,
) -> dict[str, str]:
    """Greedy answers keyed by prompt id, for `(prompt_id, text)` pairs; `template` places the
    prompt text (`{prompt}`) in the context the model continues."""
    from lm_eval.api.instance import Instance

    prompts = list(prompts)
    if not prompts:
        return {}
    lm = build_lm(Path(model_dir), settings or BackendSettings(), seed=seed)
    options = {"until": list(STOP_SEQUENCES), "max_gen_toks": max_new_tokens, "do_sample": False}
    requests = [
        Instance(request_type="generate_until", doc={"id": pid}, idx=0, metadata=("arena", i, 1),
                 arguments=(template.format(prompt=text), dict(options)))
        for i, (pid, text) in enumerate(prompts)
    ]
    outputs = lm.generate_until(requests, disable_tqdm=True)
    return {pid: out.strip() for (pid, _), out in zip(prompts, outputs)}
