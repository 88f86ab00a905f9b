"""The languages Gauntlet speaks: one gettext catalogue, English message ids,
Korean translations in `locale/ko/LC_MESSAGES/messages.po`.

The current language is a context variable: the web app sets it for each
request (`gauntlet.web.language`), report writers for the report they write
(`with using("ko"): ...`).  Outside both it is English, the catalogue's source
language, so domain code and the command line read as they always did.

The .po file is read with Babel and compiled to a .mo in memory the first time a
language is used, so a fresh clone needs no build step.  To add a language, add
its code to `LANGUAGES` and a `locale/<code>/LC_MESSAGES/messages.po` (start
from the Korean one: `pybabel init -l <code>` on an extracted .pot), then run
`tests/test_i18n.py`, which lists every message still without a translation.
"""

from __future__ import annotations

import gettext as gettext_module
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Iterator

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LANGUAGES = ("ko", "en")  # the first is a challenge's default when its spec names none
SOURCE_LANGUAGE = "en"  # message ids are English: an English page needs no catalogue
LANGUAGE_NAMES = {"ko": "한국어", "en": "English"}  # each in its own language (the switch's labels)
LOCALE = Path(__file__).parent / "locale"

_current: ContextVar[str] = ContextVar("gauntlet_language", default=SOURCE_LANGUAGE)


def catalogue_path(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / "messages.po"


@lru_cache(maxsize=None)
def translations(language: str) -> gettext_module.NullTranslations:
    if language == SOURCE_LANGUAGE or language not in LANGUAGES:
        return gettext_module.NullTranslations()
    with catalogue_path(language).open("rb") as po:
        catalogue = read_po(po, locale=language)
    compiled = BytesIO()
    write_mo(compiled, catalogue)  # fuzzy entries are left out, as msgfmt does
    compiled.seek(0)
    return gettext_module.GNUTranslations(compiled)


def language_of(value: str | None) -> str | None:
    """`value` as one of `LANGUAGES` ("ko", "KO", "ko-KR" -> "ko"), or None."""
    if not value:
        return None
    primary = value.strip().lower().replace("_", "-").split("-")[0]
    return primary if primary in LANGUAGES else None


def current() -> str:
    return _current.get()


@contextmanager
def using(language: str | None) -> Iterator[str]:
    """Speak `language` inside the block (None or one we do not speak: keep the current one)."""
    chosen = language_of(language) or current()
    token = _current.set(chosen)
    try:
        yield chosen
    finally:
        _current.reset(token)


def gettext(message: str, **variables) -> str:
    """`message` in the current language; `%(name)s` placeholders filled from `variables`."""
    text = translations(current()).gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables) -> str:
    text = translations(current()).ngettext(singular, plural, n)
    return text % {"num": n, **variables}


def localized(**texts: str) -> str:
    """The current language's text of something a spec gives in several (`ko=..., en=...`)."""
    return texts.get(current()) or texts.get(SOURCE_LANGUAGE) or next(iter(texts.values()), "")


def install(env) -> None:
    """Give a Jinja environment the catalogue: `{{ _("Round %(n)s", n=...) }}` (new-style
    gettext: always %-formatted, so a literal % is written %%), `ngettext`, `localized`,
    and the `label`/`role` filters for recorded codes."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(
        gettext=lambda message: translations(current()).gettext(message),
        ngettext=lambda singular, plural, n: translations(current()).ngettext(singular, plural, n),
        newstyle=True,
    )
    env.globals.update(localized=localized, current_language=current)
    env.filters["label"] = label
    env.filters["role"] = lambda code: label(code, ROLES)
    env.filters["stage"] = lambda code: label(code, STAGES)
    env.filters["outcome"] = outcome


def N_(message: str) -> str:
    """Marks a message for the catalogue where it is defined; translate it where it is shown."""
    return message


_ = gettext

# Words the pages show for codes the domain records (outcomes, verdicts, states, flags):
# the codes stay in the record and the JSON API; people read these.
LABELS = {
    # why a team is out (gauntlet.domain.decision)
    "performance": N_("performance"), "independence": N_("independence"), "eligibility": N_("eligibility"),
    "contamination": N_("contamination"),
    # independence audit verdicts
    "derived": N_("derived"), "independent": N_("independent"), "inconclusive": N_("inconclusive"),
    # training-run chains and their step 0
    "consistent": N_("consistent"), "broken": N_("broken"), "fresh": N_("fresh"), "not-fresh": N_("not fresh"),
    "unknown": N_("unknown"),
    # jobs
    "queued": N_("queued"), "running": N_("running"), "done": N_("done"), "failed": N_("failed"),
    # appeals
    "pending": N_("pending"), "upheld": N_("upheld"), "rejected": N_("rejected"),
    # organisers' flags
    "audit": N_("inconclusive audit"), "close": N_("too close to call"), "agreement": N_("low agreement"),
    "voter": N_("anomalous voter"),
    # why an arena vote is not counted (gauntlet.ratings.vote_quality; the record keeps the detail)
    "identity_revealed": N_("an answer named its model"), "duplicate": N_("duplicate vote"),
    "voter_daily": N_("over the daily limit"), "daily_cap": N_("over the daily limit"),
    "address_daily": N_("over this address's daily limit"), "address_cap": N_("over this address's daily limit"),
    "network_daily": N_("over this network's daily limit"), "network_cap": N_("over this network's daily limit"),
    "rate": N_("too many votes in one second"), "anomalous_voter": N_("anomalous voting"),
    # components of a total
    "benchmark": N_("benchmark"), "expert": N_("expert"), "user": N_("user"), "total": N_("total"),
    # the arena's states
    "open": N_("taking votes"), "closed": N_("closed to votes"),
}
# A job's kind, and the stage that records it (`gauntlet.rounds.stage_runs`), by its code.
STAGES = {"fingerprint": N_("fingerprint"), "audit": N_("independence audit"), "evaluate": N_("benchmarks"),
          "arena": N_("arena answers"), "own-work": N_("own-work evidence")}
ROLES = {"team": N_("team"), "expert": N_("expert"), "organiser": N_("organiser"), "voter": N_("voter")}


def label(code: object, words: dict[str, str] = LABELS) -> str:
    """What a person reads for a recorded code (a vote's reason by its code, before the ':');
    a code we have no word for is shown as is."""
    text = str(code if code is not None else "")
    if text not in words and ":" in text:
        text = text.split(":")[0]
    return gettext(words[text]) if text in words else text


def outcome(code: object) -> str:
    """A team's fate as `gauntlet.domain.whatif.outcome_of` records it (winner, advancing,
    "out (REASON)"), in words."""
    text = str(code if code is not None else "")
    if text == "winner":
        return gettext("winner")
    if text == "advancing":
        return gettext("advances")
    if text.startswith("out (") and text.endswith(")"):
        return gettext("out: %(reason)s", reason=label(text[len("out ("):-1]))
    return label(text)
