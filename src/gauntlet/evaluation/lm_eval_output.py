"""Reading lm-eval's `simple_evaluate` output: metrics, per-item scores, samples."""

from __future__ import annotations


def _leaf_tasks(name: str, output: dict) -> list[str]:
    """The leaf tasks behind a name (a built-in group such as kobest has several)."""
    subtasks = output.get("group_subtasks", {}).get(name)
    return list(subtasks) if subtasks else [name]


def result_document(name: str, config_hash: str, source: str, builtin: bool, output: dict, *, seconds: float) -> dict:
    """What Gauntlet keeps of one task's `simple_evaluate` output (see results.py)."""
    metrics = {
        k: v
        for k, v in output["results"][name].items()
        if k not in ("name", "alias", "sample_len", "samples") and isinstance(v, (int, float)) and not isinstance(v, bool)
    }
    leaves = _leaf_tasks(name, output)
    item_ids: list[str] = []
    item_scores: dict[str, list[float]] = {}
    for leaf in leaves:
        samples = sorted(output.get("samples", {}).get(leaf, []), key=lambda s: s["doc_id"])
        filters = sorted({s.get("filter", "none") for s in samples})
        first = [s for s in samples if s.get("filter", "none") == filters[0]] if filters else []
        item_ids += [f"{leaf}/{_doc_id(s)}" if len(leaves) > 1 else _doc_id(s) for s in first]
        for key in metrics:
            metric, _, flt = key.partition(",")
            if metric.endswith("_stderr"):
                continue
            values = [s.get(metric) for s in samples if s.get("filter", "none") == (flt or "none")]
            if values and all(isinstance(v, (int, float)) for v in values):
                item_scores.setdefault(key, []).extend(float(v) for v in values)
    configs = {leaf: output.get("configs", {}).get(leaf) for leaf in leaves}
    aggregations = {}
    for config in configs.values():
        for m in (config or {}).get("metric_list") or []:
            if isinstance(m, dict) and isinstance(m.get("aggregation"), str):
                aggregations[m["metric"]] = m["aggregation"]
    return {
        "task": name,
        "config_hash": config_hash,
        "source": source,
        "builtin": builtin,
        "metrics": metrics,
        "item_ids": item_ids,
        "item_scores": item_scores,
        "aggregations": aggregations,
        "lm_eval": {
            "version": output.get("lm_eval_version"),
            "configs": configs,
            "versions": {leaf: output.get("versions", {}).get(leaf) for leaf in leaves},
            "n_samples": {leaf: output.get("n-samples", {}).get(leaf) for leaf in leaves},
            "higher_is_better": output.get("higher_is_better", {}).get(name),
            "config": output.get("config"),
        },
        "seconds": seconds,
    }


def _doc_id(sample: dict) -> str:
    doc = sample.get("doc") or {}
    return str(doc.get("id", sample["doc_id"])) if isinstance(doc, dict) else str(sample["doc_id"])


def samples_of(name: str, output: dict) -> list[dict]:
    """lm-eval's logged samples for a task (each leaf of a group), tagged with the leaf name."""
    samples = []
    for leaf in _leaf_tasks(name, output):
        for sample in output.get("samples", {}).get(leaf, []):
            samples.append({"task": leaf, **sample})
    return samples
