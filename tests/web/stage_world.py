"""A challenge whose first round is past its deadline and not yet closed, with real stage
inputs in its workspace: three teams' tiny Llamas submitted through intake, the foreign
reference model, lm-eval task files and arena prompts under `inputs/` — what an organiser
runs the round's stages on from the console.  Built from the pipeline tests' tiny models
and task files; its spec weighs the benchmark only, so the round can be decided as soon as
its audit and evaluation have run (no votes or reviews to wait for)."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from gauntlet.evaluation import write_tasks
from tests.pipeline.conftest import (
    DEADLINE,
    SLUG,
    _llama,
    _save,
    _tokenizer,
    benchmark_tasks,
    spec_text,
)

TEAMS = ("hanbit", "saebyeok", "mirae")
PROMPTS = [{"id": "ko-1", "language": "ko", "text": "한국의 수도는"},
           {"id": "en-1", "language": "en", "text": "The capital of Korea is"}]


def stage_spec() -> str:
    """The pipeline tests' spec, weighing the benchmark only."""
    text = spec_text().replace("benchmark = 40\nexpert = 35\nuser = 25\n", "benchmark = 100\n")
    assert "benchmark = 100" in text
    return text


@dataclass
class StageWorld:
    workspace: Path
    url: str
    tokens: dict[str, str]
    now: datetime  # after the deadline: the round may be closed

    def clock(self) -> datetime:
        return self.now


def build(root: Path) -> StageWorld:
    """Register the challenge, submit three teams' models before the deadline, and lay out the
    stage inputs; the round is left open (not locked)."""
    import torch

    from gauntlet.rounds.pipeline import init_challenge, submit
    from gauntlet.rounds.workspace import open_context

    ws = root / "workspace"
    ws.mkdir(parents=True)
    (root / "challenge.toml").write_text(stage_spec(), encoding="utf-8")
    ctx = open_context(root / "challenge.toml", ws, register=True, at=DEADLINE - timedelta(days=30))
    tokens = dict(init_challenge(ctx, now=DEADLINE - timedelta(days=30)))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        tokenizer = _tokenizer()
        _save(_llama(tokenizer, 0), tokenizer, ws / "inputs" / "references" / "foreign", "apache")
        models = root / "models"
        for seed, team in enumerate(TEAMS, 1):
            folder = _save(_llama(tokenizer, seed), tokenizer, models / team, "apache")
            submit(ctx, team, folder, "first", now=DEADLINE - timedelta(days=2), progress=False)
    finally:
        torch.set_num_threads(threads)
    shutil.rmtree(models)
    write_tasks(benchmark_tasks(), ws / "inputs" / "tasks")
    (ws / "inputs" / "prompts.jsonl").write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in PROMPTS),
                                                 encoding="utf-8")
    return StageWorld(ws, ctx.workspace.db_url(), tokens, DEADLINE + timedelta(days=1))


__all__ = ["SLUG", "TEAMS", "StageWorld", "build"]
