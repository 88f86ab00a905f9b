"""The web app in a real browser: Debian's Chromium driven by Playwright, the app served
by uvicorn on loopback over the same populated store as the other web tests.

Each test looks at a page the way a person would: at a phone's width (390 px) and at a
desktop's, what is on screen, whether it fits, and what a click does. Screenshots of the
main pages go to `$GAUNTLET_SCREENSHOTS` (default: the test's temporary folder), which is
how the README's pictures are made.
"""

from __future__ import annotations


from tests.web.browser_fixtures import DESKTOP, PHONE, needs_browser

pytestmark = needs_browser


def _overflow(page) -> int:
    """How many CSS pixels the page is wider than its viewport (0: nothing hidden sideways)."""
    # Against the device's width, not window.innerWidth: a mobile browser widens its layout
    # viewport to fit content that overflows, which would hide the very overflow we look for.
    return page.evaluate("document.documentElement.scrollWidth") - page.viewport_size["width"]


def test_a_voter_on_a_phone_votes_blind_and_then_sees_both_models(world, served, browser, shots):
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(f"{served}/arena")
    answers = page.locator(".answer")
    assert answers.count() == 2
    shown = page.inner_text("main")
    assert world.leaks(shown) == [], "nothing on the battle page names a model"
    assert "\ufffd" not in shown, "answers are shown whole, never cut inside a character"
    assert _overflow(page) <= 0, "the battle fits a phone's width"
    # The two answers stack on a phone: B starts below A, not beside it.
    box_a, box_b = answers.nth(0).bounding_box(), answers.nth(1).bounding_box()
    assert box_b["y"] >= box_a["y"] + box_a["height"]
    page.screenshot(path=str(shots / "arena-phone.png"), full_page=True)

    with page.expect_navigation():
        page.locator("button[name=choice][value=a]").tap()
    revealed = page.inner_text("main")
    named = {key for key in world.teams if key in world.leaks(revealed)}
    names = {world.teams[key][0] for key in named}
    assert len(named) == 2 and all(name in revealed for name in names), "the reveal names both models"
    assert _overflow(page) <= 0
    page.screenshot(path=str(shots / "arena-reveal-phone.png"), full_page=True)
    context.close()


def test_the_public_pages_render_for_a_reader_on_desktop(world, served, browser, shots):
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    for path, name in (("/", "leaderboard"), (f"/rounds/{world.round}", "round"), ("/teams/lg", "team")):
        response = page.goto(served + path)
        assert response.status == 200, path
        assert page.locator("h1").count() >= 1, path
        assert "\ufffd" not in page.inner_text("body"), path
        page.screenshot(path=str(shots / f"{name}-desktop.png"), full_page=True)
    context.close()


def test_the_leaderboard_reads_on_a_phone(world, served, browser, shots):
    """At 390 px nothing is hidden sideways, and every team's total, chance of surviving and
    outcome are on screen (the components are on each team's page)."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    page = context.new_page()
    assert page.goto(served + "/").status == 200
    assert _overflow(page) <= 0
    ranking = page.locator("table").first
    headers = [h.strip().lower() for h in ranking.locator("th").all_inner_texts() if h.strip()]
    assert {"total", "p(survive)", "outcome"} <= set(headers)
    for cell in ranking.locator("tbody tr td:visible").all():
        box = cell.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 0.5
    page.screenshot(path=str(shots / "leaderboard-phone.png"), full_page=True)
    context.close()
