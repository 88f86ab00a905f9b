"""Switching languages in a real browser (Debian's Chromium) at a phone's width: the
leaderboard starts in the browser's language, the header's switch turns the same page
into the other language, and the choice stays as the reader moves on.  Screenshots of
the leaderboard in both languages go to `shots`."""

from __future__ import annotations

from tests.web.browser_fixtures import PHONE, needs_browser

pytestmark = needs_browser


def _overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth") - page.viewport_size["width"]


def _headers(page) -> set[str]:
    return {h.strip().lower() for h in page.locator("table").first.locator("th").all_inner_texts() if h.strip()}


def test_a_reader_on_a_phone_switches_the_leaderboard_between_korean_and_english(world, served, browser, shots):
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                                  locale="ko-KR")
    page = context.new_page()
    assert page.goto(served + "/").status == 200
    assert page.get_attribute("html", "lang") == "ko"
    assert {"총점", "생존 확률", "결과"} <= _headers(page), "a Korean browser reads the ranking in Korean"
    assert page.locator("text=진출").first.is_visible()
    assert _overflow(page) <= 0, "the Korean ranking fits a phone"
    page.screenshot(path=str(shots / "leaderboard-phone-ko.png"), full_page=True)

    with page.expect_navigation():
        page.locator("header a.lang").tap()
    assert page.url.endswith("/?lang=en") and page.get_attribute("html", "lang") == "en"
    assert {"total", "p(survive)", "outcome"} <= _headers(page)
    assert _overflow(page) <= 0, "the English ranking fits a phone"
    page.screenshot(path=str(shots / "leaderboard-phone-en.png"), full_page=True)

    # The choice is remembered: the next page is English although the browser asks for Korean.
    page.goto(f"{served}/rounds/{world.round}")
    assert page.get_attribute("html", "lang") == "en" and page.locator("h2", has_text="Why teams are out").count() == 1
    with page.expect_navigation():
        page.locator("header a.lang").tap()
    assert page.get_attribute("html", "lang") == "ko" and f"/rounds/{world.round}" in page.url
    assert page.locator("h2", has_text="탈락 사유").count() == 1
    context.close()
