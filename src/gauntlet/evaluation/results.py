"""What an evaluation produces, and the on-disk cache that makes it resumable.

One cache entry per (model content hash, task config hash, harness version,
backend settings, seeds): a folder holding `result.json` (lm-eval's metrics, the
resolved task config, provenance) and `samples.jsonl` (lm-eval's logged samples,
one line per item and filter), written to a temporary folder and renamed into
place so an interrupted run never leaves half an entry behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gauntlet.errors import InputError, StoreError

CACHE_FORMAT = 1


@dataclass(frozen=True)
class TaskResult:
    """lm-eval's result for one task, with per-item scores for bootstrapping."""

    task: str
    config_hash: str
    metrics: Mapping[str, float]  # lm-eval's keys, e.g. "acc,none", "acc_stderr,none"
    item_ids: tuple[str, ...]
    item_scores: Mapping[str, tuple[float, ...]] = field(repr=False)  # metric key -> one value per item
    aggregations: Mapping[str, str] = field(default_factory=dict)  # metric name -> lm-eval aggregation
    samples_path: Path | None = None
    cache_key: str = ""
    seconds: float = 0.0

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def metric_key(self, metric: str) -> str:
        """lm-eval's key for a metric: 'acc' -> 'acc,none'; 'exact_match' -> 'exact_match,strip'."""
        if metric in self.metrics:
            return metric
        keys = [k for k in self.metrics if k.split(",")[0] == metric and "_stderr" not in k]
        if len(keys) == 1:
            return keys[0]
        available = sorted(k for k in self.metrics if "_stderr" not in k)
        if not keys:
            raise InputError(f"task {self.task!r} has no metric {metric!r} (it reports {', '.join(available)})")
        raise InputError(f"task {self.task!r}: metric {metric!r} is ambiguous; name the filter, one of {', '.join(keys)}")

    def value(self, metric: str) -> float:
        return float(self.metrics[self.metric_key(metric)])

    def to_dict(self) -> dict:
        return {
            "task": self.task,
            "config_hash": self.config_hash,
            "metrics": dict(self.metrics),
            "n_items": self.n_items,
            "samples_path": str(self.samples_path) if self.samples_path else None,
            "cache_key": self.cache_key,
        }


@dataclass(frozen=True)
class ModelEvaluation:
    """All task results of one model under one backend, with their provenance."""

    model: str
    model_hash: str
    harness_version: str
    backend: Mapping[str, Any]
    seeds: Mapping[str, int]
    results: Mapping[str, TaskResult]
    computed: tuple[str, ...] = ()  # tasks lm-eval ran in this call (the rest came from the cache)

    @property
    def cached(self) -> tuple[str, ...]:
        return tuple(t for t in self.results if t not in self.computed)

    def __getitem__(self, task: str) -> TaskResult:
        return self.results[task]

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "model_hash": self.model_hash,
            "harness": {"name": "lm-evaluation-harness", "version": self.harness_version},
            "backend": dict(self.backend),
            "seeds": dict(self.seeds),
            "tasks": {name: r.to_dict() for name, r in self.results.items()},
            "computed": list(self.computed),
            "cached": list(self.cached),
        }


def cache_key(*, model_hash: str, config_hash: str, harness_version: str, backend: Mapping[str, Any], seeds: Mapping[str, int]) -> str:
    blob = json.dumps(
        {
            "format": CACHE_FORMAT,
            "model": model_hash,
            "task": config_hash,
            "harness": harness_version,
            "backend": dict(backend),
            "seeds": dict(seeds),
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


class ResultCache:
    """Content-addressed task results under `root/results/<key>/`."""

    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser()
        try:
            (self.root / "results").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create evaluation cache at {self.root}: {exc.strerror}") from None

    def _folder(self, key: str) -> Path:
        return self.root / "results" / key

    def get(self, key: str) -> TaskResult | None:
        folder = self._folder(key)
        try:
            document = json.loads((folder / "result.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None
        if document.get("format") != CACHE_FORMAT:
            return None
        return _result_from_document(document, folder / "samples.jsonl", key)

    def put(self, key: str, document: dict, samples: list[dict]) -> TaskResult:
        folder = self._folder(key)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key[:12]}-", dir=self.root / "results"))
        try:
            with open(tmp / "samples.jsonl", "w", encoding="utf-8") as fh:
                for sample in samples:
                    fh.write(json.dumps(sample, ensure_ascii=False, default=_jsonable) + "\n")
            (tmp / "result.json").write_text(
                json.dumps({"format": CACHE_FORMAT, **document}, indent=1, sort_keys=True, ensure_ascii=False, default=_jsonable),
                encoding="utf-8",
            )
            try:
                os.replace(tmp, folder)
            except OSError:
                # Another worker finished the same entry first; identical inputs, so keep theirs.
                if not (folder / "result.json").is_file():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        result = self.get(key)
        if result is None:  # pragma: no cover - disk full, permissions changed mid-write
            raise StoreError(f"evaluation cache entry {key} could not be read back from {folder}")
        return result


def _result_from_document(document: dict, samples_path: Path, key: str) -> TaskResult:
    return TaskResult(
        task=document["task"],
        config_hash=document["config_hash"],
        metrics={k: v for k, v in document["metrics"].items()},
        item_ids=tuple(document["item_ids"]),
        item_scores={k: tuple(v) for k, v in document["item_scores"].items()},
        aggregations=document.get("aggregations", {}),
        samples_path=samples_path,
        cache_key=key,
        seconds=float(document.get("seconds", 0.0)),
    )


def _jsonable(value: Any) -> Any:
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
    except ImportError:  # pragma: no cover
        pass
    return str(value)
