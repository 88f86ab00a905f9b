"""Fingerprinting speed and memory vs `cat` (cold cache) and numpy one-pass sums (warm).

Usage: python benchmarks/bench_fingerprint.py [--gib 4] [--reps 3] [--workdir /tmp/gauntlet-bench]
Generates a multi-shard bf16 Llama-shaped model in the workdir (at least four shards at
each size), measures side by side in one run, prints ratios, and deletes the model.
Every measurement is repeated --reps times, interleaved (cat and fingerprint alternate
on a cold cache), and the median of the per-repetition ratios is reported: single
timings on this shared disk vary 2-3x within a minute. Warm, three numpy sums of the
same bytes (as bytes, as decoded bf16 values, and reinterpreted as float32) and the
sha256 of every shard alone (the floor for any pass that records it). Peak RSS is the
VmHWM of a fresh subprocess per run. Cold cache: `echo 3 > /proc/sys/vm/drop_caches`
when permitted, otherwise posix_fadvise(DONTNEED) on every shard (printed which).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def make_model(root: Path, gib: float, d: int = 2048, h: int = 5632, shard_gib: float = 1.0) -> Path:
    from safetensors.numpy import save_file

    root.mkdir(parents=True, exist_ok=True)
    per_layer = (4 * d * d + 3 * d * h) * 2
    layers = max(1, int(gib * 2**30 / per_layer))
    rng = np.random.default_rng(0)
    weight_map, shard, shard_bytes, index = {}, {}, 0, 0

    def flush():
        nonlocal shard, shard_bytes, index
        if shard:
            name = f"model-{index:05d}.safetensors"
            save_file(shard, str(root / name))
            from gauntlet.provenance.generators import _retag_bf16

            _retag_bf16(root / name)
            weight_map.update({k: name for k in shard})
            shard, shard_bytes, index = {}, 0, index + 1

    for i in range(layers):
        for nm, shape in (("q", (d, d)), ("k", (d, d)), ("v", (d, d)), ("o", (d, d)), ("up", (h, d)), ("gate", (h, d)), ("down", (d, h))):
            shard[f"model.layers.{i}.{nm}.weight"] = rng.integers(0x3C00, 0x3D00, size=shape, dtype=np.uint16)
            shard_bytes += np.prod(shape) * 2
        if shard_bytes >= shard_gib * 2**30:
            flush()
    flush()
    (root / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    (root / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": d}))
    return root


def drop_caches(files) -> str:
    try:
        subprocess.run(["sync"], check=True)
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return "drop_caches"
    except OSError:
        for f in files:
            fd = os.open(f, os.O_RDONLY)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.close(fd)
        return "posix_fadvise(DONTNEED)"


def child(setup: str, code: str) -> tuple[float, float]:
    """Run `setup` (imports: not timed), then `code` (timed) in a fresh interpreter;
    return (seconds, peak RSS MiB of the whole process). Peak RSS is VmHWM, not
    ru_maxrss: on Linux ru_maxrss survives fork+exec, so a child would report the
    benchmark parent's footprint (this inflated earlier figures to GiBs)."""
    wrapper = (
        setup + "\nimport time,resource,sys\nt=time.perf_counter()\n" + code +
        "\nhwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]"
        "\nprint(time.perf_counter()-t, int(hwm)/1024)"
    )
    out = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, text=True, check=True).stdout.split()
    return float(out[-2]), float(out[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gib", type=float, default=4.0)
    ap.add_argument("--small-gib", type=float, default=1.0)
    ap.add_argument("--shard-gib", type=float, default=1.0)
    ap.add_argument("--reps", type=int, default=3, help="interleaved repetitions of every measurement")
    ap.add_argument("--workdir", default="/tmp/gauntlet-bench")
    args = ap.parse_args()
    work = Path(args.workdir)
    med = statistics.median
    try:
        rows = []
        for gib in (args.small_gib, args.gib):
            # at least four shards at both sizes: the fingerprint reads four at once, so the two
            # sizes then run with the same concurrency and their peak RSS compares like with like
            model = make_model(work / f"m{gib}", gib, shard_gib=min(args.shard_gib, gib / 4))
            files = sorted(str(p) for p in model.glob("*.safetensors"))
            size = sum(os.path.getsize(f) for f in files)
            subprocess.run(["sync"], check=True)  # the new files' writeback is not part of any timing
            fp_setup = "from gauntlet.provenance import fingerprint_model as f"
            fp_code = f"f({str(model)!r}, progress=False).save('/tmp/bench.fingerprint')"
            # Cold: cat and fingerprint alternate, each after dropping the cache, so that both
            # see the same disk weather; the ratio is taken per repetition, then the median.
            cold = []
            for _ in range(args.reps):
                how = drop_caches(files)
                t_cat = time.perf_counter()
                subprocess.run(["cat", *files], stdout=subprocess.DEVNULL, check=True)
                t_cat = time.perf_counter() - t_cat
                drop_caches(files)
                t_fp, rss = child(fp_setup, fp_code)
                cold.append((t_cat, t_fp, rss))
            # Warm: a one-pass numpy sum over the same bytes, three ways (what "a plain numpy
            # sum" means is open, and the answer moves the ratio 15x), the fingerprint, and
            # sha256 alone.
            sums = {
                # the bytes, summed as bytes: np.memmap(...).sum()
                "u8": "for f in %r: np.memmap(f, dtype=np.uint8, mode='r').sum()" % files,
                # the bytes as the bf16 values they are: decode (shift into float32), sum
                "bf16": ("for f in %r:\n  h = np.memmap(f, dtype=np.uint16, mode='r', shape=(os.path.getsize(f)//2,))\n"
                         "  for i in range(0, h.size, 1 << 24): (h[i:i + (1 << 24)].astype(np.uint32) << 16)"
                         ".view(np.float32).sum()") % files,
                # the fastest pass numpy can make: 16 MiB reads reinterpreted as float32
                # (meaningless values; memory-bandwidth bound)
                "f32": ("for f in %r:\n  with open(f,'rb',buffering=0) as h:\n    b=bytearray(16<<20)\n"
                        "    while (n:=h.readinto(b)): np.frombuffer(b,np.float32,count=n//4).sum()") % files,
            }
            sum_setup = "import os, warnings\nimport numpy as np\nwarnings.simplefilter('ignore')"
            # the floor for anything that records every shard's sha256: Gauntlet's own hash
            # job alone (mapped page cache, no copy), one shard per core, warm cache
            sha_setup = ("from concurrent.futures import ThreadPoolExecutor as P\n"
                         "from gauntlet.artifacts.safetensors_io import read_header\n"
                         "from gauntlet.provenance.fingerprint import _hash_shard, _ReadFront")
            sha_code = (f"list(P({os.cpu_count()}).map(lambda f: _hash_shard(read_header(f), 16 << 20, "
                        f"lambda n: None, _ReadFront()), {files!r}))")
            child(sum_setup, sums["f32"])  # warms the cache
            warm = []
            for _ in range(args.reps):
                t_sum = {k: child(sum_setup, code)[0] for k, code in sums.items()}
                t_fp, rss = child(fp_setup, fp_code)
                t_sha = child(sha_setup, sha_code)[0]
                warm.append((t_sum, t_fp, rss, t_sha))
            fsize = os.path.getsize("/tmp/bench.fingerprint")
            rows.append(dict(
                size=size, how=how, cat=med(c[0] for c in cold), fp_cold=med(c[1] for c in cold),
                cold_ratio=med(c[0] / c[1] for c in cold), cold_all=[(c[0], c[1]) for c in cold],
                fp_warm=med(w[1] for w in warm), sha=med(w[3] for w in warm),
                **{f"sum_{k}": med(w[0][k] for w in warm) for k in sums},
                **{f"ratio_{k}": med(w[0][k] / w[1] for w in warm) for k in sums},
                sha_ratio=med(w[0]["f32"] / w[3] for w in warm), fp_over_sha=med(w[1] / w[3] for w in warm),
                shards=len(files),
                rss=max([c[2] for c in cold] + [w[2] for w in warm]), fsize=fsize))
            shutil.rmtree(model)
        print(f"fingerprint: {os.cpu_count()} cores; shards of ~{args.shard_gib} GiB; "
              f"medians of {args.reps} interleaved repetitions")
        print(f"{'model':>8} {'shards':>6} {'cache':>18} {'cat s':>6} {'fp cold s':>9} {'ratio':>6} | {'fp warm s':>9} "
              f"{'u8 sum s':>8} {'ratio':>6} {'bf16 s':>6} {'ratio':>6} {'f32 s':>6} {'ratio':>6} | {'sha256 s':>8} "
              f"{'sha/f32':>7} {'fp/sha':>6} | {'peak RSS MiB':>12} {'fp size %':>9}")
        for r in rows:
            print(f"{r['size'] / 2**30:7.2f}G {r['shards']:6d} {r['how']:>18} {r['cat']:6.2f} {r['fp_cold']:9.2f} "
                  f"{r['cold_ratio']:6.2f} | {r['fp_warm']:9.2f} {r['sum_u8']:8.2f} {r['ratio_u8']:6.2f} "
                  f"{r['sum_bf16']:6.2f} {r['ratio_bf16']:6.2f} {r['sum_f32']:6.2f} {r['ratio_f32']:6.2f} | "
                  f"{r['sha']:8.2f} {r['sha_ratio']:7.2f} {r['fp_over_sha']:6.2f} | {r['rss']:12.0f} "
                  f"{100 * r['fsize'] / r['size']:9.4f}")
        for r in rows:
            pairs = ", ".join(f"{c:.2f}/{f:.2f}" for c, f in r["cold_all"])
            print(f"{r['size'] / 2**30:.2f}G cold repetitions (cat s / fingerprint s): {pairs}")
        print("ratio = baseline time / fingerprint time, median over repetitions "
              "(targets: >= 0.8 vs cat cold, >= 0.5 vs a numpy sum warm).")
        print("warm numpy sums of the same bytes: u8 = np.memmap(uint8).sum(); bf16 = decoded to float32, summed;")
        print("  f32 = 16 MiB reads reinterpreted as float32 (meaningless values, memory-bandwidth bound).")
        print("sha256 s = hashing alone (the fingerprint's hash job without the sketch), one shard per core, warm;")
        print("sha/f32 = the best ratio vs the f32 sum that any pass recording every shard's sha256 could reach here;")
        print("fp/sha = the fingerprint's warm time over that floor (1.00 = the sketch costs nothing extra).")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
