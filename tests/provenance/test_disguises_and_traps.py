"""Every disguise of issue 3 is caught and localised; every trap stays `independent`."""

from functools import lru_cache

import numpy as np
import pytest

from gauntlet.provenance import DEFAULT_ALPHA, audit
from gauntlet.provenance import generators as gen


@lru_cache(maxsize=1)
def _heavy_cached(key):
    return gen.train(_HEAVY_SRC[key], 6, steps=600, decay=0.3)


_HEAVY_SRC = {}


def _heavy(key, ref):
    _HEAVY_SRC[key] = ref
    return _heavy_cached(key)


def _independent_team(seed, **kw):
    return gen.train(gen.llama(seed, **kw), seed + 1000, steps=200)


DISGUISES = {
    # 1. further training: light SFT and heavy continued pre-training with decay
    "sft": lambda ref: gen.train(ref, 5, steps=50),
    "heavy-continued-pretraining": lambda ref: _heavy(id(ref), ref),
    # 2. renamed, fused q/k/v and gate/up
    "renamed-fused": lambda ref: gen.rename_fuse(ref),
    # 3. permuted neurons and heads with function-preserving rescaling
    "permuted-rescaled": lambda ref: gen.permute_and_rescale(ref, 3),
    # 4. norms folded, residual stream rotated
    "rotated-residual": lambda ref: gen.rotate_residual(ref, 4),
    # 5. depth up-scaling (interleaved and duplicated layers), dropped layer, width pruning
    "depth-upscaled": lambda ref: gen.relayer(ref, [0, 0, 1, 1]),
    "layer-dropped": lambda ref: gen.relayer(ref, [1]),
    "width-pruned": lambda ref: gen.prune_width(ref, 5),
    # 6. vocabulary reordered, shrunk and extended
    "vocab-changed": lambda ref: gen.change_vocab(ref, 6),
    # 7. dense-to-MoE upcycling, experts trained apart
    "moe-upcycled": lambda ref: gen.upcycle_moe(ref, 7),
    # several at once, then further training
    "permuted-renamed-trained": lambda ref: gen.train(gen.rename_fuse(gen.permute_and_rescale(ref, 8)), 9, steps=300),
}


@pytest.mark.parametrize("case", list(DISGUISES))
def test_disguise_is_derived(case, reference_model, reference_fp, fingerprint):
    candidate = fingerprint(case, DISGUISES[case](reference_model))
    report = audit(candidate, [reference_fp])
    ref = report.references[0]
    assert report.verdict == "derived" and ref.verdict == "derived", (case, ref.p_value)
    if case == "heavy-continued-pretraining":
        # Per-matrix correlation with the original is ~0.04 on a 2-layer, 48-wide model: no
        # single tensor's test finds it. Pooling every name-paired tensor of a module, with
        # the calibrated test, finds it and says where: the reused layer, paired by name.
        assert ref.p_value < DEFAULT_ALPHA and ref.whole_model.p_value < DEFAULT_ALPHA
        derived = [m for m in ref.modules if m.verdict == "derived"]
        assert derived and all(m.counterpart == m.name and m.kind == "transformer layer" for m in derived)
        return
    assert ref.p_value < 1e-10
    derived = [m for m in ref.modules if m.verdict == "derived"]
    assert derived, case
    # localisation: the reused layers point at layers of the reference
    for m in derived:
        assert m.counterpart is not None


def test_heavy_training_really_drifted(reference_model):
    assert gen.correlation(reference_model, DISGUISES["heavy-continued-pretraining"](reference_model)) < 0.15


@pytest.mark.parametrize("donor_prefix, renamed", [("vision_tower.", "visual.encoder."), ("model.embed_tokens", None)])
def test_single_component_reuse_is_localised(donor_prefix, renamed, reference_model, reference_fp, fingerprint):
    """8. Own language model, foreign vision encoder (renamed) or foreign embeddings only."""
    own = _independent_team(50, vision=True)
    tensors = gen.with_component(own, gen.train(reference_model, 51, steps=30), donor_prefix)
    if renamed:
        tensors = gen.rename_component(tensors, donor_prefix, renamed)
    report = audit(fingerprint("team", tensors), [reference_fp])
    ref = report.references[0]
    assert ref.verdict == "derived"
    derived = {m.name: m.counterpart for m in ref.modules if m.verdict == "derived"}
    expected_prefix = renamed or donor_prefix
    assert derived and all(name.startswith(expected_prefix) for name in derived), derived
    assert all(cp.startswith(donor_prefix) for cp in derived.values()), derived
    reused = [m for m in ref.modules if m.name.startswith(expected_prefix)]
    assert all(m.verdict == "derived" for m in reused if m.kind != "other")
    if renamed:
        assert {m.kind for m in reused} == {"vision encoder"}


def test_layers_from_two_references(fingerprint):
    """9. Layer 0 from reference A, layer 1 from reference B: both named, each localised."""
    a = _independent_team(60)
    b = _independent_team(61)
    mixed = gen.relayer(a, [0])
    for k, v in gen.relayer(b, [1]).items():
        if k.startswith("model.layers.0."):
            mixed[k.replace("model.layers.0.", "model.layers.1.", 1)] = v
    mixed = gen.train(mixed, 62, steps=50)
    report = audit(fingerprint("mix", mixed), [fingerprint("A", a), fingerprint("B", b)])
    verdicts = {r.reference: r for r in report.references}
    assert verdicts["A"].verdict == verdicts["B"].verdict == "derived"
    mod_a = {m.name: (m.verdict, m.counterpart) for m in verdicts["A"].modules}
    mod_b = {m.name: (m.verdict, m.counterpart) for m in verdicts["B"].modules}
    assert mod_a["model.layers.0"] == ("derived", "model.layers.0")
    assert mod_b["model.layers.1"] == ("derived", "model.layers.1")
    assert mod_a["model.layers.1"][0] != "derived" and mod_b["model.layers.0"][0] != "derived"


@pytest.mark.parametrize("norms", ["ones", "near"])
def test_same_architecture_and_init_scheme_is_independent(norms, fingerprint):
    """Traps: identical architecture, init scheme and per-layer std profile; norm gains all
    exactly 1.0, or all near 1.0 (raw cosine ~1, like the Solar/GLM false alarm)."""
    a = gen.llama(70, norms=norms)
    b = gen.llama(71, norms=norms)
    ga, gb = a["model.layers.0.input_layernorm.weight"], b["model.layers.0.input_layernorm.weight"]
    assert ga @ gb / np.linalg.norm(ga) / np.linalg.norm(gb) > 0.999  # the false-alarm statistic
    for x, y in ((a, b), (gen.train(a, 72), gen.train(b, 73))):
        std_a = [v.std() for v in x.values() if v.ndim == 2]
        std_b = [v.std() for v in y.values() if v.ndim == 2]
        assert np.corrcoef(std_a, std_b)[0, 1] > 0.9  # same std profile
        report = audit(fingerprint("a", x), [fingerprint("b", y)])
        assert report.verdict == "independent", report.references[0].p_value


def test_shared_tokenizer_is_separate_evidence(fingerprint):
    from gauntlet.provenance.tokenizer import summarise_tokenizer
    import json, tempfile, pathlib

    words = ["<s>", "a", "b", "ab", "c", "abc"] + [f"t{i}" for i in range(100)]
    doc = gen.bpe_tokenizer(words, ["a b", "ab c"])
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "tokenizer.json"
        path.write_text(json.dumps(doc))
        tok = summarise_tokenizer(path)
    a = fingerprint("a", _independent_team(80), tokenizer=tok)
    b = fingerprint("b", _independent_team(81), tokenizer=tok)
    report = audit(a, [b])
    ref = report.references[0]
    assert report.verdict == "independent"
    assert ref.tokenizer["identical"] and ref.tokenizer["jaccard"] == 1.0 and ref.tokenizer["merges_shared"] == 2


def test_near_identical_configs_are_independent(fingerprint):
    a = _independent_team(90, d=48, h=96)
    b = _independent_team(91, d=48, h=100)
    assert audit(fingerprint("a", a), [fingerprint("b", b)]).verdict == "independent"


def test_norm_gains_alone_never_make_derived(reference_model, fingerprint):
    """A model that copies only the reference's norm gains is not called derived."""
    own = _independent_team(95, vision=True)
    for k, v in reference_model.items():
        if v.ndim == 1:
            own[k] = v.copy()
    report = audit(fingerprint("own", own), [fingerprint("ref", reference_model)])
    assert report.verdict == "independent"
