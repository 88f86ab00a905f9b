"""Benchmark suites: which tasks a round scores, with what weight, metric and group,
and private held-out draws of their items.

A suite file (YAML, JSON or TOML) looks like::

    name: round-1
    groups: {agency: 10, common: 20, individual: 10}   # optional; default: sum of entry weights
    entries:
      - {task: tasks/ko_arith_mc/ko_arith_mc.yaml, group: agency, metric: acc}
      - {task: tasks, group: common}                  # every task YAML under a folder
      - {task: kmmlu, group: common, weight: 2}        # an lm-eval built-in task name
      - {task: tasks/ko_gen/ko_gen.yaml, group: individual, target: frontier}

Paths are relative to the suite file. A `target` names the model whose score on
the same task the entry is measured against (see `scoring`).
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from gauntlet.errors import InputError
from gauntlet.evaluation.items import BenchmarkTask
from gauntlet.evaluation.tasks import TaskRef, find_task_refs

# Metrics that are not a 0-1 "fraction right" cannot be put on a 0-100 scale.
UNBOUNDED_METRICS = {"perplexity", "word_perplexity", "byte_perplexity", "bits_per_byte", "likelihood"}


@dataclass(frozen=True)
class SuiteEntry:
    """One scored task. `ref` is set for local tasks; built-in lm-eval tasks have only a name."""

    task: str
    ref: TaskRef | None = None
    weight: float = 1.0
    metric: str | None = None
    group: str = "common"
    target: str | None = None

    @property
    def scored_metric(self) -> str:
        if self.metric:
            return self.metric
        return self.ref.default_metric if self.ref else "acc"

    def to_dict(self) -> dict:
        return {
            "task": self.task,
            "source": str(self.ref.yaml_path) if self.ref else "lm-eval built-in",
            "config_hash": self.ref.config_hash if self.ref else None,
            "weight": self.weight,
            "metric": self.scored_metric,
            "group": self.group,
            "target": self.target,
        }


@dataclass(frozen=True)
class Suite:
    name: str
    entries: tuple[SuiteEntry, ...]
    group_weights: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.entries:
            raise InputError(f"suite {self.name!r} has no tasks")
        names = [e.task for e in self.entries]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise InputError(f"suite {self.name!r} lists task {dup[0]!r} twice")
        for entry in self.entries:
            where = f"suite {self.name!r}, task {entry.task!r}"
            if not entry.weight > 0:
                raise InputError(f"{where}: weight must be positive, got {entry.weight}")
            metric = entry.scored_metric
            if metric.split(",")[0] in UNBOUNDED_METRICS:
                raise InputError(f"{where}: metric {metric!r} is not a 0-1 score and cannot be scored out of 100")
            if entry.ref is not None and metric not in entry.ref.metrics and not any(
                m.split(",")[0] == metric for m in entry.ref.metrics
            ):
                raise InputError(f"{where}: unknown metric {metric!r} (the task reports {', '.join(entry.ref.metrics)})")
        groups = {e.group for e in self.entries}
        if self.group_weights:
            missing = sorted(groups - set(self.group_weights))
            if missing:
                raise InputError(f"suite {self.name!r}: group {missing[0]!r} has tasks but no weight in 'groups'")
            bad = [g for g, w in self.group_weights.items() if not float(w) >= 0]
            if bad or not sum(float(self.group_weights[g]) for g in groups) > 0:
                raise InputError(f"suite {self.name!r}: group weights must be non-negative with a positive sum")

    # ------------------------------------------------------------ views
    @property
    def builtin_tasks(self) -> list[str]:
        return [e.task for e in self.entries if e.ref is None]

    @property
    def targets(self) -> list[str]:
        return sorted({e.target for e in self.entries if e.target})

    def effective_group_weights(self) -> dict[str, float]:
        """Declared group weights, or each group's total entry weight when none were declared."""
        groups: dict[str, float] = {}
        for entry in self.entries:
            groups[entry.group] = groups.get(entry.group, 0.0) + entry.weight
        if self.group_weights:
            return {g: float(self.group_weights[g]) for g in groups}
        return groups

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "groups": self.effective_group_weights(),
            "entries": [e.to_dict() for e in self.entries],
        }

    # ------------------------------------------------------------ builders
    @classmethod
    def from_task_refs(
        cls,
        refs: Iterable[TaskRef],
        *,
        name: str = "suite",
        group_weights: Mapping[str, float] | None = None,
        targets: Mapping[str, str] | None = None,
    ) -> "Suite":
        """Each task with weight 1, its default metric, the group it was written with,
        and optionally a target model per task name."""
        targets = targets or {}
        entries = tuple(SuiteEntry(task=r.name, ref=r, group=r.group, target=targets.get(r.name)) for r in refs)
        return cls(name=name, entries=entries, group_weights=dict(group_weights or {}))

    @classmethod
    def from_dict(cls, document: Mapping[str, Any], base_dir: str | Path = ".") -> "Suite":
        base = Path(base_dir)
        if not isinstance(document, Mapping):
            raise InputError("suite document must be a mapping with 'entries'")
        raw_entries = document.get("entries", document.get("tasks"))
        if not isinstance(raw_entries, list) or not raw_entries:
            raise InputError("suite document needs a non-empty 'entries' list")
        entries: list[SuiteEntry] = []
        for i, raw in enumerate(raw_entries):
            if isinstance(raw, str):
                raw = {"task": raw}
            if not isinstance(raw, Mapping) or not isinstance(raw.get("task"), str):
                raise InputError(f"suite entry {i}: needs a 'task' (a task YAML, a folder of them, or an lm-eval task name)")
            unknown = set(raw) - {"task", "weight", "metric", "group", "target"}
            if unknown:
                raise InputError(f"suite entry {i}: unknown key {sorted(unknown)[0]!r}")
            try:
                weight = float(raw.get("weight", 1.0))
            except (TypeError, ValueError):
                raise InputError(f"suite entry {i}: weight must be a number") from None
            common = {
                "weight": weight,
                "metric": raw.get("metric"),
                "group": str(raw.get("group", "common")),
                "target": raw.get("target"),
            }
            for ref in resolve_task_spec(raw["task"], base):
                if isinstance(ref, TaskRef):
                    entries.append(SuiteEntry(task=ref.name, ref=ref, **common))
                else:
                    entries.append(SuiteEntry(task=ref, **common))
        groups = document.get("groups") or {}
        if not isinstance(groups, Mapping):
            raise InputError("suite 'groups' must map group names to weights")
        try:
            group_weights = {str(k): float(v) for k, v in groups.items()}
        except (TypeError, ValueError):
            raise InputError("suite 'groups' weights must be numbers") from None
        return cls(name=str(document.get("name", "suite")), entries=tuple(entries), group_weights=group_weights)


def resolve_task_spec(spec: str, base_dir: Path = Path(".")) -> list[TaskRef | str]:
    """A task YAML, a folder of task YAMLs, or else an lm-eval built-in task name."""
    candidate = Path(spec).expanduser()
    if not candidate.is_absolute():
        candidate = base_dir / candidate
    looks_like_path = spec.endswith((".yaml", ".yml")) or "/" in spec or candidate.exists()
    if looks_like_path:
        return list(find_task_refs(candidate))
    return [spec]


def load_suite(path: str | Path) -> Suite:
    """Read a suite file (YAML, JSON or TOML)."""
    from gauntlet.files import parse_json, parse_toml, parse_yaml, read_text

    p = Path(path).expanduser()
    if not p.is_file():
        raise InputError(f"suite file not found: {p}")
    text = read_text(p, what="suite file")
    what = f"{p}: cannot parse suite"
    parse = parse_toml if p.suffix == ".toml" else parse_json if p.suffix == ".json" else parse_yaml
    return Suite.from_dict(parse(text, what=what), base_dir=p.parent)


def is_suite_file(path: Path) -> bool:
    """A YAML/JSON/TOML document with an 'entries' list (task YAMLs have a 'task' key)."""
    if not path.is_file() or path.suffix not in (".yaml", ".yml", ".json", ".toml"):
        return False
    try:
        text = path.read_text(encoding="utf-8")
        document = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except Exception:
        return False
    return isinstance(document, dict) and "entries" in document and "task" not in document


def suite_from_specs(specs: Sequence[str], *, name: str = "cli") -> Suite:
    """`--tasks` arguments: suite files, task YAMLs, folders, or built-in names."""
    suites = [load_suite(s) for s in specs if is_suite_file(Path(s).expanduser())]
    plain = [s for s in specs if not is_suite_file(Path(s).expanduser())]
    if suites and plain:
        raise InputError("give either one suite file or task files/folders/names to --tasks, not both")
    if len(suites) > 1:
        raise InputError("give one suite file to --tasks")
    if suites:
        return suites[0]
    entries: list[SuiteEntry] = []
    for spec in plain:
        for ref in resolve_task_spec(spec):
            entries.append(SuiteEntry(task=ref.name, ref=ref, group=ref.group) if isinstance(ref, TaskRef) else SuiteEntry(task=ref))
    return Suite(name=name, entries=tuple(entries))


# ---------------------------------------------------------------- private held-out draws


def items_sha256(items: Sequence[dict]) -> str:
    blob = json.dumps(list(items), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def draw_private_subset(task: BenchmarkTask, *, size: int, seed: int, round_name: str = "") -> BenchmarkTask:
    """A fresh, seeded subset of a private item pool for one round.

    The draw is recorded in the task's metadata (seed, pool size and the pool's
    sha256 commitment, the chosen item ids) and written into the task YAML, so the
    round can be audited once the pool is revealed; a different seed gives a
    different subset, so last round's items cannot simply be memorised.
    """
    pool = task.items
    if not 0 < size <= len(pool):
        raise InputError(f"private draw for {task.name!r}: size must be 1..{len(pool)}, got {size}")
    rng = np.random.Generator(np.random.PCG64(seed))
    chosen = sorted(int(i) for i in rng.choice(len(pool), size=size, replace=False))
    items = tuple(pool[i] for i in chosen)
    record = {
        "round": round_name,
        "seed": int(seed),
        "size": int(size),
        "pool_size": len(pool),
        "pool_sha256": items_sha256(pool),
        "item_ids": [str(pool[i].get("id", i)) for i in chosen],
    }
    return replace(task, items=items, metadata={**task.metadata, "private_draw": record})


def public_definition(ref: TaskRef) -> dict[str, Any]:
    """The task definition the public may see: everything but the items, plus a
    sha256 commitment to them."""
    config = yaml.safe_load(ref.yaml_path.read_text(encoding="utf-8"))
    kwargs = dict(config.get("dataset_kwargs") or {})
    kwargs.pop("data_files", None)
    config["dataset_kwargs"] = kwargs
    from gauntlet.evaluation.tasks import file_sha256

    meta = dict(config.get("metadata") or {})
    meta["gauntlet"] = {
        **(meta.get("gauntlet") or {}),
        "items_withheld": True,
        "items_sha256": [file_sha256(p) for p in ref.data_files],
        "config_hash": ref.config_hash,
    }
    config["metadata"] = meta
    return config


def write_public_definitions(refs: Iterable[TaskRef], out_dir: str | Path) -> list[Path]:
    out = Path(out_dir)
    paths = []
    for ref in refs:
        path = out / ref.name / f"{ref.name}.public.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(public_definition(ref), sort_keys=True, allow_unicode=True, width=1000), encoding="utf-8")
        paths.append(path)
    return paths
