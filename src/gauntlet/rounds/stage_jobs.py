"""The work of a round's stages as executor jobs: top-level functions of plain
arguments, so a local process pool (or Ray) can run them anywhere, and keys
that name the stage, the round and the team, so the team pages can show each
job's state and a failed one can be retried by running the stage again."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gauntlet.errors import InputError
from gauntlet.jobs.base import Executor, Job, JobFailed, JobState


def fingerprint_job(folder: str, name: str, origin: dict, out: str) -> str:
    from gauntlet.provenance import fingerprint_model

    fingerprint_model(folder, name=name, origin=origin, progress=False).save(out)
    return out


def audit_job(candidate: str, references: Sequence[str], alpha: float, html: str, language: str = "ko") -> dict:
    """Audits one team; its HTML evidence is written in `language` (the spec's: a job may run
    in another process, which has no current language of its own)."""
    from gauntlet.provenance import audit

    report = audit(candidate, list(references), alpha=alpha, progress=False)
    report.write_html(html, language)
    return report.to_dict()


def chain_job(chain_file: str, references: Mapping[str, str], html: str) -> dict:
    """Verify a team's training-run chain against named references (model folders or
    fingerprint files); its verdict, a one-line detail, the report and its HTML."""
    from gauntlet.provenance import load_any
    from gauntlet.provenance.chain import verify_chain

    refs = []
    for name, source in references.items():
        fingerprint = load_any(source)
        fingerprint.name = name  # the report names the team or spec reference, not a folder
        refs.append(fingerprint)
    report = verify_chain(chain_file, refs, progress=False)
    report.write_html(html)
    if report.verdict == "consistent":
        detail = "every link derived, step 0 fresh, nothing derived from a reference"
    else:
        first = report.first_offending_step
        detail = (f"first offending step {first}: " if first is not None else "") + "; ".join(report.findings[:2])
    return {"verdict": report.verdict, "detail": detail, "report": report.to_dict(), "html": Path(html).name}


def answers_job(model_dir: str, prompts: Sequence[tuple[str, str]], settings: Any, seed: int,
                max_new_tokens: int) -> dict[str, str]:
    from gauntlet.evaluation.generation import generate_answers

    return generate_answers(model_dir, prompts, settings=settings, seed=seed, max_new_tokens=max_new_tokens)


def make_executor(workers: int | None, *, ray: str | None = None, ray_gpus: float = 0) -> Executor:
    """`workers` processes (default: one per two cores, at most the jobs), 0 for this process,
    or Ray tasks on the cluster at `ray` (each asking for `ray_gpus` GPUs)."""
    from gauntlet.jobs.local import InlineExecutor, LocalProcessExecutor

    if workers is not None and workers < 0:
        raise InputError(f"--workers must be 0 or more, got {workers}")
    if ray is not None:
        if workers is not None:
            raise InputError("choose --workers (this machine) or --ray (a Ray cluster), not both")
        from gauntlet.jobs.ray_executor import RayExecutor

        return RayExecutor(ray, gpus_per_job=ray_gpus)
    if ray_gpus:
        raise InputError("--ray-gpus needs --ray")
    if workers == 0:
        return InlineExecutor()
    return LocalProcessExecutor(max_workers=workers)


def run_recorded(executor: Executor, jobs: Sequence[Job], store, slug: str, *, round_id: str, kind: str,
                 teams: Mapping[str, str], progress: bool, at) -> dict[str, Any]:
    """Run jobs with every state change recorded in the store (`teams` maps job keys to
    the team they work for).  Returns the results of the jobs that finished; the caller
    stores those before `raise_failures` reports the rest."""
    if not jobs:
        return {}
    recorder = store.job_recorder(slug, at=at, teams=dict(teams), round_key=round_id, kind=kind)
    statuses = executor.run(list(jobs), progress=progress, on_change=recorder)
    return {key: s.result for key, s in statuses.items() if s.state is JobState.DONE} | {
        key: _Failed(s.error or "failed") for key, s in statuses.items() if s.state is not JobState.DONE}


class _Failed:
    def __init__(self, error: str) -> None:
        self.error = error


def split_failures(results: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    done = {k: v for k, v in results.items() if not isinstance(v, _Failed)}
    failed = {k: v.error for k, v in results.items() if isinstance(v, _Failed)}
    return done, failed


def raise_failures(stage: str, failed: Mapping[str, str]) -> None:
    if failed:
        detail = "; ".join(f"{key}: {error}" for key, error in failed.items())
        raise JobFailed(f"{stage}: {len(failed)} job(s) failed ({detail}); what finished is stored, "
                        "run the same command again to retry the rest")
