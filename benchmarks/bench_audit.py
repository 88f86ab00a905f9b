"""Audit speed: one candidate fingerprint against a library at hub scale (screened vs full
scan), against a library of 50 as width grows, and side by side with the reference approach
of loading both models whole.

Usage: python benchmarks/bench_audit.py [--hub 50,200,1000] [--library 50] [--layers 8]
       [--widths 256,512,1024,2048] [--workdir /tmp/gauntlet-bench-audit]

Part 0 (hub scale): one library of independent Llama-shaped fingerprints (width 256, 8
layers, 58 tensors each; the first --hub sizes of it) with a candidate fine-tuned from entry 0
and three more planted derivatives (entries 1-3: a fine-tune, neurons and heads permuted
with rescaling, the residual stream rotated). A fresh process audits the candidate and each
planted derivative against the library twice: screened (`screening.audit_library`, two
worker processes, fingerprints read one at a time) and the full scan (`audit` on every
reference). The table prints both times side by side, their ratio, the references the
full tests ran on, and whether both name the same derived references.

Part 1 (library): 50 independent Llama-shaped fingerprints of width d plus a candidate
fine-tuned from one of them; a fresh process loads the 50 files and audits the candidate
(time and peak RSS, VmHWM). Fingerprints here are sketched from random weights of the
true shapes, but only their first 512 rows and columns are drawn (the sketch keeps at
most K = 128 units per axis, so the audit's cost depends on the number of tensors, not on
width beyond K; drawing full matrices would only slow the set-up).

Part 2 (side by side, per width): two real model folders (bf16 safetensors), a fine-tune
and an independent one. Gauntlet: fingerprint both (one streaming pass each) and audit.
Reference approach, as salzhu/model-tracing does: load both models whole into memory
(float32), then for every layer match the MLP up-projection units by a linear assignment
on cosine similarity and take the Spearman correlation with the identity order. Each runs
in its own fresh process; the table prints both times and peak memory and their ratios.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

K_DRAWN = 512


def llama_shapes(d: int, layers: int, vocab: int = 32000) -> dict[str, tuple[int, int]]:
    h = 8 * round(d * 8 / 3 / 8)
    shapes = {"model.embed_tokens.weight": (vocab, d)}
    for i in range(layers):
        p = f"model.layers.{i}."
        shapes.update({p + "self_attn.q_proj.weight": (d, d), p + "self_attn.k_proj.weight": (d // 4, d),
                       p + "self_attn.v_proj.weight": (d // 4, d), p + "self_attn.o_proj.weight": (d, d),
                       p + "mlp.gate_proj.weight": (h, d), p + "mlp.up_proj.weight": (h, d),
                       p + "mlp.down_proj.weight": (d, h)})
    shapes["lm_head.weight"] = (vocab, d)
    return shapes


def library_fingerprints(work: Path, d: int, layers: int, size: int, drawn: int = K_DRAWN,
                         planted: bool = False) -> tuple[Path, Path]:
    """`size` independent fingerprints in work/lib, and a candidate fine-tuned from entry 0
    (with `planted`, also work/planted-*.fingerprint derived from entries 1-3)."""
    from threadpoolctl import threadpool_limits

    from gauntlet.provenance.fingerprint import Fingerprint
    from gauntlet.provenance.sketch import sketch_array

    with threadpool_limits(1):  # small products: BLAS threads only fight each other (10x slower here)
        return _library_fingerprints(work, d, layers, size, drawn, planted, Fingerprint, sketch_array)


def _library_fingerprints(work, d, layers, size, drawn, planted, Fingerprint, sketch_array):
    lib = work / "lib"
    lib.mkdir(parents=True, exist_ok=True)
    shapes = llama_shapes(d, layers)
    origin = {"organisation": "Lab", "country": "XX", "licence": "open", "release_date": "2025-01-01"}

    def build(seed, base=None):
        rng = np.random.default_rng(seed)
        tensors = []
        for name, (rows, cols) in shapes.items():
            shape = (min(rows, drawn), min(cols, drawn))
            w = base[name] + 0.5 * rng.standard_normal(shape) if base else rng.standard_normal(shape)
            sk = sketch_array(name, w.astype(np.float32))
            sk.shape = (rows, cols)
            tensors.append((sk, w))
        return tensors

    base, sources = None, {}
    for i in range(size):
        built = build(1000 + i)
        if i == 0:
            base = {t.name: w for t, w in built}
        elif planted and i <= 3:
            sources[i] = {t.name: w for t, w in built}
        Fingerprint(f"lab-{i:04d}", [t for t, _ in built], origin=origin).save(lib / f"lab-{i:04d}.fingerprint")
    candidate = work / "candidate.fingerprint"
    Fingerprint("candidate", [t for t, _ in build(7, base)]).save(candidate)
    if planted:
        for i, disguise in ((1, "fine-tune"), (2, "permuted-rescaled"), (3, "rotated")):
            tensors = _disguised(sources[i], disguise, np.random.default_rng(i))
            sketches = []
            for name, w in tensors.items():
                sk = sketch_array(name, w.astype(np.float32))
                sk.shape = shapes[name]
                sketches.append(sk)
            Fingerprint(f"planted-{i}-{disguise}", sketches).save(work / f"planted-{i}.fingerprint")
    return lib, candidate


def _disguised(t: dict, how: str, rng) -> dict:
    """The drawn part of each tensor, disguised the way a whole model would be."""
    if how == "fine-tune":
        return {n: w + 0.3 * rng.standard_normal(w.shape) for n, w in t.items()}
    out = dict(t)
    if how == "permuted-rescaled":  # MLP neurons permuted, up x 3 and down / 3
        for n in t:
            if n.endswith("mlp.up_proj.weight"):
                p = n[: -len("up_proj.weight")]
                perm = rng.permutation(t[n].shape[0])
                out[p + "up_proj.weight"] = t[p + "up_proj.weight"][perm] * 3
                out[p + "gate_proj.weight"] = t[p + "gate_proj.weight"][perm]
                out[p + "down_proj.weight"] = t[p + "down_proj.weight"][:, perm] / 3  # drawn: the same neurons
        return out
    # rotated: every residual-side axis of the drawn part turned by one orthogonal matrix
    d = t["model.embed_tokens.weight"].shape[1]
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    for n, w in t.items():
        if w.shape[1] == d and not n.endswith(("o_proj.weight", "down_proj.weight")):
            out[n] = w @ q
        elif w.shape[0] == d and n.endswith(("o_proj.weight", "down_proj.weight")):
            out[n] = q.T @ w
    return out


def child(setup: str, code: str, cpu: list | None = None) -> tuple[float, float, str]:
    """Run in a fresh interpreter: (seconds for `code`, peak RSS MiB, last printed line).
    `cpu`, when given, receives the CPU seconds `code` used (its worker processes included):
    on a busy machine that is the figure other work disturbs least."""
    wrapper = (setup + "\nimport time, resource\nt=time.perf_counter()\n"
               "c0=sum(resource.getrusage(w)[0] + resource.getrusage(w)[1] for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))\n"
               + code +
               "\ndt=time.perf_counter()-t"
               "\nc1=sum(resource.getrusage(w)[0] + resource.getrusage(w)[1] for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))"
               "\nhwm=[l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]"
               "\nprint(c1 - c0)"
               "\nprint('RESULT', dt, int(hwm)/1024)")
    out = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    lines = out.stdout.strip().splitlines()
    _, dt, rss = lines[-1].split()
    if cpu is not None:
        cpu.append(float(lines[-2]))
    return float(dt), float(rss), (lines[-3] if len(lines) > 2 else "")


def write_models(work: Path, d: int, layers: int) -> tuple[Path, Path, Path]:
    """A base model, a fine-tune of it and an independent model (bf16 folders)."""
    from gauntlet.provenance.generators import write_folder

    shapes = llama_shapes(d, layers, vocab=8000)
    rng = np.random.default_rng(d)
    base = {n: (rng.standard_normal(s) * 0.02).astype(np.float32) for n, s in shapes.items()}
    tuned = {n: w + 0.01 * rng.standard_normal(w.shape).astype(np.float32) for n, w in base.items()}
    other = {n: (rng.standard_normal(s) * 0.02).astype(np.float32) for n, s in shapes.items()}
    cfg = {"model_type": "llama", "hidden_size": d}
    return tuple(write_folder(work / f"{tag}{d}", t, dtype="BF16", shards=2, config=cfg)
                 for tag, t in (("base", base), ("tuned", tuned), ("other", other)))


MODEL_TRACING = """
import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.stats import spearmanr
from gauntlet.artifacts.safetensors_io import read_header, read_tensor
def load_whole(folder):
    out = {}
    for f in sorted(__import__('pathlib').Path(folder).glob('*.safetensors')):
        h = read_header(f)
        out.update({n: read_tensor(h, n) for n in h.tensors})
    return out
def trace(a, b):
    rhos = []
    for name in sorted(n for n in a if n.endswith('mlp.up_proj.weight')):
        x, y = a[name], b[name]
        x = x / np.linalg.norm(x, axis=1, keepdims=True); y = y / np.linalg.norm(y, axis=1, keepdims=True)
        _, match = linear_sum_assignment(x @ y.T, maximize=True)
        rhos.append(spearmanr(match, np.arange(len(match)))[0])
    return rhos
"""


HUB_CODE = """
files = sorted(__import__('pathlib').Path({lib!r}).iterdir())[:{n}]
names, ran = [], 0
refs = None if {screened} else [Fingerprint.load(f) for f in files]
for c in {cands!r}:
    if {screened}:
        r = audit_library(c, [], files, progress=False, screened=True)
    else:
        r = audit(c, refs, progress=False)
    names.append([x.reference for x in r.references if x.verdict == 'derived'])
    ran += sum(not x.screened_out for x in r.references)
print(str(names).replace(' ', ''), ran // len({cands!r}))
"""


def hub_scale(work: Path, sizes: list[int], full_models: int) -> None:
    import time

    print("Part 0: one candidate and 3 planted derivatives vs a library at hub scale; width 256, 8 layers")
    t = time.perf_counter()
    lib, cand = work / "lib", work / "candidate.fingerprint"
    if not (lib.is_dir() and len(list(lib.iterdir())) == max(sizes) and (work / "planted-3.fingerprint").exists()):
        lib, cand = library_fingerprints(work, 256, 8, max(sizes), drawn=256, planted=True)
    cands = [str(cand)] + [str(work / f"planted-{i}.fingerprint") for i in (1, 2, 3)]
    expected = str([[f"lab-{i:04d}"] for i in range(4)]).replace(" ", "")
    print(f"(library of {max(sizes)} written in {time.perf_counter() - t:.0f} s; the derived reference of "
          f"each audited model is known: {expected})")
    print(f"{'refs':>6} {'screened s':>10} {'cpu s':>6} {'full s':>8} {'cpu s':>6} {'ratio':>6} {'ran':>5}  "
          f"screened finds | full scan finds (first {full_models} models)")
    setup = "from gauntlet.provenance import audit, Fingerprint\nfrom gauntlet.provenance.screening import audit_library"
    for n in sizes:
        s_cpu, f_cpu = [], []
        s_dt, _, s_line = child(setup, HUB_CODE.format(lib=str(lib), n=n, cands=cands, screened=True), s_cpu)
        f_dt, _, f_line = child(setup, HUB_CODE.format(lib=str(lib), n=n, cands=cands[:full_models], screened=False), f_cpu)
        s_names, ran = s_line.rsplit(" ", 1)
        f_names = f_line.rsplit(" ", 1)[0]
        s_per, f_per = s_dt / len(cands), f_dt / full_models
        print(f"{n:6d} {s_per:10.2f} {s_cpu[0] / len(cands):6.2f} {f_per:8.2f} {f_cpu[0] / full_models:6.2f} "
              f"{f_per / s_per:6.1f} {ran:>5}  {s_names == expected} {s_names} | {f_names}")
    print("seconds per audited model, fresh process (the full scan's library load is shared by its models);"
          " cpu s: CPU seconds, worker processes included; ran: references the full tests ran on\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hub", default="50,200,1000", help="library sizes for part 0 ('' to skip)")
    ap.add_argument("--full-models", type=int, default=4, help="audited models the full scan also runs (1-4)")
    ap.add_argument("--library", type=int, default=50)
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--widths", default="256,512,1024,2048")
    ap.add_argument("--deep", default="4096x32", help="one more row, WIDTHxLAYERS (a 7B-like depth)")
    ap.add_argument("--side-widths", default="256,512,1024")
    ap.add_argument("--workdir", default="/tmp/gauntlet-bench-audit")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (and reuse a hub library in it)")
    args = ap.parse_args()
    work = Path(args.workdir)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    try:
        if args.hub:
            hub_scale(work / "hub", [int(x) for x in args.hub.split(",")], args.full_models)
        print(f"Part 1: one candidate vs a library of {args.library} fingerprints (fresh process each; loading included)")
        print(f"{'width':>6} {'layers':>6} {'tensors':>7} {'lib MiB':>8} {'audit s':>8} {'peak RSS MiB':>12}  verdict (derived refs)")
        rows = [(int(x), args.layers) for x in args.widths.split(",") if x]
        if args.deep:
            rows.append(tuple(int(x) for x in args.deep.split("x")))
        for d, layers in rows:
            lib, cand = library_fingerprints(work / f"w{d}", d, layers, args.library)
            setup = "from gauntlet.provenance import audit, Library"
            code = (f"r = audit({str(cand)!r}, Library.load({str(lib)!r}).entries, progress=False)\n"
                    "print(r.verdict, [x.reference for x in r.references if x.verdict == 'derived'])")
            dt, rss, verdict = child(setup, code)
            lib_mib = sum(p.stat().st_size for p in lib.iterdir()) / 2**20
            print(f"{d:6d} {layers:6d} {len(llama_shapes(d, layers)):7d} {lib_mib:8.1f} {dt:8.2f} {rss:12.0f}  {verdict}")
            shutil.rmtree(work / f"w{d}")
        print("\nPart 2: Gauntlet (fingerprint both + audit) vs loading both models whole (model-tracing style)")
        print(f"{'width':>6} {'model MiB':>9} {'gauntlet s':>10} {'MiB':>6} {'whole s':>8} {'MiB':>6} "
              f"{'time ratio':>10} {'mem ratio':>9}  verdicts (tuned, other) | spearman (tuned, other)")
        for d in (int(x) for x in args.side_widths.split(",") if x):
            base, tuned, other = write_models(work, d, args.layers)
            size = sum(p.stat().st_size for p in base.glob("*.safetensors")) / 2**20
            g_code = (f"fb = fingerprint_model({str(base)!r}, progress=False)\n"
                      f"v = [audit(fingerprint_model(c, progress=False), [fb], progress=False).verdict "
                      f"for c in ({str(tuned)!r}, {str(other)!r})]\nprint(v)")
            g_dt, g_rss, g_out = child("from gauntlet.provenance import audit, fingerprint_model", g_code)
            w_code = (f"a = load_whole({str(base)!r})\n"
                      f"r = [round(float(np.mean(trace(a, load_whole(c)))), 3) for c in ({str(tuned)!r}, {str(other)!r})]\nprint(r)")
            w_dt, w_rss, w_out = child(MODEL_TRACING, w_code)
            print(f"{d:6d} {size:9.1f} {g_dt:10.2f} {g_rss:6.0f} {w_dt:8.2f} {w_rss:6.0f} {w_dt / g_dt:10.2f} "
                  f"{w_rss / g_rss:9.2f}  {g_out} | {w_out}")
            for folder in (base, tuned, other):
                shutil.rmtree(folder)
        print("time ratio / mem ratio = whole-model approach / Gauntlet (> 1: Gauntlet is faster / smaller).")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
