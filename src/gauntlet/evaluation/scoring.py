"""From lm-eval's raw metrics to a team's 0-100 benchmark component, with intervals.

- Each suite entry scores `100 x metric` (a 0-1 mean such as acc or exact_match),
  or, with a `target`, `100 x team / target` on the same task (capped at 100 by
  default: reaching the frontier model earns full marks, the programme's aim was
  ~95% of it).
- Within a group, entries are weight-averaged; groups are then weight-averaged
  with the suite's declared group weights (e.g. agency 10, common 20, individual 10).
- Intervals come from an item-level bootstrap: each replicate resamples every
  task's items with replacement (paired with the target's items when both were
  evaluated on the same items) and recomputes the whole component. The replicates
  are handed on as `ComponentScore.samples` for the round engine.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from gauntlet.domain.components import ComponentScore
from gauntlet.errors import InputError
from gauntlet.evaluation.results import ModelEvaluation, TaskResult
from gauntlet.evaluation.suites import Suite, SuiteEntry

DEFAULT_BOOTSTRAP = 1000
DEFAULT_LEVEL = 0.95


@dataclass(frozen=True)
class EntryScore:
    task: str
    group: str
    metric: str
    weight: float
    raw: float  # lm-eval's value of the metric, 0-1
    score: ComponentScore  # 0-100, relative to the target when there is one
    target: str | None = None
    target_raw: float | None = None

    def to_dict(self) -> dict:
        return {
            "task": self.task,
            "group": self.group,
            "metric": self.metric,
            "weight": self.weight,
            "raw": self.raw,
            "target": self.target,
            "target_raw": self.target_raw,
            **self.score.to_dict(),
        }


@dataclass(frozen=True)
class BenchmarkScore:
    """A team's benchmark component and how it was built."""

    component: ComponentScore
    groups: Mapping[str, ComponentScore]
    group_weights: Mapping[str, float]
    entries: tuple[EntryScore, ...] = field(repr=False)

    def to_dict(self) -> dict:
        return {
            "component": self.component.to_dict(),
            "groups": {g: {"weight": self.group_weights[g], **s.to_dict()} for g, s in self.groups.items()},
            "entries": [e.to_dict() for e in self.entries],
        }


def _rng(seed: int, *names: str) -> np.random.Generator:
    # One stream per task, so adding a task to a suite leaves the others' replicates unchanged.
    salt = int(hashlib.sha256("\x00".join(names).encode()).hexdigest()[:16], 16)
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, salt])))


def _checked_items(result: TaskResult, metric: str) -> tuple[float, np.ndarray]:
    key = result.metric_key(metric)
    name = key.split(",")[0]
    aggregation = result.aggregations.get(name, "mean")
    if aggregation != "mean":
        raise InputError(f"task {result.task!r}: metric {name!r} is aggregated by {aggregation!r}, not a mean of item scores; it cannot be scored out of 100")
    items = np.asarray(result.item_scores.get(key, ()), dtype=float)
    if items.size == 0:
        raise InputError(f"task {result.task!r}: no per-item values of {key!r} were logged")
    raw = float(result.metrics[key])
    if not (0.0 <= raw <= 1.0) or items.min() < 0.0 or items.max() > 1.0:
        raise InputError(f"task {result.task!r}: metric {key!r} is not a 0-1 score (value {raw:g})")
    return raw, items


def _replicate_means(items: np.ndarray, index: np.ndarray) -> np.ndarray:
    return items[index].mean(axis=1)


def _interval(value: float, replicates: np.ndarray, level: float) -> ComponentScore:
    tail = (1.0 - level) / 2.0 * 100.0
    lower, upper = np.percentile(replicates, [tail, 100.0 - tail])
    # A percentile interval can exclude the point estimate when the bootstrap
    # distribution is lopsided (capped ratios, all-correct tasks); widen it to
    # contain the estimate rather than report an interval that misses it.
    return ComponentScore(
        value=float(value),
        lower=float(min(lower, value)),
        upper=float(max(upper, value)),
        samples=tuple(float(x) for x in replicates),
    )


def task_score(
    result: TaskResult,
    metric: str = "acc",
    *,
    n_boot: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
    level: float = DEFAULT_LEVEL,
) -> ComponentScore:
    """One task's metric on the 0-100 scale with an item-level bootstrap interval."""
    raw, items = _checked_items(result, metric)
    index = _rng(seed, result.task).integers(0, items.size, size=(n_boot, items.size))
    return _interval(100.0 * raw, 100.0 * _replicate_means(items, index), level)


def _target_results(targets: Mapping[str, object] | None, entry: SuiteEntry) -> TaskResult:
    if not targets or entry.target not in targets:
        raise InputError(f"task {entry.task!r} is scored relative to target {entry.target!r}, but no evaluation of {entry.target!r} was given")
    target = targets[entry.target]
    results = target.results if isinstance(target, ModelEvaluation) else target
    if entry.task not in results:
        raise InputError(f"target {entry.target!r} was not evaluated on task {entry.task!r}")
    return results[entry.task]


def benchmark_score(
    evaluation: ModelEvaluation,
    suite: Suite,
    *,
    targets: Mapping[str, ModelEvaluation | Mapping[str, TaskResult]] | None = None,
    n_boot: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
    level: float = DEFAULT_LEVEL,
    relative_cap: float = 100.0,
) -> BenchmarkScore:
    """The benchmark component of one model on a suite (see the module docstring)."""
    if n_boot < 2:
        raise InputError("n_boot must be at least 2")
    entries: list[EntryScore] = []
    replicates: dict[str, np.ndarray] = {}
    for entry in suite.entries:
        if entry.task not in evaluation.results:
            raise InputError(f"model {evaluation.model!r} has no result for suite task {entry.task!r}")
        result = evaluation.results[entry.task]
        metric = entry.scored_metric
        raw, items = _checked_items(result, metric)
        rng = _rng(seed, entry.task)
        index = rng.integers(0, items.size, size=(n_boot, items.size))
        team = _replicate_means(items, index)
        if entry.target:
            target = _target_results(targets, entry)
            target_raw, target_items = _checked_items(target, metric)
            if target_raw <= 0.0:
                raise InputError(f"target {entry.target!r} scores 0 on task {entry.task!r}; a score relative to it is undefined")
            paired = target.item_ids == result.item_ids
            target_index = index if paired else rng.integers(0, target_items.size, size=(n_boot, target_items.size))
            reference = _replicate_means(target_items, target_index)
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(reference > 0, 100.0 * team / np.where(reference > 0, reference, 1.0), relative_cap)
            value = min(100.0 * raw / target_raw, relative_cap)
            reps = np.minimum(ratio, relative_cap)
            entries.append(EntryScore(entry.task, entry.group, metric, entry.weight, raw, _interval(value, reps, level), entry.target, target_raw))
        else:
            reps = 100.0 * team
            entries.append(EntryScore(entry.task, entry.group, metric, entry.weight, raw, _interval(100.0 * raw, reps, level)))
        replicates[entry.task] = reps

    group_weights = suite.effective_group_weights()
    group_scores: dict[str, ComponentScore] = {}
    group_reps: dict[str, np.ndarray] = {}
    for group in group_weights:
        members = [e for e in entries if e.group == group]
        weights = np.array([e.weight for e in members])
        value = float(np.dot(weights, [e.score.value for e in members]) / weights.sum())
        reps = np.stack([replicates[e.task] for e in members]).T @ weights / weights.sum()
        group_scores[group] = _interval(value, reps, level)
        group_reps[group] = reps
    total = sum(group_weights.values())
    value = sum(group_weights[g] * group_scores[g].value for g in group_weights) / total
    reps = sum(group_weights[g] * group_reps[g] for g in group_weights) / total
    return BenchmarkScore(
        component=_interval(value, np.asarray(reps), level),
        groups=group_scores,
        group_weights=group_weights,
        entries=tuple(entries),
    )


def component_score(evaluation: ModelEvaluation, suite: Suite, **kwargs) -> ComponentScore:
    """Shorthand for `benchmark_score(...).component`."""
    return benchmark_score(evaluation, suite, **kwargs).component
