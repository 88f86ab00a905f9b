"""How often the validity checks leave out an axis whose units are exchangeable (epsilon).

Usage: python benchmarks/validity_checks.py [--models 100]

Conditioning on passing a check raises a p-value's false-positive rate by at most
1 / (1 - epsilon), and every false flag only loses evidence, so epsilon must be small.
Two sources of axes whose units are exchangeable by construction:
- independently initialised models of every family (transformers' `from_config`), where the
  only tensors the configuration fixes are known (Whisper's sinusoidal encoder table,
  Mamba's A_log); every other flagged axis is a false flag;
- Llama-shaped test models drawn at random and trained (`generators.train`, from none to
  heavy training with weight decay), where no axis is fixed.
Prints axes checked, flagged as expected, and falsely flagged, per source, and the largest
order statistic z of an unflagged axis's kept units, next to the bar (validity.ORDER_Z).
"""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np

FIXED = ("encoder.embed_positions", "A_log")  # what the family configurations fix


def _axes(fp):
    """(name, axis, flag, order z of its kept units) for every matrix axis with enough units
    to be checked."""
    from gauntlet.provenance.validity import MIN_CHECKED, check_tensor, order_z

    for t in fp.tensors:
        if not t.is_matrix:
            continue
        flags = check_tensor(t)
        block = np.asarray(t.block, np.float32)
        for axis, units in (("rows", block), ("columns", block.T)):
            if units.shape[0] >= MIN_CHECKED and units.shape[1] >= 2:
                yield t.name, axis, flags.get(axis), order_z(units) if np.ptp(units) > 0 else 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, default=100, help="per family")
    ap.add_argument("--trained", type=int, default=20, help="per training level of the test models")
    args = ap.parse_args()

    from gauntlet.console import progress_bar
    from gauntlet.provenance import generators as gen
    from gauntlet.provenance.families import FAMILIES, independent_model
    from gauntlet.provenance.fingerprint import fingerprint_arrays
    from gauntlet.provenance.validity import ORDER_Z

    sources = {f"family {f}": (lambda s, f=f: independent_model(f, s)) for f in FAMILIES}
    for steps, decay in ((0, 0.0), (200, 0.0), (400, 0.3)):
        sources[f"test model, {steps} steps"] = (
            lambda s, steps=steps, decay=decay: gen.train(gen.llama(s, vision=True), s + 1, steps=steps, decay=decay)
            if steps else gen.llama(s, vision=True))
    rows = []
    with progress_bar() as bar:
        for label, build in sources.items():
            count = args.models if label.startswith("family") else args.trained
            task = bar.add_task(label, total=count)
            checked = expected = 0
            false = Counter()
            top = 0.0
            for seed in range(count):
                fp = fingerprint_arrays("m", build(800_000 + seed))
                for name, axis, flag, z in _axes(fp):
                    checked += 1
                    if flag and any(f in name for f in FIXED):
                        expected += 1
                    elif flag:
                        false[f"{name} {axis}: {flag[0]}"] += 1
                    else:
                        top = max(top, z)
                bar.advance(task)
            rows.append((label, checked, expected, sum(false.values()), top, false.most_common(3)))
    print(f"\n{args.models} models per family, {args.trained} per training level; order bar z > {ORDER_Z}")
    print(f"{'source':26s} {'axes':>7s} {'fixed, found':>12s} {'false flags':>11s} {'max z':>6s}")
    for label, checked, expected, n_false, top, examples in rows:
        print(f"{label:26s} {checked:7d} {expected:12d} {n_false:11d} {top:6.1f} {examples if examples else ''}")
    total = sum(r[1] - r[2] for r in rows)
    print(f"exchangeable axes checked: {total}; falsely flagged: {sum(r[3] for r in rows)}")


if __name__ == "__main__":
    main()
