"""Names and storage order are never trusted: a copy stored in another family's layout
(transposed Conv1D, fused or interleaved q/k/v with biases, fused gate/up) is derived,
with its reused layers named."""

import pytest

from gauntlet.provenance import audit
from gauntlet.provenance import generators as gen


def _derived_layers(ref):
    return {m.name: m.counterpart for m in ref.modules if m.verdict == "derived"}


def test_copy_stored_transposed_with_its_own_vocabulary_and_original_names(reference_model, reference_fp, fingerprint):
    """GPT-2's Conv1D layout ([in, out]) for every matrix, the team's own vocabulary, the
    reference's tensor names kept: before, no tensor was ever compared with a transpose."""
    copy = gen.store_transposed(gen.own_vocabulary(gen.train(reference_model, 21, steps=40), 22))
    report = audit(fingerprint("transposed", copy), [reference_fp], progress=False)
    ref = report.references[0]
    assert ref.verdict == "derived" and ref.p_value < 1e-10, ref.p_value
    derived = _derived_layers(ref)
    for i in (0, 1):
        assert derived.get(f"model.layers.{i}") == f"model.layers.{i}", derived
    assert derived.get("vision_tower.layers.0") == "vision_tower.layers.0"
    assert "model.embed_tokens" not in derived  # its own vocabulary: nothing reused there
    assert any(r["test"].endswith("(transposed)") for m in ref.modules for r in m.tensors if r.get("p_value", 1) < 1e-6)


@pytest.mark.parametrize("layout, prefix", [("gpt2", "transformer.h."), ("neox", "gpt_neox.layers."),
                                            ("phi3", "model.layers.")])
def test_copy_in_another_family_layout_is_derived_with_layers_named(layout, prefix, reference_model, reference_fp,
                                                                  fingerprint):
    copy = gen.to_layout(gen.train(reference_model, 23, steps=40), layout, seed=24)
    report = audit(fingerprint(layout, copy), [reference_fp], progress=False)
    ref = report.references[0]
    assert ref.verdict == "derived" and ref.p_value < 1e-10, (layout, ref.p_value)
    derived = _derived_layers(ref)
    for i in (0, 1):
        assert derived.get(f"{prefix}{i}") == f"model.layers.{i}", (layout, derived)


@pytest.mark.parametrize("layout", ["gpt2", "neox", "phi3"])
def test_independent_model_in_another_layout_is_independent(layout, reference_fp, fingerprint):
    """Searching both orientations and fused layouts is charged in the correction: an
    independent team's model in these layouts is not accused."""
    own = gen.train(gen.llama(330), 331, steps=100)
    report = audit(fingerprint(layout, gen.to_layout(own, layout, seed=332)), [reference_fp], progress=False)
    assert report.verdict == "independent", report.references[0].p_value
    transposed = audit(fingerprint("t", gen.store_transposed(own)), [reference_fp], progress=False)
    assert transposed.verdict == "independent", transposed.references[0].p_value
