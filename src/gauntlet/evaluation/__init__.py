"""Benchmark evaluation through lm-evaluation-harness.

    refs  = write_tasks(benchmark_tasks, "work/tasks")          # BenchmarkTask -> lm-eval task folders
    suite = Suite.from_task_refs(refs, group_weights={"agency": 10, "common": 20, "individual": 10})
    evals = evaluate_models({"team-a": "models/a", ...}, suite, cache_dir="work/eval-cache")
    score = benchmark_score(evals["team-a"], suite).component   # ComponentScore, 0-100, with interval

Importing this package does not import lm-eval, torch or transformers; they load
when a task actually has to run.
"""

from gauntlet.evaluation.backends import BACKENDS, BackendSettings
from gauntlet.evaluation.hashing import model_content_hash
from gauntlet.evaluation.items import BenchmarkTask
from gauntlet.evaluation.offline_suites import PROGRAMME_GROUP_WEIGHTS, bilingual_tasks, write_offline_suite
from gauntlet.evaluation.results import ModelEvaluation, ResultCache, TaskResult
from gauntlet.evaluation.runner import evaluate_model, evaluate_models, evaluation_jobs, plan_tasks
from gauntlet.evaluation.scoring import BenchmarkScore, EntryScore, benchmark_score, component_score, task_score
from gauntlet.evaluation.suites import (
    Suite,
    SuiteEntry,
    draw_private_subset,
    load_suite,
    public_definition,
    suite_from_specs,
    write_public_definitions,
)
from gauntlet.evaluation.tasks import TaskRef, find_task_refs, read_task_ref, write_tasks

__all__ = [
    "BACKENDS",
    "BackendSettings",
    "BenchmarkScore",
    "BenchmarkTask",
    "EntryScore",
    "ModelEvaluation",
    "PROGRAMME_GROUP_WEIGHTS",
    "ResultCache",
    "Suite",
    "SuiteEntry",
    "TaskRef",
    "TaskResult",
    "benchmark_score",
    "bilingual_tasks",
    "component_score",
    "draw_private_subset",
    "evaluate_model",
    "evaluate_models",
    "evaluation_jobs",
    "find_task_refs",
    "load_suite",
    "model_content_hash",
    "plan_tasks",
    "public_definition",
    "read_task_ref",
    "suite_from_specs",
    "task_score",
    "write_offline_suite",
    "write_public_definitions",
    "write_tasks",
]
