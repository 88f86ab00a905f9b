"""Gauntlet's evaluation overhead over lm-eval alone, and task loading with and
without lm-eval's built-in registry scan. All figures come from one run, side by side.

    .venv/bin/python benchmarks/bench_eval_overhead.py [--items 100] [--repeats 9] [--threads 1]

1. The same model (a small random-init Llama) and the same generated bilingual
   tasks (all three output types) are evaluated by
   - lm-eval alone: load the model, HFLM, one `simple_evaluate` over every task;
   - Gauntlet: `evaluate_model` with an empty cache (hashes the model, one
     `simple_evaluate` per task, writes results and samples to the cache);
   and Gauntlet again with a warm cache. Runs alternate; medians are compared.
2. Task loading: `TaskManager()` (scans ~15,000 built-in configs, what
   `include_path=` alone does too) against Gauntlet's `include_defaults=False`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from gauntlet.evaluation import evaluate_model, write_offline_suite
from gauntlet.evaluation.harness import force_offline, lm_eval, quiet_harness
from gauntlet.evaluation.runner import HARNESS_BOOTSTRAP_ITERS

force_offline()


def build_model(folder: Path) -> Path:
    import torch
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    from gauntlet.evaluation import bilingual_tasks

    text = [str(item) for task in bilingual_tasks(items_per_task=50, seed=9) for item in task.items]
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator(
        text, trainers.BpeTrainer(vocab_size=1000, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    )
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=len(fast), hidden_size=128, intermediate_size=256, num_hidden_layers=4, num_attention_heads=4,
        max_position_embeddings=512, eos_token_id=fast.eos_token_id, pad_token_id=fast.pad_token_id,
    )
    transformers.LlamaForCausalLM(config).save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


def lm_eval_alone(model_dir: Path, yaml_paths: list[Path]) -> float:
    import transformers
    from lm_eval import evaluator
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    started = time.perf_counter()
    model = transformers.AutoModelForCausalLM.from_pretrained(model_dir)
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=8)
    with quiet_harness():
        evaluator.simple_evaluate(
            model=lm,
            tasks=[str(p) for p in yaml_paths],
            task_manager=TaskManager(include_defaults=False),
            log_samples=True,
            bootstrap_iters=HARNESS_BOOTSTRAP_ITERS,
        )
    return time.perf_counter() - started


def lm_eval_per_task(model_dir: Path, yaml_paths: list[Path]) -> float:
    """lm-eval alone, called the way Gauntlet calls it: one simple_evaluate per task."""
    import transformers
    from lm_eval import evaluator
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    started = time.perf_counter()
    model = transformers.AutoModelForCausalLM.from_pretrained(model_dir)
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=8)
    manager = TaskManager(include_defaults=False)
    with quiet_harness():
        for path in yaml_paths:
            evaluator.simple_evaluate(
                model=lm, tasks=[str(path)], task_manager=manager, log_samples=True, bootstrap_iters=HARNESS_BOOTSTRAP_ITERS
            )
    return time.perf_counter() - started


def gauntlet(model_dir: Path, suite, cache_dir: Path) -> float:
    from gauntlet.evaluation import runner

    # Gauntlet describes the environment once per process; start each timed run as a
    # fresh process would, so it pays that cost just as lm-eval alone does.
    runner._ENVIRONMENT_REPORT.clear()
    started = time.perf_counter()
    evaluate_model(model_dir, suite, cache_dir=cache_dir, batch_size=8, progress=False)
    return time.perf_counter() - started


def task_loading(yaml_paths: list[Path], repeats: int) -> tuple[float, float]:
    from lm_eval.tasks import TaskManager

    full, local = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        manager = TaskManager(include_path=str(yaml_paths[0].parent.parent))
        with quiet_harness():
            manager.load([str(p) for p in yaml_paths])
        full.append(time.perf_counter() - started)
        started = time.perf_counter()
        manager = TaskManager(include_defaults=False)
        with quiet_harness():
            manager.load([str(p) for p in yaml_paths])
        local.append(time.perf_counter() - started)
    return statistics.median(full), statistics.median(local)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100, help="items per task (7 tasks)")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: steadier timings on a shared machine)")
    args = parser.parse_args()
    lm_eval()
    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model_dir = build_model(root / "model")
        suite = write_offline_suite(root / "tasks", items_per_task=args.items)
        yaml_paths = [e.ref.yaml_path for e in suite.entries]

        # Warm-up: imports, datasets' JSON->Arrow cache and first-call costs hit both sides equally afterwards.
        lm_eval_alone(model_dir, yaml_paths)
        gauntlet(model_dir, suite, root / "warmup-cache")

        alone, per_task, ours, warm = [], [], [], []
        for i in range(args.repeats):
            alone.append(lm_eval_alone(model_dir, yaml_paths))
            per_task.append(lm_eval_per_task(model_dir, yaml_paths))
            cache = root / f"cache-{i}"
            ours.append(gauntlet(model_dir, suite, cache))
            warm.append(gauntlet(model_dir, suite, cache))
        full, local = task_loading(yaml_paths, args.repeats)

    a, g, w = statistics.median(alone), statistics.median(ours), statistics.median(warm)
    n_tasks = len(suite.entries)
    print(f"Evaluation of {n_tasks} tasks x {args.items} items, hf backend on CPU ({args.threads} thread), median of {args.repeats} alternating runs")
    print(f"{'lm-eval alone (one simple_evaluate)':<48}{a:8.2f} s   (min {min(alone):.2f})")
    print(f"{'lm-eval alone, one simple_evaluate per task':<48}{statistics.median(per_task):8.2f} s   (min {min(per_task):.2f})")
    print(f"{'Gauntlet, empty cache (one call per task)':<48}{g:8.2f} s   (min {min(ours):.2f})")
    print(f"{'  overhead, medians':<48}{100 * (g / a - 1):+7.1f} %   ratio {g / a:.3f}")
    print(f"{'  overhead, minima':<48}{100 * (min(ours) / min(alone) - 1):+7.1f} %   ratio {min(ours) / min(alone):.3f}")
    print(f"{'Gauntlet, warm cache (nothing recomputed)':<48}{w:8.3f} s   ratio {w / a:.4f}")
    print()
    print(f"Task loading of the same {n_tasks} local tasks, median of {args.repeats}")
    print(f"{'with the built-in registry scan':<48}{full:8.2f} s")
    print(f"{'Gauntlet (include_defaults=False, by path)':<48}{local:8.3f} s   {full / local:.0f}x faster")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
