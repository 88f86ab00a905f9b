"""Invented proper names, spelled both in Latin letters and in Hangul.

Every name is built from syllables whose Korean spelling is composed from jamo
(Unicode's Hangul syllable arithmetic), so the English and Korean corpora name the
same entities consistently, the way a Korean text transliterates a foreign name.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Latin onset -> index of the Hangul initial consonant (ㄱ=0 ... ㅎ=18).
_ONSETS = {
    "k": 15, "g": 0, "n": 2, "d": 3, "r": 5, "l": 5, "m": 6, "b": 7, "s": 9,
    "": 11, "j": 12, "z": 12, "ch": 14, "t": 16, "p": 17, "h": 18, "v": 7,
}
# Latin vowel -> index of the Hangul medial vowel.
_VOWELS = {"a": 0, "e": 5, "i": 20, "o": 8, "u": 13, "eo": 4, "ae": 1, "yo": 12}
# Latin coda -> index of the Hangul final consonant (0 = none).
_CODAS = {"": 0, "n": 4, "l": 8, "m": 16, "k": 1, "ng": 21}

_HANGUL_BASE = 0xAC00


def _hangul(initial: int, medial: int, final: int = 0) -> str:
    return chr(_HANGUL_BASE + (initial * 21 + medial) * 28 + final)


def has_final_consonant(korean: str) -> bool:
    """Whether the last syllable ends in a consonant (batchim): Korean particles
    depend on it (수도는 / 강은)."""
    last = korean[-1]
    if not ("\uac00" <= last <= "\ud7a3"):
        return False
    return (ord(last) - _HANGUL_BASE) % 28 != 0


def particle(korean: str, with_final: str, without_final: str) -> str:
    """`korean` followed by the particle form its last syllable calls for."""
    return korean + (with_final if has_final_consonant(korean) else without_final)


@dataclass(frozen=True)
class Name:
    """One invented name in both scripts."""

    en: str
    ko: str


# Word endings that make a country name look like one ("Zorbia", "Kamestan").
_COUNTRY_ENDINGS = (
    ("ria", "리아"), ("nia", "니아"), ("via", "비아"), ("stan", "스탄"),
    ("land", "란드"), ("dor", "도르"), ("mark", "마르크"),
)


class NameMaker:
    """Draws unique names from a seeded generator; no two entities share a name in
    either script, so a benchmark answer is never ambiguous."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._used_en: set[str] = set()
        self._used_ko: set[str] = set()
        self._onsets = sorted(_ONSETS)
        self._vowels = sorted(_VOWELS)
        self._codas = sorted(_CODAS)

    def _syllable(self, *, coda_chance: float) -> tuple[str, str]:
        onset = self._onsets[self._rng.integers(len(self._onsets))]
        vowel = self._vowels[self._rng.integers(len(self._vowels))]
        coda = ""
        if self._rng.random() < coda_chance:
            coda = self._codas[1 + self._rng.integers(len(self._codas) - 1)]
        return onset + vowel + coda, _hangul(_ONSETS[onset], _VOWELS[vowel], _CODAS[coda])

    def _fresh(self, build) -> Name:
        for _ in range(10_000):
            en, ko = build()
            en = en[0].upper() + en[1:]
            if en not in self._used_en and ko not in self._used_ko:
                self._used_en.add(en)
                self._used_ko.add(ko)
                return Name(en, ko)
        raise RuntimeError("name space exhausted; lower the world's scale")

    def word(self, syllables: int, *, coda_chance: float = 0.3) -> Name:
        def build():
            parts = [self._syllable(coda_chance=coda_chance) for _ in range(syllables)]
            return "".join(p[0] for p in parts), "".join(p[1] for p in parts)

        return self._fresh(build)

    def country(self) -> Name:
        def build():
            parts = [self._syllable(coda_chance=0.0) for _ in range(2)]
            ending = _COUNTRY_ENDINGS[self._rng.integers(len(_COUNTRY_ENDINGS))]
            parts.append(ending)
            return "".join(p[0] for p in parts), "".join(p[1] for p in parts)

        return self._fresh(build)

    def person(self) -> Name:
        given = self.word(2, coda_chance=0.2)
        family = self.word(2, coda_chance=0.5)
        return Name(f"{given.en} {family.en}", f"{given.ko} {family.ko}")
