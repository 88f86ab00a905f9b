"""Active sampling spends votes on uncertain pairs; the simulated arena runs end to end."""

from __future__ import annotations

import numpy as np

from gauntlet.ratings.arena_simulation import simulate_arena
from gauntlet.ratings.sampling import ActivePairSampler, UniformPairSampler
from gauntlet.ratings.user_component import user_component_scores


def test_active_sampler_prefers_pairs_whose_order_is_uncertain():
    models = ["a", "b", "c", "d"]
    strength = {"a": 2.0, "b": 0.05, "c": 0.0, "d": -2.0}
    rng = np.random.default_rng(0)
    sampler = ActivePairSampler(models, refit_every=50, exploration=0.2)
    for _ in range(400):
        x, y = UniformPairSampler(models)(rng)
        p = 1 / (1 + np.exp(-(strength[x] - strength[y])))
        sampler.observe(x, y, float(rng.random() < p))
    probs = dict(zip(sampler.pairs, sampler.pair_probabilities()))
    close = probs[(1, 2)]  # b vs c: nearly equal
    assert close == max(probs.values())
    assert close > 3 / len(probs)
    assert probs[(0, 3)] < 1 / len(probs)  # a vs d: settled
    assert np.isclose(sum(probs.values()), 1.0)


def test_simulated_arena_end_to_end():
    models = ["lg", "skt", "upstage", "nc"]
    quality = {"lg": 1.2, "skt": 0.4, "upstage": -0.2, "nc": -1.2}
    answers = {m: {f"p{k}": f"answer {k}" for k in range(25)} for m in models}
    answers["nc"]["p3"] = "As VARCO from NC AI, I can help."
    outcome = simulate_arena(models, answers, quality, n_votes=2500, seed=3,
                             identities={"nc": ["NC AI", "VARCO"]}, bootstrap=30, days=3)
    assert [e.model for e in outcome.leaderboard.entries()] == ["lg", "skt", "upstage", "nc"]
    assert len(outcome.accepted) + len(outcome.excluded_votes) == len(outcome.votes) == 2500
    assert [(e.model, e.prompt_id) for e in outcome.excluded_answers] == [("nc", "p3")]
    assert all(v.prompt_id != "p3" or "nc" not in (v.model_a, v.model_b) for v in outcome.votes)
    kinds = {v.id: v.kind for v in outcome.voters}
    assert {kinds[v] for v in outcome.filter_result.anomalous_voters} == {"lazy", "adversarial"}
    reasons = outcome.filter_result.reasons()
    assert reasons["duplicate"] > 0 and reasons["daily_cap"] > 0
    rows = outcome.vote_rows()
    assert sum(r["excluded_reason"] is not None for r in rows) == len(outcome.excluded_votes)
    scores = user_component_scores(outcome.leaderboard)
    assert scores["lg"].value > scores["nc"].value
    assert len(scores["lg"].samples) == 30


def test_published_counted_votes_reproduce_the_leaderboard(tmp_path):
    import json

    from typer.testing import CliRunner

    from gauntlet.cli import app
    from gauntlet.ratings.votes import read_votes

    models = ["a", "b", "c"]
    answers = {m: {f"p{k}": "text" for k in range(10)} for m in models}
    outcome = simulate_arena(models, answers, {"a": 0.8, "b": 0.0, "c": -0.8}, n_votes=900, seed=9,
                             bootstrap=20, policy="uniform")
    outcome.write_counted_votes(tmp_path / "counted.csv")
    outcome.write_vote_log(tmp_path / "log.jsonl")
    assert len((tmp_path / "log.jsonl").read_text().splitlines()) == 900
    assert read_votes(tmp_path / "counted.csv").n_votes == len(outcome.accepted)
    result = CliRunner().invoke(app, ["ratings", "fit", str(tmp_path / "counted.csv"), "--bootstrap", "20",
                                      "--seed", "9", "--json"])
    published = {r["model"]: r for r in json.loads(result.stdout)["ratings"]}
    for entry in outcome.leaderboard.entries():
        assert published[entry.model]["rating"] == entry.rating
        assert published[entry.model]["lower"] == entry.lower and published[entry.model]["rank"] == entry.rank
