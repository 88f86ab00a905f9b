"""A small bilingual prompt set for demos and tests (a real round declares its own)."""

from __future__ import annotations

from gauntlet.ratings.arena import Prompt, PromptSet

_PROMPTS = (
    ("ko", "한국의 수도와 그 도시의 특징을 두 문장으로 설명해 주세요."),
    ("ko", "김치찌개를 끓이는 방법을 단계별로 알려 주세요."),
    ("ko", "세종대왕이 한글을 만든 이유를 간단히 설명해 주세요."),
    ("ko", "비 오는 날에 어울리는 짧은 시를 써 주세요."),
    ("ko", "회의에 늦은 동료에게 보낼 정중한 메시지를 작성해 주세요."),
    ("ko", "인공지능이 일자리에 미치는 영향을 장단점으로 정리해 주세요."),
    ("en", "Explain photosynthesis to a ten-year-old in three sentences."),
    ("en", "Write a short, polite email declining a meeting invitation."),
    ("en", "What are the trade-offs between renting and buying a home?"),
    ("en", "Summarise the causes of the French Revolution in one paragraph."),
    ("en", "Give three tips for writing readable Python code."),
    ("en", "Write a haiku about the first snow of winter."),
)


def demo_prompt_set(round_name: str = "round-1") -> PromptSet:
    """Six Korean and six English everyday prompts with stable ids (ko-1.., en-1..)."""
    counters = {"ko": 0, "en": 0}
    prompts = []
    for language, text in _PROMPTS:
        counters[language] += 1
        prompts.append(Prompt(f"{language}-{counters[language]}", language, text))
    return PromptSet(round_name, tuple(prompts))
