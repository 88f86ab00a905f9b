"""Run a model on a suite through lm-eval, one cached task at a time.

Each task is one `lm_eval.simple_evaluate` call on an already-loaded model, and
its result is written to the cache before the next task starts: re-running
computes nothing, adding a task computes only that task, and an interrupted
evaluation resumes after the last finished task. The model itself is loaded only
when some task is missing from the cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gauntlet.errors import GauntletError, InputError
from gauntlet.evaluation.backends import BackendSettings, build_lm
from gauntlet.evaluation.harness import harness_version, lm_eval, quiet_harness
from gauntlet.evaluation.hashing import model_content_hash
from gauntlet.evaluation.items import BenchmarkTask
from gauntlet.evaluation.lm_eval_output import result_document, samples_of
from gauntlet.evaluation.results import ModelEvaluation, ResultCache, TaskResult, cache_key
from gauntlet.evaluation.suites import Suite, resolve_task_spec
from gauntlet.evaluation.tasks import TaskRef
from gauntlet.jobs import Executor, Job, LocalProcessExecutor, in_job, report_progress

DEFAULT_SEED = 1234
# lm-eval bootstraps stderr only for non-mean aggregations (perplexity...), which
# Gauntlet never scores; its own item-level intervals come from `scoring`.
HARNESS_BOOTSTRAP_ITERS = 1000


def default_cache_dir() -> Path:
    return Path(os.environ.get("GAUNTLET_EVAL_CACHE", Path.home() / ".cache" / "gauntlet" / "evaluation"))


@dataclass(frozen=True)
class PlannedTask:
    name: str
    spec: str  # what lm-eval loads: a YAML path, or a built-in task/group name
    config_hash: str
    builtin: bool


def plan_tasks(suite_or_tasks: Suite | TaskRef | str | Path | Iterable[TaskRef | str | Path]) -> list[PlannedTask]:
    """The tasks to run, in order, without duplicates."""
    if isinstance(suite_or_tasks, (Suite, TaskRef, str, Path)):
        items: list[Any] = [suite_or_tasks]
    else:
        items = list(suite_or_tasks)
    refs: list[TaskRef | str] = []
    for item in items:
        if isinstance(item, Suite):
            refs += [e.ref if e.ref is not None else e.task for e in item.entries]
        elif isinstance(item, TaskRef):
            refs.append(item)
        elif isinstance(item, BenchmarkTask):
            raise InputError(f"benchmark task {item.name!r} must be written first: write_tasks(tasks, out_dir)")
        elif isinstance(item, (str, Path)):
            refs += resolve_task_spec(str(item))
        else:
            raise InputError(f"cannot evaluate {type(item).__name__}; give a Suite, TaskRefs, task YAML paths or lm-eval task names")
    planned: dict[str, PlannedTask] = {}
    for ref in refs:
        if isinstance(ref, TaskRef):
            task = PlannedTask(ref.name, str(ref.yaml_path), ref.config_hash, builtin=False)
        else:
            # Built-in task definitions ship inside lm-eval, so the harness version
            # (part of every cache key) pins them.
            digest = hashlib.sha256(f"lm-eval-builtin:{ref}".encode()).hexdigest()
            task = PlannedTask(ref, ref, digest, builtin=True)
        if task.name in planned and planned[task.name] != task:
            raise InputError(f"two different tasks are named {task.name!r}")
        planned[task.name] = task
    if not planned:
        raise InputError("no benchmark tasks to evaluate")
    return list(planned.values())


def evaluate_model(
    model_dir: str | Path,
    suite_or_tasks: Suite | TaskRef | str | Path | Iterable[TaskRef | str | Path],
    *,
    backend: str = "hf",
    device: str = "cpu",
    batch_size: int | str | None = None,
    dtype: str = "auto",
    cache_dir: str | Path | None = None,
    seed: int = DEFAULT_SEED,
    progress: bool = True,
    model_hash: str | None = None,
    label: str | None = None,
    base_url: str | None = None,
    served_model: str | None = None,
    tokenizer: str | Path | None = None,
    max_length: int | None = None,
    backend_options: Mapping[str, Any] | None = None,
) -> ModelEvaluation:
    """Evaluate one model folder on every task of a suite (cached, resumable).

    `model_hash` may be passed when the caller already hashed the folder at
    intake; otherwise the folder's files are hashed here. For `local-completions`
    the folder supplies the tokenizer and the hash; `base_url` names the endpoint.
    """
    model_path = Path(model_dir).expanduser()
    if not model_path.is_dir():
        raise InputError(f"model folder not found: {model_path}")
    planned = plan_tasks(suite_or_tasks)
    settings = BackendSettings(
        backend=backend,
        device=device,
        batch_size=batch_size,
        dtype=dtype,
        max_length=max_length,
        base_url=base_url,
        served_model=served_model,
        tokenizer=str(tokenizer) if tokenizer else None,
        options=tuple(sorted((backend_options or {}).items())),
    )
    model_hash = model_hash or model_content_hash(model_path)
    version = harness_version()
    seeds = {"random_seed": seed, "numpy_seed": seed, "torch_seed": seed, "fewshot_seed": seed}
    identity = settings.identity()
    cache = ResultCache(cache_dir or default_cache_dir())

    results: dict[str, TaskResult] = {}
    keys = {}
    for task in planned:
        keys[task.name] = cache_key(model_hash=model_hash, config_hash=task.config_hash, harness_version=version, backend=identity, seeds=seeds)
        hit = cache.get(keys[task.name])
        if hit is not None:
            results[task.name] = hit
    missing = [t for t in planned if t.name not in results]
    total = len(planned)
    report_progress(len(results), total, "cached" if results else "")

    computed: list[str] = []
    if missing:
        with _task_bar(progress and not in_job(), label or model_path.name, total, len(results)) as advance:
            lm = build_lm(model_path, settings, seed=seed)
            managers = _TaskManagers()
            for task in missing:
                started = time.perf_counter()
                output = _run_lm_eval(lm, task, managers.for_task(task), seeds)
                document = result_document(task.name, task.config_hash, task.spec, task.builtin, output, seconds=time.perf_counter() - started)
                document |= {"model_hash": model_hash, "harness_version": version, "backend": identity, "seeds": seeds}
                samples = samples_of(task.name, output)
                results[task.name] = cache.put(keys[task.name], document, samples)
                computed.append(task.name)
                advance(task.name)
                report_progress(len(results), total, task.name)
    return ModelEvaluation(
        model=label or model_path.name,
        model_hash=model_hash,
        harness_version=version,
        backend=identity,
        seeds=seeds,
        results={t.name: results[t.name] for t in planned},
        computed=tuple(computed),
    )


def evaluation_jobs(
    models: Mapping[str, str | Path],
    suite: Suite | Sequence[TaskRef | str | Path],
    *,
    retries: int = 1,
    **evaluate_kwargs: Any,
) -> list[Job]:
    """One executor job per model (key = the model's label)."""
    return [
        Job(
            key=name,
            fn=evaluate_model,
            args=(str(path), suite),
            kwargs={**evaluate_kwargs, "label": name, "progress": False},
            description=f"benchmarks {name}",
            retries=retries,
        )
        for name, path in models.items()
    ]


def evaluate_models(
    models: Mapping[str, str | Path],
    suite: Suite | Sequence[TaskRef | str | Path],
    *,
    executor: Executor | None = None,
    retries: int = 1,
    progress: bool = True,
    **evaluate_kwargs: Any,
) -> dict[str, ModelEvaluation]:
    """Evaluate several models through an executor (default: a local process pool).

    Raises JobFailed naming every model whose evaluation failed after its retries;
    what finished is in the cache, so a re-run redoes only the rest.
    """
    if executor is None:
        cores = os.cpu_count() or 2
        workers = min(len(models), max(1, cores // 2))
        # Split the cores between workers: N torch processes each using every core thrash.
        executor = LocalProcessExecutor(max_workers=workers, threads_per_worker=max(1, cores // workers))
    return executor.results(evaluation_jobs(models, suite, retries=retries, **evaluate_kwargs), progress=progress)


# ---------------------------------------------------------------- lm-eval calls


class _TaskManagers:
    """Task managers that read no more of lm-eval's registry than the tasks need.

    Local YAML files are loaded by path with the built-in registry switched off
    (scanning all ~15,000 built-in configs costs seconds per run). A built-in name
    is first looked up in its own folder of lm-eval's task tree; only a name that
    is not a folder there costs the full scan.
    """

    def __init__(self) -> None:
        self._local = None
        self._builtin: dict[str, Any] = {}

    def for_task(self, task: PlannedTask):
        from lm_eval.tasks import TaskManager

        if not task.builtin:
            if self._local is None:
                self._local = TaskManager(include_defaults=False)
            return self._local
        if task.name not in self._builtin:
            self._builtin[task.name] = self._builtin_manager(task.name, TaskManager)
        return self._builtin[task.name]

    @staticmethod
    def _builtin_manager(name: str, task_manager_cls):
        import lm_eval.tasks as tasks_pkg

        root = Path(tasks_pkg.__file__).parent
        parts = name.split("_")
        # "kobest_boolq" lives in tasks/kobest/, "haerae" in tasks/haerae/: try the
        # name and its underscore prefixes as folders before scanning everything.
        for folder in [root / "_".join(parts[:k]) for k in range(len(parts), 0, -1)]:
            if folder.is_dir():
                manager = task_manager_cls(include_defaults=False, include_path=str(folder))
                if name in manager.all_tasks:
                    return manager
        manager = task_manager_cls()
        if name not in manager.all_tasks:
            raise InputError(f"unknown lm-eval task {name!r} (not a task file, folder, or built-in task name)")
        return manager


_ENVIRONMENT_REPORT: dict = {}


@contextlib.contextmanager
def _environment_report_once():
    """lm-eval describes the environment (torch's collect_env: pip, nvidia-smi...) on
    every `simple_evaluate`, ~0.3 s of subprocesses each time. Gauntlet calls it once
    per task, so during its own calls the report is computed once per process and
    reused verbatim; lm-eval itself is left untouched outside them."""
    from lm_eval import evaluator

    real = evaluator.add_env_info

    def add_env_info(storage: dict) -> None:
        if not _ENVIRONMENT_REPORT:
            real(_ENVIRONMENT_REPORT)
        storage.update(_ENVIRONMENT_REPORT)

    evaluator.add_env_info = add_env_info
    try:
        yield
    finally:
        evaluator.add_env_info = real


def _run_lm_eval(lm, task: PlannedTask, manager, seeds: Mapping[str, int]) -> dict:
    lm_eval()
    from lm_eval import evaluator

    try:
        with quiet_harness(), _environment_report_once():
            output = evaluator.simple_evaluate(
                model=lm,
                tasks=[task.spec],
                task_manager=manager,
                log_samples=True,
                bootstrap_iters=HARNESS_BOOTSTRAP_ITERS,
                random_seed=seeds["random_seed"],
                numpy_random_seed=seeds["numpy_seed"],
                torch_random_seed=seeds["torch_seed"],
                fewshot_random_seed=seeds["fewshot_seed"],
            )
    except GauntletError:
        raise
    except Exception as exc:
        raise _explain(task, exc) from None
    if not output or task.name not in output.get("results", {}):
        raise InputError(f"lm-eval returned no result for task {task.name!r}")
    return output


def _explain(task: PlannedTask, exc: Exception) -> GauntletError:
    text = " ".join(str(exc).split())[:300] or type(exc).__name__
    offline_markers = ("offline", "connection", "couldn't reach", "not found on the hub", "doesn't exist on the hub", "hf_hub_offline", "cannot find the requested files")
    if task.builtin and (any(m in text.lower() for m in offline_markers) or type(exc).__name__ in {"ConnectionError", "DatasetNotFoundError", "OfflineModeIsEnabled", "LocalEntryNotFoundError"}):
        return InputError(
            f"lm-eval task {task.name!r} needs its dataset, which is not in the local Hugging Face cache and cannot be "
            f"downloaded (Gauntlet runs offline); pre-fetch it into HF_DATASETS_CACHE or ship the task with local data files"
        )
    return InputError(f"lm-eval failed on task {task.name!r}: {type(exc).__name__}: {text}")


@contextlib.contextmanager
def _task_bar(enabled: bool, label: str, total: int, done: int):
    if not enabled:
        yield lambda name: None
        return
    from gauntlet.console import progress_bar

    with progress_bar(transient=False) as bar:
        row = bar.add_task(f"benchmarks {label}", total=total, completed=done)

        def advance(name: str) -> None:
            bar.update(row, advance=1, description=f"benchmarks {label}: {name}")

        yield advance
