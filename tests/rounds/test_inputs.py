"""Building the decision document from a spec, component scores and audit reports."""

from pathlib import Path

import pytest

from gauntlet import spec as spec_module
from gauntlet.domain.components import ComponentScore
from gauntlet.errors import InputError
from gauntlet.rounds import TeamResult, decide, decision_inputs, findings_from_audit, module_kind
from gauntlet.rounds.inputs import MAX_SAMPLES, component_document

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "k-sovereign-2026.toml"


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("model.layers.3.mlp.up_proj", "mlp"),
        ("model.layers.0.self_attn.q_proj", "attention"),
        ("model.embed_tokens", "embedding"),
        ("lm_head", "lm_head"),
        ("visual.blocks.0.attn.qkv", "vision_encoder"),
        ("audio_tower.layers.1", "audio_encoder"),
        ("model.layers.2.block_sparse_moe.gate", "router"),
        ("model.layers.2.input_layernorm", "norm"),
        ("model.layers.7", "transformer_layer"),
        ("shared.adapter", "shared.adapter"),  # unknown: kept, and never exempt
    ],
)
def test_module_names_map_to_policy_kinds(name, kind):
    assert module_kind(name) == kind


def test_audit_reports_become_findings_with_origins_from_the_spec():
    s = spec_module.load(EXAMPLE)
    report = {
        "verdict": "derived",
        "references": [
            {"reference": "qwen2.5-vl", "verdict": "derived", "p_value": 1e-40,
             "modules": [{"name": "visual.merger", "verdict": "derived", "p_value": 1e-40},
                         {"name": "model.layers.0.mlp", "verdict": "independent", "p_value": 0.4},
                         {"name": "model.layers.1", "kind": "transformer layer", "verdict": "derived", "p_value": 1e-9}]},
            {"reference": "mystery", "verdict": "derived", "p_value": 1e-9,
             "origin": {"country": "US", "organisation": "Somebody"}},
            {"reference": "glm-4.5-air", "verdict": "independent", "p_value": 0.6, "modules": []},
        ],
    }
    verdict, findings = findings_from_audit(report, s)
    assert verdict == "derived"
    assert [(f.module, f.reference, f.origin.country) for f in findings] == [
        ("vision_encoder", "qwen2.5-vl", "CN"),
        ("transformer_layer", "qwen2.5-vl", "CN"),
        ("weights", "mystery", "US"),
    ]
    with pytest.raises(InputError, match="verdict must be"):
        findings_from_audit({"verdict": "guilty"})


def test_decision_inputs_carry_the_spec_policy_and_decide():
    s = spec_module.load(EXAMPLE)
    samples = tuple(float(80 + (i % 7)) for i in range(5000))
    results = [
        TeamResult(team, {"benchmark": ComponentScore(80 + i, 78 + i, 82 + i), "expert": ComponentScore.exact(85),
                          "user": ComponentScore(83, 80, 86, samples)}, "independent", licence="apache-2.0")
        for i, team in enumerate(["lg", "skt", "upstage", "naver", "nc"])
    ]
    doc = decision_inputs(s, "first", results, seed=5, draws=500)
    assert doc["weights"] == {"benchmark": 40, "expert": 35, "user": 25}
    assert doc["eliminate_lowest"] == 1 and doc["resources"] == {"B200": 1536, "H100": 1536}
    assert doc["independence_policy"]["exempt_own_organisation"] is True
    assert doc["eligibility"]["licences"][0] == "apache-2.0"
    assert doc["monte_carlo"] == {"seed": 5, "draws": 500}
    assert doc["teams"][0]["organisation"] == "LG AI Research" and doc["teams"][0]["expert"] == 85.0
    assert len(doc["teams"][0]["user"]["samples"]) == MAX_SAMPLES
    out = decide(doc)
    assert out["advancing"] == ["nc", "naver", "upstage", "skt"] and out["eliminated"][0]["team"] == "lg"
    assert sum(units["B200"] for units in out["allocation"].values()) == 1536

    with pytest.raises(InputError, match="team 'kakao' is not in the spec"):
        decision_inputs(s, "first", [TeamResult("kakao", {}, "independent")])
    with pytest.raises(InputError, match="no score for component"):
        decision_inputs(s, "first", [TeamResult("lg", {"benchmark": ComponentScore.exact(1)}, "independent")])
    with pytest.raises(InputError, match="no round 'third'"):
        decision_inputs(s, "third", [])


def test_exact_scores_stay_plain_numbers():
    assert component_document(ComponentScore.exact(70)) == 70.0
    assert component_document(ComponentScore(70, 65, 75)) == {"value": 70.0, "lower": 65.0, "upper": 75.0}


def test_licence_is_read_from_the_model_card_then_the_licence_file(tmp_path):
    from gauntlet.rounds.licences import detect_licence

    card = tmp_path / "card"
    card.mkdir()
    (card / "README.md").write_text("---\nlanguage: ko\nlicense: Apache-2.0\n---\n# Model\n")
    (card / "LICENSE").write_text("MIT License\n\nPermission is hereby granted, free of charge, ...")
    assert detect_licence(card) == "apache-2.0"  # the card's metadata wins

    text = tmp_path / "text"
    text.mkdir()
    (text / "README.md").write_text("# no front matter here\nlicense: mit\n")
    (text / "LICENSE").write_text("Attribution-NonCommercial 4.0 International\n\nCreative Commons ...")
    assert detect_licence(text) == "cc-by-nc-4.0"

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "LICENSE").write_text("All rights reserved.")
    assert detect_licence(empty) is None
