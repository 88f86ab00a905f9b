"""Backend-neutral `BenchmarkTask`s -> lm-eval task folders, and task identity.

A written task is a folder `<out>/<name>/` holding `<name>.yaml` (an ordinary
lm-eval task config: `dataset_path: json` + `dataset_kwargs.data_files`) and
`<name>.jsonl` (the items). Anyone can run it with lm-eval alone
(`lm_eval --include_path <out> --tasks <name>`); Gauntlet runs the same file.

A task's identity for caching is its *config hash*: the parsed config with
every data file replaced by the sha256 of its bytes and the task folder's own
path removed, so moving a folder keeps the hash and changing one item breaks it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gauntlet.errors import InputError
from gauntlet.evaluation.items import BenchmarkTask

HASH_FORMAT = 1  # bump when the hashing recipe changes (invalidates every cache entry)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")

# The metrics each output type publishes. The first one is the default a suite scores.
METRICS_BY_OUTPUT_TYPE: dict[str, tuple[str, ...]] = {
    "multiple_choice": ("acc", "acc_norm"),
    "loglikelihood": ("acc", "perplexity"),
    "generate_until": ("exact_match",),
}
# The filter name generation tasks use; lm-eval reports `exact_match,<filter>`.
GENERATION_FILTER = "strip"


@dataclass(frozen=True)
class TaskRef:
    """A task lm-eval can load from a local YAML file, with its identity."""

    name: str
    yaml_path: Path
    config_hash: str
    output_type: str
    metrics: tuple[str, ...]
    n_items: int | None = None
    lang: str | None = None
    group: str = "common"
    data_files: tuple[Path, ...] = field(default=(), repr=False)

    @property
    def default_metric(self) -> str:
        return self.metrics[0]

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "yaml_path": str(self.yaml_path),
            "config_hash": self.config_hash,
            "output_type": self.output_type,
            "metrics": list(self.metrics),
            "n_items": self.n_items,
            "lang": self.lang,
            "group": self.group,
        }


# ---------------------------------------------------------------- writing


def write_tasks(tasks: Sequence[BenchmarkTask], out_dir: str | Path) -> list[TaskRef]:
    """Write each task as an lm-eval task folder under `out_dir`; return their refs.

    Content is deterministic: the same tasks give byte-identical files (keys
    sorted, items in the given order), hence the same config hashes.
    Multiple-choice and log-likelihood targets are joined to the context with no
    extra space when the choices/continuations already begin with whitespace or
    the context ends with it, else with one space (lm-eval's default); a task's
    `metadata["target_delimiter"]` overrides that.
    """
    out = Path(out_dir).expanduser().resolve()
    names = [t.name for t in tasks]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputError(f"duplicate benchmark task names: {', '.join(duplicates)}")
    refs = []
    for task in tasks:
        _validate(task)
        folder = out / task.name
        folder.mkdir(parents=True, exist_ok=True)
        data_path = folder / f"{task.name}.jsonl"
        rows = [_row(task, item, index) for index, item in enumerate(task.items)]
        data_path.write_text("".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows), encoding="utf-8")
        config = _lm_eval_config(task, data_path)
        yaml_path = folder / f"{task.name}.yaml"
        yaml_path.write_text(
            "# Written by gauntlet.evaluation.write_tasks; runnable with lm-eval alone.\n"
            + yaml.safe_dump(config, sort_keys=True, allow_unicode=True, width=1000),
            encoding="utf-8",
        )
        refs.append(read_task_ref(yaml_path))
    return refs


def _validate(task: BenchmarkTask) -> None:
    where = f"benchmark task {task.name!r}"
    if not _NAME.match(task.name):
        raise InputError(f"{where}: name must be letters, digits, '_', '-' or '.'")
    if task.output_type not in METRICS_BY_OUTPUT_TYPE:
        raise InputError(f"{where}: unknown output_type {task.output_type!r} (expected one of {', '.join(METRICS_BY_OUTPUT_TYPE)})")
    if not task.items:
        raise InputError(f"{where}: has no items")
    required = {
        "multiple_choice": {"context": str, "choices": list, "answer": int},
        "loglikelihood": {"context": str, "continuation": str},
        "generate_until": {"prompt": str, "target": str},
    }[task.output_type]
    seen: set[str] = set()
    for index, item in enumerate(task.items):
        item_id = str(item.get("id", index))
        here = f"{where}, item {item_id!r}"
        if item_id in seen:
            raise InputError(f"{where}: duplicate item id {item_id!r}")
        seen.add(item_id)
        if "published" in item and not isinstance(item["published"], bool):
            raise InputError(f"{here}: field 'published' must be true or false")
        for key, kind in required.items():
            value = item.get(key)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise InputError(f"{here}: field {key!r} must be a {kind.__name__}, got {type(value).__name__}")
        if task.output_type == "multiple_choice":
            choices = item["choices"]
            if len(choices) < 2 or not all(isinstance(c, str) for c in choices):
                raise InputError(f"{here}: 'choices' must be at least two strings")
            if not 0 <= item["answer"] < len(choices):
                raise InputError(f"{here}: 'answer' {item['answer']} is not an index into its {len(choices)} choices")


def _row(task: BenchmarkTask, item: dict, index: int) -> dict:
    keys = {
        "multiple_choice": ("context", "choices", "answer"),
        "loglikelihood": ("context", "continuation"),
        "generate_until": ("prompt", "target"),
    }[task.output_type]
    row = {"id": str(item.get("id", index))}
    row.update({k: item[k] for k in keys})
    if "published" in item:  # the round's published/held-out split (see evaluation.contamination)
        row["published"] = item["published"]
    return row


def _target_delimiter(task: BenchmarkTask) -> str:
    if "target_delimiter" in task.metadata:
        return str(task.metadata["target_delimiter"])
    if task.output_type == "multiple_choice":
        targets = [c for item in task.items for c in item["choices"]]
    else:
        targets = [item["continuation"] for item in task.items]
    contexts = [item["context"] for item in task.items]
    if all(t[:1].isspace() for t in targets) or all(c[-1:].isspace() for c in contexts):
        return ""
    return " "


def _lm_eval_config(task: BenchmarkTask, data_path: Path) -> dict[str, Any]:
    config: dict[str, Any] = {
        "task": task.name,
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(data_path)}},
        "test_split": "test",
        "output_type": task.output_type,
        "num_fewshot": 0,
        "metadata": {
            "version": 1.0,
            "gauntlet": {
                "lang": task.lang,
                "group": task.group,
                "n_items": len(task.items),
                **({"description": task.description} if task.description else {}),
                **({"private_draw": task.metadata["private_draw"]} if "private_draw" in task.metadata else {}),
            },
        },
    }
    if task.output_type == "multiple_choice":
        config |= {
            "doc_to_text": "context",
            "doc_to_choice": "choices",
            "doc_to_target": "answer",
            "target_delimiter": _target_delimiter(task),
            "metric_list": [_mean("acc"), _mean("acc_norm")],
        }
    elif task.output_type == "loglikelihood":
        config |= {
            "doc_to_text": "context",
            "doc_to_target": "continuation",
            "target_delimiter": _target_delimiter(task),
            "metric_list": [_mean("acc"), {"metric": "perplexity", "aggregation": "perplexity", "higher_is_better": False}],
        }
    else:
        config |= {
            "doc_to_text": "prompt",
            "doc_to_target": "target",
            "generation_kwargs": {
                "until": list(task.metadata.get("until", ["\n"])),
                "do_sample": False,
                "max_gen_toks": int(task.metadata.get("max_gen_toks", 32)),
            },
            # Generations are compared after trimming surrounding whitespace.
            "filter_list": [
                {"name": GENERATION_FILTER, "filter": [{"function": "remove_whitespace"}, {"function": "take_first"}]}
            ],
            "metric_list": [_mean("exact_match") | {"ignore_case": bool(task.metadata.get("ignore_case", True))}],
        }
    return config


def _mean(metric: str) -> dict:
    return {"metric": metric, "aggregation": "mean", "higher_is_better": True}


# ---------------------------------------------------------------- reading


def read_task_ref(yaml_path: str | Path) -> TaskRef:
    """Identify a local task YAML (written by `write_tasks` or by hand)."""
    path = Path(yaml_path).expanduser()
    if not path.is_file():
        raise InputError(f"task file not found: {path}")
    path = path.resolve()
    config = _load_config(path)
    name = config.get("task")
    if not isinstance(name, str) or not name:
        raise InputError(f"{path}: not an lm-eval task config (no 'task' name; groups are not supported here)")
    output_type = str(config.get("output_type", "generate_until"))
    data_files = _data_files(config, path)
    missing = [str(p) for p in data_files if not p.is_file()]
    if missing:
        raise InputError(f"task {name!r}: data file not found: {missing[0]}")
    meta = (config.get("metadata") or {}).get("gauntlet") or {}
    metrics = _metric_keys(config, output_type)
    return TaskRef(
        name=name,
        yaml_path=path,
        config_hash=config_hash(config, path, data_files),
        output_type=output_type,
        metrics=metrics,
        n_items=meta.get("n_items"),
        lang=meta.get("lang"),
        group=meta.get("group", "common"),
        data_files=tuple(data_files),
    )


def find_task_refs(path: str | Path) -> list[TaskRef]:
    """Task refs from a YAML file or from every task YAML under a folder."""
    root = Path(path).expanduser()
    if root.is_file():
        return [read_task_ref(root)]
    if not root.is_dir():
        raise InputError(f"task file or folder not found: {root}")
    refs = []
    for yaml_path in sorted(list(root.rglob("*.yaml")) + list(root.rglob("*.yml"))):
        config = _load_config(yaml_path.resolve())
        if isinstance(config.get("task"), str):
            refs.append(read_task_ref(yaml_path))
    if not refs:
        raise InputError(f"no lm-eval task YAML found under {root}")
    return refs


def _load_config(path: Path) -> dict[str, Any]:
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        # Hand-written lm-eval configs may use `!function` tags and `include:`;
        # lm-eval's own loader understands them without importing the functions.
        config = None
    if config is None or (isinstance(config, dict) and "include" in config):
        try:
            from gauntlet.evaluation.harness import lm_eval

            lm_eval()
            from lm_eval.tasks._yaml_loader import load_yaml

            config = load_yaml(path, resolve_func=False, recursive=True)
        except Exception as exc:
            raise InputError(f"{path}: cannot read task YAML ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None
    if not isinstance(config, dict):
        raise InputError(f"{path}: task YAML must be a mapping")
    return config


def _data_files(config: dict, yaml_path: Path) -> list[Path]:
    if config.get("dataset_path") not in ("json", "csv", "parquet", "arrow", "text"):
        return []
    files = (config.get("dataset_kwargs") or {}).get("data_files")
    if files is None:
        return []
    values: Iterable = files.values() if isinstance(files, dict) else [files]
    out = []
    for value in values:
        for item in [value] if isinstance(value, str) else list(value):
            p = Path(item).expanduser()
            out.append(p if p.is_absolute() else (yaml_path.parent / p))
    return out


def _metric_keys(config: dict, output_type: str) -> tuple[str, ...]:
    names = [m.get("metric") for m in config.get("metric_list") or [] if isinstance(m, dict)]
    names = [n for n in names if isinstance(n, str)] or list(METRICS_BY_OUTPUT_TYPE.get(output_type, ()))
    filters = [f.get("name") for f in config.get("filter_list") or [] if isinstance(f, dict)]
    if filters:
        return tuple(f"{n},{f}" for f in filters for n in names)
    return tuple(names)


def config_hash(config: dict, yaml_path: Path, data_files: Sequence[Path] | None = None) -> str:
    """sha256 of a task's definition and data, independent of where it lives."""
    folder = str(yaml_path.parent)
    data = data_files if data_files is not None else _data_files(config, yaml_path)

    def canonical(value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): canonical(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [canonical(v) for v in value]
        if isinstance(value, str):
            return value.replace(folder, "<task-folder>")
        return value

    body = canonical({k: v for k, v in config.items() if k != "dataset_kwargs"})
    kwargs = dict(config.get("dataset_kwargs") or {})
    kwargs.pop("data_files", None)
    body["dataset_kwargs"] = canonical(kwargs)
    body["data_sha256"] = [file_sha256(p) for p in data if p.is_file()]
    # Python helpers referenced with `!function` change a task's behaviour too.
    body["helpers_sha256"] = {p.name: file_sha256(p) for p in sorted(yaml_path.parent.glob("*.py"))}
    blob = json.dumps({"format": HASH_FORMAT, "config": body}, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()
