"""A round's stages started from the organisers' console: the same pipeline
functions as `gauntlet challenge audit|evaluate|arena open`, each run in a
background thread so the request that started it answers at once.

Every job of a stage records its state in the store as it changes (what the
console polls, and what the team pages show); the run itself — running,
done, failed, with the stage's one-line summary or error — is kept here, one
per round and stage: a stage that is still running is not started twice. A
failed stage is retried by running it again with the same inputs: the
pipeline skips what finished and runs only the jobs that did not.  With
`gauntlet serve --workers N` each process knows the runs it started; the
jobs' states, in the store, are what every process shows.

The web names a stage's inputs as paths relative to the challenge's
workspace (`inputs/tasks`, `inputs/prompts.jsonl`, `inputs/references/<id>`
by default); a path that leaves the workspace, or names nothing, is refused
before anything starts.  The checks a stage would make first (the round is
closed, the task files cover the spec, the prompt file parses, the spec knows
the reference) run in the request, so bad input is a 4xx, never a failed run.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path

from gauntlet.errors import GauntletError, InputError
from gauntlet.i18n import _, label
from gauntlet.rounds.workspace import RoundContext

log = logging.getLogger("gauntlet.stages")

STAGES = ("audit", "evaluate", "arena")
# The store's job kinds each stage records (the console's retry button maps a failed job to its stage).
JOB_KINDS = {"fingerprint": "audit", "audit": "audit", "evaluate": "evaluate", "arena": "arena"}
DEFAULT_INPUTS = {"tasks": "inputs/tasks", "prompts": "inputs/prompts.jsonl", "references": "inputs/references"}
MAX_NEW_TOKENS = 1024
DEVICE = re.compile(r"cpu|cuda(:\d{1,2})?|mps")


class StageBusy(InputError):
    """The stage is already running for this round."""


@dataclass
class StageRun:
    round: str
    stage: str
    inputs: dict
    started_at: datetime
    state: str = "running"  # running, done, failed
    describe: Callable[[], str] | None = field(default=None, repr=False)  # the one-line summary, in the reader's language
    error: str = ""
    finished: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def summary(self) -> str:
        return self.describe() if self.describe is not None else ""

    def to_dict(self) -> dict:
        return {"round": self.round, "stage": self.stage, "state": self.state, "inputs": self.inputs,
                "started_at": self.started_at.isoformat(), "summary": self.summary, "error": self.error}


def inside(ctx: RoundContext, text: str, what: str, *, kind: str) -> Path:
    """`text` as a path inside the workspace that exists as a `kind` ("dir", "file" or "any")."""
    text = (text or "").strip()
    if not text:
        raise InputError(f"{what}: give a path inside the workspace")
    if Path(text).is_absolute():
        raise InputError(f"{what}: {text!r} must be relative to the workspace, not absolute")
    root = ctx.workspace.root.resolve()
    path = (root / text).resolve()
    if not path.is_relative_to(root):
        raise InputError(f"{what}: {text!r} leaves the workspace")
    found = path.is_dir() if kind == "dir" else path.is_file() if kind == "file" else path.exists()
    if not found:
        noun = {"dir": "folder", "file": "file", "any": "folder or file"}[kind]
        raise InputError(f"{what}: no {noun} {text!r} in the workspace")
    return path


def prepare(ctx: RoundContext, round_id: str, stage: str, fields: Mapping[str, str], now: datetime) -> tuple[dict, Callable]:
    """Check a stage's inputs and the round now; returns (the inputs as given, the work to run)."""
    from gauntlet.rounds import pipeline

    if stage not in STAGES:
        raise InputError(f"no stage {stage!r}; the stages are {', '.join(STAGES)}")
    ctx.round(round_id)
    if not ctx.store.round_submissions(ctx.slug, round_id):
        raise InputError(f"round {round_id!r} has no submissions")
    ctx.require_locked(round_id, now)  # refused before the deadline; records the lock the first time
    if stage == "audit":
        references, given = {}, {}
        for ref in ctx.spec.independence.references:
            text = fields.get(f"reference.{ref.id}") or f"{DEFAULT_INPUTS['references']}/{ref.id}"
            references[ref.id] = str(inside(ctx, text, f"reference {ref.id}", kind="any"))
            given[f"reference.{ref.id}"] = text
        return given, lambda executor: partial(_audit_summary, pipeline.audit_round(
            ctx, round_id, references, now=now, executor=executor, progress=False))
    settings, given = _settings(fields)
    if stage == "evaluate":
        text = fields.get("tasks") or DEFAULT_INPUTS["tasks"]
        tasks = inside(ctx, text, "tasks", kind="dir")
        only = fields.get("only_available", "") in ("yes", "true", "on", "1")
        pipeline.round_suite(ctx, tasks, only_available=only)  # every spec task has its file
        return {"tasks": text, "only_available": "yes" if only else "", **given}, lambda executor: partial(_evaluate_summary,
            pipeline.evaluate_round(ctx, round_id, tasks, now=now, executor=executor, settings=settings,
                                    only_available=only, progress=False))
    text = fields.get("prompts") or DEFAULT_INPUTS["prompts"]
    prompts = inside(ctx, text, "prompts", kind="file")
    pipeline.read_prompts(prompts, round_id)
    tokens_text = (fields.get("max_new_tokens") or "").strip()
    if tokens_text and not (tokens_text.isdigit() and 1 <= int(tokens_text) <= MAX_NEW_TOKENS):
        raise InputError(f"max_new_tokens must be a whole number from 1 to {MAX_NEW_TOKENS}")
    tokens = int(tokens_text) if tokens_text else None
    return {"prompts": text, "max_new_tokens": tokens_text, **given}, lambda executor: partial(_arena_summary,
        pipeline.open_arena(ctx, round_id, prompts, now=now, executor=executor, settings=settings,
                            max_new_tokens=tokens, progress=False))


def _settings(fields: Mapping[str, str]):
    """The model backend of the evaluation and the arena answers: `backend` (hf or vllm; an
    endpoint backend is for the CLI, which can name its URL) and `device` (cpu, cuda, cuda:N, mps)."""
    from gauntlet.evaluation import BackendSettings

    backend = (fields.get("backend") or "hf").strip()
    device = (fields.get("device") or "cpu").strip()
    if backend not in ("hf", "vllm"):
        raise InputError(f"backend must be hf or vllm, not {backend[:40]!r}")
    if not DEVICE.fullmatch(device):
        raise InputError(f"device must be cpu, cuda, cuda:N or mps, not {device[:40]!r}")
    return BackendSettings(backend=backend, device=device), {"backend": backend, "device": device}


# A stage's summary is written when it is read, so each reader gets it in their language.
def _audit_summary(verdicts: dict) -> str:
    return ", ".join(f"{t}: {label(v)}" for t, v in sorted(verdicts.items())) or _("every submission was already audited")


def _evaluate_summary(scores: dict) -> str:
    return (", ".join(f"{t}: {s.value:.1f}" for t, s in sorted(scores.items()))
            or _("every submission already has its benchmark component"))


def _arena_summary(counts: dict) -> str:
    return _("arena open: %(stored)s answers stored, %(excluded)s kept out for naming their model",
             stored=counts["stored"], excluded=counts["excluded"])


class StageRunner:
    """The stage runs of one server process, by (challenge, round, stage)."""

    def __init__(self, make_executor: Callable[[], object]) -> None:
        self._make_executor = make_executor
        self._runs: dict[tuple[str, str, str], StageRun] = {}
        self._lock = threading.Lock()

    def start(self, ctx: RoundContext, round_id: str, stage: str, fields: Mapping[str, str], now: datetime) -> StageRun:
        key = (ctx.slug, round_id, stage)
        with self._lock:
            if (run := self._runs.get(key)) is not None and run.state == "running":
                raise StageBusy(f"the {stage} stage of round {round_id!r} is already running "
                                f"(since {run.started_at.isoformat()})")
            inputs, work = prepare(ctx, round_id, stage, fields, now)
            run = self._runs[key] = StageRun(round_id, stage, inputs, now)
        threading.Thread(target=self._run, args=(run, work), name=f"stage-{stage}-{round_id}", daemon=True).start()
        return run

    def rerun_for(self, ctx: RoundContext, job: Mapping, now: datetime) -> StageRun | None:
        """What a team's retry request of a failed `job` asks: run the stage the job belongs to
        again with the inputs of its last run here (the finished jobs are skipped).  None when
        this process never ran that stage, or it cannot start now (running already, inputs
        gone): the request then waits, shown to the organisers, until a console retry or the
        CLI's stage rerun runs the job, which clears it."""
        stage = JOB_KINDS.get(job["kind"])
        last = self.last(ctx.slug, job["round"], stage) if stage and job["round"] else None
        if last is None:
            return None
        try:
            return self.start(ctx, job["round"], stage, last.inputs, now)
        except GauntletError as exc:  # running already, or its inputs are gone: the request stays, shown
            log.info("the retry of job %r waits for the organisers: %s", job["key"], exc)
            return None

    def last(self, slug: str, round_id: str, stage: str) -> StageRun | None:
        return self._runs.get((slug, round_id, stage))

    def runs(self, slug: str) -> list[dict]:
        return [r.to_dict() for (s, _, _), r in sorted(self._runs.items()) if s == slug]

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for every run to finish (for tests and a clean shutdown); False on timeout."""
        return all(r.finished.wait(timeout) for r in list(self._runs.values()))

    def _run(self, run: StageRun, work: Callable) -> None:
        try:
            run.describe, run.state = work(self._make_executor()), "done"
        except GauntletError as exc:
            run.error, run.state = str(exc), "failed"
        except Exception:  # a bug: the organisers see that it failed, the log has the traceback
            log.exception("the %s stage of round %r failed", run.stage, run.round)
            run.error, run.state = "internal error; the server log has the details", "failed"
        finally:
            run.finished.set()
