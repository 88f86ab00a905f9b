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


def test_answers_hold_only_whole_characters(tiny_model):
    """A byte-level model cut off by the token budget, or emitting stray bytes, must not show
    U+FFFD: the answer keeps exactly the characters its bytes spell."""
    from gauntlet.evaluation.generation import readable_text

    cut = ("가나다".encode() + "라".encode()[:2]).decode("utf-8", errors="replace")
    assert "\ufffd" in cut and readable_text(cut) == "가나다"
    stray = b"ab\xff\xfecd\xed\x95".decode("utf-8", errors="replace")
    assert readable_text(stray) == "abcd"
    assert readable_text("온전한 답변입니다.") == "온전한 답변입니다."
    answers = [a for n in (3, 5, 16) for a in generate_answers(tiny_model, PROMPTS, max_new_tokens=n).values()]
    assert not any("\ufffd" in a for a in answers)
