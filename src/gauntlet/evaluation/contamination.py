"""Did a model train on the test? Published items against held-out items of one pool.

A round's task pool is split at random into items that are published (shown to
teams, e.g. as a sample) and items that never leave the organisers. A model that
never saw either does equally well on both, up to the luck of the split; a model
trained on the published items does better on them. Because the split was
random, the test is a permutation test over the item assignment, conditional on
the model's per-item scores: under "the model's score does not depend on
whether an item was published", every split of the same sizes was equally
likely. For a 0/1 per-item metric (accuracy, exact match: what Gauntlet tasks
score) the sum of the published items' scores is then exactly hypergeometric,
so the p-value is exact, ties included; any other metric gets a Monte Carlo
permutation p-value ((1 + hits) / (1 + draws), valid, floor 1e-5), and says so.

The test is one-sided (published better), Holm-corrected across every task (and
team) tested, at level 0.01 by default; a task on which every item scored the
same can never reject and is left out of the correction. The gap is published minus held-out
score with a 95% interval (Newcombe's hybrid score interval for 0/1 scores,
Welch's otherwise). A task whose items are all published or all held out has
nothing to compare: it is reported and skipped.

Valid only if the published/held-out assignment was random: `published_split`
makes it so and records the seed.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from scipy import stats

from gauntlet.errors import InputError
from gauntlet.evaluation.items import BenchmarkTask
from gauntlet.evaluation.tasks import TaskRef
from gauntlet.provenance.statistics import holm

DEFAULT_LEVEL = 0.01
INTERVAL = 0.95
MONTE_CARLO_DRAWS = 99_999


@dataclass(frozen=True)
class SplitScores:
    """A model's per-item scores on one task, split by whether each item was published."""

    task: str
    metric: str
    published: tuple[float, ...]
    held_out: tuple[float, ...]


@dataclass
class TaskContamination:
    task: str
    metric: str
    published_n: int
    published_score: float | None
    held_out_n: int
    held_out_score: float | None
    gap: float | None = None
    lower: float | None = None
    upper: float | None = None
    p_value: float | None = None  # Holm-corrected across the family tested
    p_value_raw: float | None = None
    method: str = ""
    verdict: str = "inconclusive"
    note: str = ""
    membership: dict | None = None

    def to_dict(self) -> dict:
        return {
            "task": self.task,
            "metric": self.metric,
            "published": {"n": self.published_n, "score": self.published_score},
            "held_out": {"n": self.held_out_n, "score": self.held_out_score},
            "gap": self.gap,
            "lower": self.lower,
            "upper": self.upper,
            "p_value": self.p_value,
            "p_value_raw": self.p_value_raw,
            "method": self.method,
            "verdict": self.verdict,
            "note": self.note,
            "membership": self.membership,
        }


@dataclass
class ContaminationReport:
    model: str
    verdict: str
    level: float
    tasks: list[TaskContamination] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "verdict": self.verdict,
            "level": self.level,
            "correction": "Holm across every task tested",
            "interval": INTERVAL,
            "null_hypothesis": "the model scores no better on items that were published than on items that never were",
            "tasks": [t.to_dict() for t in self.tasks],
        }


# ------------------------------------------------------------------ the split


def published_split(task: BenchmarkTask, *, fraction: float, seed: int) -> BenchmarkTask:
    """Mark a random `fraction` of a task's items `"published": true` (the rest false),
    seeded, and record the draw in the task's metadata."""
    n = len(task.items)
    if not 0 <= fraction <= 1:
        raise InputError(f"published fraction must be between 0 and 1, got {fraction}")
    rng = np.random.Generator(np.random.PCG64(seed))
    chosen = set(int(i) for i in rng.choice(n, size=int(round(fraction * n)), replace=False))
    items = tuple({**item, "published": i in chosen} for i, item in enumerate(task.items))
    record = {"seed": int(seed), "fraction": fraction, "published": sorted(str(items[i].get("id", i)) for i in chosen)}
    return replace(task, items=items, metadata={**task.metadata, "published_split": record})


def published_texts(task: BenchmarkTask) -> list[str]:
    """The text of each published item with its right answer: what a crawl of the
    published split gives a team that trains on it."""
    out = []
    for item in task.items:
        if not item.get("published"):
            continue
        if task.output_type == "multiple_choice":
            out.append(f"{item['context']}{item['choices'][item['answer']]}")
        elif task.output_type == "loglikelihood":
            out.append(f"{item['context']}{item['continuation']}")
        else:
            out.append(f"{item['prompt']}{item['target']}")
    return out


def read_published_flags(ref: TaskRef) -> dict[str, bool]:
    """item id -> published, from a task's JSON / JSON-lines data files."""
    if not ref.data_files:
        raise InputError(f"task {ref.name!r} has no local data files to read 'published' from")
    flags: dict[str, bool] = {}
    index = 0
    for path in ref.data_files:
        if path.suffix not in (".jsonl", ".json"):
            raise InputError(f"task {ref.name!r}: data file {path.name} is not JSON or JSON lines")
        text = path.read_text(encoding="utf-8")
        try:
            rows = ([json.loads(line) for line in text.splitlines() if line.strip()] if path.suffix == ".jsonl"
                    else json.loads(text))
        except json.JSONDecodeError as exc:
            raise InputError(f"task {ref.name!r}: {path.name} is not valid JSON: {exc}") from None
        if not isinstance(rows, list):
            raise InputError(f"task {ref.name!r}: {path.name} must hold a list of items")
        for row in rows:
            item_id = str(row.get("id", index)) if isinstance(row, dict) else str(index)
            flag = row.get("published") if isinstance(row, dict) else None
            if not isinstance(flag, bool):
                raise InputError(f"task {ref.name!r}, item {item_id!r}: no \"published\": true/false field")
            flags[item_id] = flag
            index += 1
    return flags


# ------------------------------------------------------------------ the test


def _binary(values: np.ndarray) -> bool:
    return bool(np.all((values == 0) | (values == 1)))


def gap_p_value(published, held_out, *, seed: int = 0) -> tuple[float, str]:
    """One-sided permutation p-value of mean(published) - mean(held out)."""
    pub, held = np.asarray(published, float), np.asarray(held_out, float)
    both = np.concatenate([pub, held])
    if _binary(both):
        hits = int(pub.sum())
        return float(stats.hypergeom.sf(hits - 1, both.size, int(both.sum()), pub.size)), "exact (hypergeometric)"
    rng = np.random.default_rng(seed)
    observed = pub.sum()
    draws = np.array([rng.permutation(both)[: pub.size].sum() for _ in range(MONTE_CARLO_DRAWS)])
    hits = int((draws >= observed - 1e-12 * max(1.0, abs(observed))).sum())
    return (1 + hits) / (1 + MONTE_CARLO_DRAWS), f"Monte Carlo ({MONTE_CARLO_DRAWS:,} permutations)"


def gap_interval(published, held_out, level: float = INTERVAL) -> tuple[float, float]:
    pub, held = np.asarray(published, float), np.asarray(held_out, float)
    z = stats.norm.ppf(0.5 + level / 2)
    if _binary(np.concatenate([pub, held])):
        # Newcombe (1998) hybrid score interval: Wilson intervals of each side combined.
        def wilson(k, n):
            ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=level, method="wilson")
            return ci.low, ci.high

        p1, p2 = pub.mean(), held.mean()
        l1, u1 = wilson(pub.sum(), pub.size)
        l2, u2 = wilson(held.sum(), held.size)
        d = p1 - p2
        return float(d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)), float(d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2))
    se = math.sqrt(pub.var(ddof=1) / pub.size + held.var(ddof=1) / held.size) if min(pub.size, held.size) > 1 else math.inf
    d = pub.mean() - held.mean()
    return float(d - z * se), float(d + z * se)


def gap_tests(families: dict[str, list[SplitScores]], *, level: float = DEFAULT_LEVEL) -> dict[str, list[TaskContamination]]:
    """Per model (team) and task: the gap test, Holm-corrected across every (model, task)
    tested. Returns model -> its tasks' rows."""
    rows: dict[str, list[TaskContamination]] = {}
    tested: list[TaskContamination] = []
    for model, splits in families.items():
        rows[model] = []
        for s in splits:
            pub, held = np.asarray(s.published, float), np.asarray(s.held_out, float)
            row = TaskContamination(s.task, s.metric, pub.size, float(pub.mean()) if pub.size else None,
                                    held.size, float(held.mean()) if held.size else None)
            rows[model].append(row)
            if not pub.size or not held.size:
                row.note = "skipped: every item is " + ("held out" if not pub.size else "published")
                continue
            row.gap = float(pub.mean() - held.mean())
            row.lower, row.upper = gap_interval(pub, held)
            row.p_value_raw, row.method = gap_p_value(pub, held)
            if np.all(pub == pub[0]) and np.all(held == pub[0]):
                # Every item scored the same: every split gives p = 1, so this test can never
                # reject and is left out of the correction (Tarone 1990), which only costs
                # the other tasks power.
                row.p_value, row.verdict = 1.0, "clean"
                row.note = "every item scored the same: no split can show a gap (left out of the correction)"
                continue
            tested.append(row)
    for row, adjusted in zip(tested, holm([r.p_value_raw for r in tested])):
        row.p_value = adjusted
        row.verdict = "contaminated" if adjusted < level else "clean"
    return rows


def overall_verdict(rows: list[TaskContamination]) -> str:
    if any(r.verdict == "contaminated" for r in rows):
        return "contaminated"
    if rows and all(r.verdict == "clean" for r in rows if r.p_value is not None) and any(r.p_value is not None for r in rows):
        return "clean"
    return "inconclusive"


def split_scores(evaluation, refs: list[TaskRef], metrics: dict[str, str] | None = None) -> list[SplitScores]:
    """Per-item scores of each task's scored metric (`metrics[task]`, else the task's
    default; lm-eval's logged samples), split by the items' published flags."""
    out = []
    for ref in refs:
        flags = read_published_flags(ref)
        result = evaluation.results[ref.name]
        key = result.metric_key((metrics or {}).get(ref.name, ref.default_metric))
        scores = result.item_scores[key]
        missing = [i for i in result.item_ids if i not in flags]
        if missing:
            raise InputError(f"task {ref.name!r}: scored item {missing[0]!r} is not in its data files")
        pub = tuple(float(v) for i, v in zip(result.item_ids, scores) if flags[i])
        held = tuple(float(v) for i, v in zip(result.item_ids, scores) if not flags[i])
        out.append(SplitScores(ref.name, key, pub, held))
    return out


def check_contamination(model_dir, tasks_dir, *, level: float = DEFAULT_LEVEL, cache_dir=None,
                        device: str = "cpu", membership: bool = True, progress: bool = True,
                        label: str | None = None) -> ContaminationReport:
    """Score MODEL_DIR on every task under TASKS_DIR (lm-eval, cached) and test each task's
    published-minus-held-out gap; add the Min-K%++ membership comparison where the model
    gives log-likelihoods (reported, never decisive)."""
    from gauntlet.evaluation.runner import evaluate_model
    from gauntlet.evaluation.tasks import find_task_refs

    model = Path(model_dir)
    if not model.is_dir():
        raise InputError(f"model folder not found: {model}")
    refs = find_task_refs(tasks_dir)
    for ref in refs:  # bad input before any model is loaded
        read_published_flags(ref)
    evaluation = evaluate_model(model, refs, cache_dir=cache_dir, device=device, progress=progress, label=label)
    name = label or model.name
    rows = gap_tests({name: split_scores(evaluation, refs)}, level=level)[name]
    if membership:
        from gauntlet.evaluation.membership import membership_comparisons

        compared = [ref for row, ref in zip(rows, refs) if row.published_n and row.held_out_n]
        found = membership_comparisons(model, compared, device=device)
        for row in rows:
            row.membership = found.get(row.task)
    return ContaminationReport(name, overall_verdict(rows), level, rows)
