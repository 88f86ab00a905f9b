"""Power of the audit on copies stored in other families' layouts, by how far they drifted.

Usage: python benchmarks/layout_power.py [--levels 50:0,300:0,600:0.3,900:0.5]

A trained Llama-shaped reference (2 layers, width 48) is copied and trained further for
`steps` with decoupled weight decay (levels `steps:decay`); each copy is then stored as is,
transposed with its names kept (GPT-2's Conv1D [in, out]), transposed with its own
vocabulary, and in the GPT-2 (transposed, fused c_attn with biases), NeoX (interleaved
query_key_value) and Phi-3 (fused qkv_proj, gate_up_proj) layouts. The table prints the
copy's mean per-matrix correlation with the reference and, per layout, the reference-level
p-value and verdict: the measured boundary the report's stated limits quote.
"""

from __future__ import annotations

import argparse


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--levels", default="50:0,300:0,600:0.3,900:0.5")
    args = ap.parse_args()

    from gauntlet.provenance import audit
    from gauntlet.provenance import generators as gen
    from gauntlet.provenance.fingerprint import fingerprint_arrays

    reference = gen.train(gen.llama(1), 11, steps=200)
    ref_fp = fingerprint_arrays("reference", reference)
    layouts = {
        "as stored": lambda t: t,
        "transposed": gen.store_transposed,
        "transposed+vocab": lambda t: gen.store_transposed(gen.own_vocabulary(t, 3)),
        "gpt2": lambda t: gen.to_layout(t, "gpt2", seed=4),
        "neox": lambda t: gen.to_layout(t, "neox", seed=5),
        "phi3": lambda t: gen.to_layout(t, "phi3", seed=6),
    }
    print(f"{'steps:decay':>11s} {'corr':>6s} " + " ".join(f"{name:>18s}" for name in layouts))
    for level in args.levels.split(","):
        steps, decay = level.split(":")
        copy = gen.train(reference, 7, steps=int(steps), decay=float(decay))
        cells = []
        for build in layouts.values():
            ref = audit(fingerprint_arrays("copy", build(copy)), [ref_fp], progress=False).references[0]
            cells.append(f"{ref.p_value:8.1e} {ref.verdict[:11]:>9s}")
        print(f"{level:>11s} {gen.correlation(reference, copy):6.3f} " + " ".join(f"{c:>18s}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
