"""Fingerprinting speed and memory vs `cat` (cold cache) and a numpy one-pass sum (warm).

Usage: python benchmarks/bench_fingerprint.py [--gib 4] [--workdir /tmp/gauntlet-bench]
Generates a multi-shard bf16 Llama-shaped model in the workdir, measures side by side
in one run, prints ratios, and deletes the model. Peak RSS is measured in a fresh
subprocess per run (ru_maxrss of the child). Cold cache: `echo 3 > /proc/sys/vm/drop_caches`
when permitted, otherwise posix_fadvise(DONTNEED) on every shard (printed which).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
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
    ap.add_argument("--workdir", default="/tmp/gauntlet-bench")
    args = ap.parse_args()
    work = Path(args.workdir)
    try:
        rows = []
        for gib in (args.small_gib, args.gib):
            model = make_model(work / f"m{gib}", gib, shard_gib=args.shard_gib)
            files = sorted(str(p) for p in model.glob("*.safetensors"))
            size = sum(os.path.getsize(f) for f in files)
            how = drop_caches(files)
            t_cat = time.perf_counter()
            subprocess.run(["cat", *files], stdout=subprocess.DEVNULL, check=True)
            t_cat = time.perf_counter() - t_cat
            drop_caches(files)
            fp_setup = "from gauntlet.provenance import fingerprint_model as f"
            fp_code = f"f({str(model)!r}, progress=False).save('/tmp/bench.fingerprint')"
            t_fp_cold, rss_cold = child(fp_setup, fp_code)
            # warm: numpy one-pass sum over the same bytes vs fingerprint (best of two each)
            sum_code = ("for f in %r:\n  with open(f,'rb',buffering=0) as h:\n    b=bytearray(16<<20)\n"
                        "    while (n:=h.readinto(b)): np.frombuffer(b,np.float32,count=n//4).sum()") % files
            child("import numpy as np", sum_code)
            t_sum = min(child("import numpy as np", sum_code)[0] for _ in range(2))
            warm = [child(fp_setup, fp_code) for _ in range(2)]
            t_fp_warm, rss_warm = min(w[0] for w in warm), max(w[1] for w in warm)
            # the floor for anything that records every shard's sha256: Gauntlet's own hash
            # job alone (mapped page cache, no copy), one shard per core, warm cache
            sha_setup = ("from concurrent.futures import ThreadPoolExecutor as P\n"
                         "from gauntlet.artifacts.safetensors_io import read_header\n"
                         "from gauntlet.provenance.fingerprint import _hash_shard, _ReadFront")
            sha_code = (f"list(P({os.cpu_count()}).map(lambda f: _hash_shard(read_header(f), 16 << 20, "
                        f"lambda n: None, _ReadFront()), {files!r}))")
            t_sha = min(child(sha_setup, sha_code)[0] for _ in range(2))
            fsize = os.path.getsize("/tmp/bench.fingerprint")
            rows.append((gib, size, how, t_cat, t_fp_cold, t_sum, t_fp_warm, max(rss_cold, rss_warm), fsize, t_sha))
            shutil.rmtree(model)
        print(f"fingerprint workers: {os.cpu_count()} cores; shards of ~{args.shard_gib} GiB")
        print(f"{'model':>8} {'cache':>18} {'cat s':>6} {'fp cold s':>9} {'ratio':>6} {'np sum s':>8} {'fp warm s':>9} {'ratio':>6} "
              f"{'sha256 s':>8} {'sha/sum':>7} {'peak RSS MiB':>12} {'fp size %':>9}")
        for gib, size, how, t_cat, t_fc, t_sum, t_fw, rss, fsize, t_sha in rows:
            print(f"{size / 2**30:7.2f}G {how:>18} {t_cat:6.2f} {t_fc:9.2f} {t_cat / t_fc:6.2f} {t_sum:8.2f} {t_fw:9.2f} {t_sum / t_fw:6.2f} "
                  f"{t_sha:8.2f} {t_sum / t_sha:7.2f} {rss:12.0f} {100 * fsize / size:9.4f}")
        print("ratio = baseline time / fingerprint time (targets: >= 0.8 vs cat cold, >= 0.5 vs numpy sum warm).")
        print("sha256 s = hashing alone (the fingerprint's hash job without the sketch), one shard per core, warm;")
        print("sha/sum = the best ratio any pass that sha256-hashes every byte could reach vs the numpy sum (warm).")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
