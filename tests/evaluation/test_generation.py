"""Arena answers come from the same backends as the benchmarks, and agree across them."""

from gauntlet.evaluation.backends import BackendSettings
from gauntlet.evaluation.generation import generate_answers

PROMPTS = [("p1", "The capital of"), ("p2", "한국어로 인사하면"), ("p3", "Once upon a time")]


def test_hf_backend_answers_every_prompt_deterministically(tiny_model):
    first = generate_answers(tiny_model, PROMPTS, max_new_tokens=8)
    assert set(first) == {"p1", "p2", "p3"} and all(isinstance(a, str) for a in first.values())
    assert generate_answers(tiny_model, PROMPTS, max_new_tokens=8) == first


def test_endpoint_backend_gives_the_same_greedy_answers_as_hf(tiny_model, completions_server):
    url, seen = completions_server
    local = generate_answers(tiny_model, PROMPTS, max_new_tokens=8)
    remote = generate_answers(tiny_model, PROMPTS, max_new_tokens=8,
                              settings=BackendSettings(backend="local-completions", base_url=url))
    assert seen, "the endpoint was never called"
    assert remote == local
