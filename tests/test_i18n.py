"""The catalogue: every message the code and templates ask for has a Korean translation,
and the Korean catalogue holds nothing the code no longer asks for.

Messages are found the way a translator's tools find them: Babel's extractors
(Python, and Jinja2 for the templates) over `src/gauntlet`.  A new label written
without its Korean fails here, naming it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from gauntlet import i18n

PACKAGE = Path(i18n.__file__).parent
with (Path(__file__).parents[1] / "babel.cfg").open(encoding="utf-8") as cfg:
    METHODS, OPTIONS = parse_mapping_cfg(cfg)  # the mapping translators' pybabel uses
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}


def extracted() -> dict[str, list[str]]:
    """msgid (a plural message: its singular) -> where it is used."""
    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            PACKAGE, METHODS, OPTIONS, keywords=KEYWORDS, strip_comment_tags=True):
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            found.setdefault(msgid, []).append(f"{filename}:{lineno}")
    return found


@pytest.fixture(scope="module")
def used() -> dict[str, list[str]]:
    return extracted()


@pytest.fixture(scope="module", params=[code for code in i18n.LANGUAGES if code != i18n.SOURCE_LANGUAGE])
def catalogue(request):
    with i18n.catalogue_path(request.param).open("rb") as po:
        return read_po(po, locale=request.param)


def test_the_extractors_see_the_templates_and_the_python_code(used):
    places = {where.split(":")[0] for spots in used.values() for where in spots}
    assert any(p.endswith("web/templates/ranking_table.html") for p in places)
    assert any(p.endswith("provenance/templates/audit_report.html") for p in places)
    assert any(p.endswith("web/organisers.py") for p in places)
    assert "Outcome" in used and "%(num)s team registered." in used


def test_every_message_has_a_translation(used, catalogue):
    missing = [f"{msgid!r} ({used[msgid][0]})" for msgid in sorted(used)
               if catalogue.get(msgid) is None or not _translation(catalogue.get(msgid))]
    assert not missing, f"{len(missing)} messages have no {catalogue.locale} translation: " + "; ".join(missing[:20])


def test_no_translation_is_stale(used, catalogue):
    stale = sorted(_singular(m.id) for m in catalogue if m.id and _singular(m.id) not in used)
    assert not stale, f"in the catalogue but used nowhere (delete them, or the code lost a label): {stale[:20]}"


def test_placeholders_survive_translation(catalogue):
    import re

    named = re.compile(r"%\((\w+)\)s|%%")
    wrong = [m.id for m in catalogue if m.id and any(
        sorted(set(named.findall(source))) != sorted(set(named.findall(target)))
        for source in _forms(m.id) for target in _forms(m.string))]
    assert not wrong, f"translations that lose or invent a placeholder: {wrong}"


def test_the_language_switch_changes_what_gettext_returns():
    with i18n.using("ko"):
        assert i18n._("Outcome") == "결과" and i18n.current() == "ko"
        with i18n.using("en"):
            assert i18n._("Outcome") == "Outcome"
        assert i18n.ngettext("%(num)s file", "%(num)s files", 3) == "파일 3개"
        assert i18n.label("performance") == "성적" and i18n.label("a-code-we-never-named") == "a-code-we-never-named"
    assert i18n.current() == i18n.SOURCE_LANGUAGE
    with i18n.using("xx"):  # not a language we speak: nothing changes, nothing fails
        assert i18n._("Outcome") == "Outcome"


def _translation(message) -> bool:
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return all(s and s.strip() for s in strings)


def _singular(msgid) -> str:
    return msgid[0] if isinstance(msgid, tuple) else msgid


def _forms(text) -> tuple[str, ...]:
    return tuple(text) if isinstance(text, (tuple, list)) else (text or "",)


@pytest.mark.parametrize("code", [code for code in i18n.LANGUAGES if code != i18n.SOURCE_LANGUAGE])
def test_each_message_is_in_the_catalogue_once(code):
    """Babel's reader keeps the last of two entries for one msgid without a word, so a
    catalogue merged by hand could silently change a translation: each msgid appears once."""
    import re
    from collections import Counter

    text = i18n.catalogue_path(code).read_text(encoding="utf-8")
    entries = Counter(re.findall(r'^msgid ((?:".*"\n)+)', text, re.M))
    assert not [m for m, n in entries.items() if n > 1 and m != '""\n']
