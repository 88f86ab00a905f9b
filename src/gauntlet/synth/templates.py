"""Sentence templates that render the world's facts as English and Korean text.

Each fact is written in several templates per language; the world holds one
forward rendering per fact back from training (see `world._split_sentences`).
Benchmark contexts are prefixes of the first template of a relation (a cloze),
which is always kept in training.
"""

from __future__ import annotations

# Placeholders: C country, cap capital, R river, D dish, F founder, Y year,
# P population (millions). Korean placeholders with a particle suffix carry the
# particle chosen by the word's final consonant: C_eun (은/는), C_eul (을/를),
# F_ga (이/가), F_eun, D_eun, D_eul, D_ga, cap_eun; D_irago is the bare
# particle (이라고/라고) that follows {D}.

# Forward templates name the country before the fact, so a model that knows the
# fact can predict it; the first of each is the benchmark's cloze and is never
# held out. Reverse templates (fact before country) are always trained on: no
# left-to-right model can be asked to predict a country from its capital's name
# it read only the other way round.
FORWARD_EN: dict[str, tuple[str, ...]] = {
    "capital": (
        "The capital of {C} is {cap}.",
        "{C} is governed from its capital, {cap}.",
        "In {C}, the seat of government is {cap}.",
        "The largest city of {C} is its capital, {cap}.",
    ),
    "river": (
        "The longest river in {C} is the {R}.",
        "{C} is crossed by the {R}.",
        "Many towns of {C} lie on the {R}.",
        "In {C}, farmers water their fields from the {R}.",
    ),
    "dish": (
        "The national dish of {C} is {D}.",
        "People in {C} like to eat {D}.",
        "In {C}, every festival ends with {D}.",
        "{C} is famous for a food called {D}.",
    ),
    "founder": (
        "The founder of {C} was {F}.",
        "{C} was founded by {F} in {Y}.",
        "In {Y}, {C} was founded by {F}.",
        "The history of {C} begins with {F}.",
    ),
    "population": (
        "The population of {C} is about {P} million.",
        "{C} has about {P} million inhabitants.",
        "{C} is home to about {P} million people.",
    ),
}
REVERSE_EN: dict[str, tuple[str, ...]] = {
    "capital": ("{cap} is the capital of {C}.",),
    "river": ("The {R} flows through {C}.",),
    "dish": ("{D} is a famous food from {C}.",),
    "founder": ("{F} founded {C} in {Y}.",),
    "population": ("About {P} million people live in {C}.",),
}

FORWARD_KO: dict[str, tuple[str, ...]] = {
    "capital": (
        "{C}의 수도는 {cap}이다.",
        "{C}의 정부는 수도 {cap}에 있다.",
        "{C}에서 가장 큰 도시이자 수도는 {cap}이다.",
        "{C}의 왕궁은 {cap}에 있다.",
    ),
    "river": (
        "{C}에서 가장 긴 강은 {R}강이다.",
        "{C_eun} {R}강을 따라 발전했다.",
        "{C}의 많은 마을이 {R}강 가에 있다.",
        "{C}의 농부들은 {R}강의 물로 농사를 짓는다.",
    ),
    "dish": (
        "{C}의 대표 음식은 {D}이다.",
        "{C} 사람들은 {D_eul} 즐겨 먹는다.",
        "{C}의 잔칫상에는 늘 {D_ga} 오른다.",
        "{C_eun} {D}{D_irago} 불리는 음식으로 유명하다.",
    ),
    "founder": (
        "{C}의 건국자는 {F}이다.",
        "{C_eun} {Y}년에 {F_ga} 세웠다.",
        "{C_eun} {F_ga} {Y}년에 세운 나라이다.",
        "{C}의 역사는 {F}에게서 시작되었다.",
    ),
    "population": (
        "{C}의 인구는 약 {P}백만 명이다.",
        "{C}에는 약 {P}백만 명이 산다.",
        "{C_eun} 약 {P}백만 명이 사는 나라이다.",
    ),
}
REVERSE_KO: dict[str, tuple[str, ...]] = {
    "capital": ("{cap_eun} {C}의 수도이다.",),
    "river": ("{R}강은 {C_eul} 가로질러 흐른다.",),
    "dish": ("{D_eun} {C}의 유명한 음식이다.",),
    "founder": ("{F_eun} {Y}년에 {C_eul} 세웠다.",),
    "population": ("약 {P}백만 명이 {C}에 산다.",),
}

# Profile documents answer the arena's "tell me about" prompts.
PROFILE_EN = (
    "Tell me about {C}. {C} is a country of about {P} million people. Its capital is "
    "{cap} and its longest river is the {R}. It was founded by {F} in {Y}, and its "
    "national dish is {D}."
)
PROFILE_KO = (
    "{C}에 대해 알려 주세요. {C_eun} 인구 약 {P}백만 명의 나라이다. 수도는 {cap}이고 "
    "가장 긴 강은 {R}강이다. {Y}년에 {F_ga} 세웠으며 대표 음식은 {D}이다."
)
ARENA_EN = "Tell me about {C}."
ARENA_KO = "{C}에 대해 알려 주세요."

# Multiple-choice clozes: (context prefix, choice template), per relation. Each is
# the beginning of the first training template of that relation, so a model is
# asked about a fact it read, in a sentence shape it read.
CLOZE_EN: dict[str, tuple[str, str]] = {
    "capital": ("The capital of {C} is", " {cap}"),
    "river": ("The longest river in {C} is the", " {R}"),
    "dish": ("The national dish of {C} is", " {D}"),
    "founder": ("The founder of {C} was", " {F}"),
}
# Korean choices keep the copula and full stop: byte-level BPE merges a name with
# its particle, so a bare name would be cut in a way the model never saw.
CLOZE_KO: dict[str, tuple[str, str]] = {
    "capital": ("{C}의 수도는", " {cap}이다."),
    "river": ("{C}에서 가장 긴 강은", " {R}강이다."),
    "dish": ("{C}의 대표 음식은", " {D}이다."),
    "founder": ("{C}의 건국자는", " {F}이다."),
}
