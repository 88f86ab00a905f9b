"""The public record and an expert's review in a real browser (Debian's Chromium through
Playwright): the leaderboard's plot at a phone's width, the audit evidence, and an expert who
saves a draft, comes back to it, and submits.  Screenshots go to the `shots` folder."""

from __future__ import annotations

from tests.web.browser_fixtures import DESKTOP, PHONE, needs_browser
from tests.web.test_public_record import _add_full_report

pytestmark = needs_browser


def _overflow(page) -> int:
    """How many CSS pixels the page is wider than its viewport (0: nothing hidden sideways)."""
    return page.evaluate("document.documentElement.scrollWidth") - page.viewport_size["width"]


def test_the_leaderboard_plot_reads_on_a_phone(world, served, browser, shots):
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    page = context.new_page()
    assert page.goto(served + "/").status == 200
    plot = page.locator("#totals-plot svg")
    assert plot.count() == 1
    box = plot.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] and box["width"] >= 300
    # The team names on the plot are drawn at a size a phone can read.
    label = page.locator("#totals-plot svg text", has_text="K-EXAONE").first
    assert label.bounding_box()["height"] >= 9
    assert _overflow(page) <= 0
    plot.screenshot(path=str(shots / "leaderboard-plot-phone.png"))
    context.close()


def test_the_round_page_leads_to_the_audit_evidence(world, served, browser, shots):
    _add_full_report(world)
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    assert page.goto(f"{served}/rounds/{world.round}").status == 200
    assert page.locator("#bundle-link").count() == 1 and page.locator("#ledger-link").count() == 1
    page.locator("#audits").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "round-audits-desktop.png"))
    with page.expect_navigation():
        page.locator("#audits ~ table a[href*='/audits/naver']").click()
    assert "/rounds/first/audits/naver" in page.url
    evidence = page.locator(".evidence")
    assert evidence.locator("svg").count() >= 1, "the per-module plot"
    assert "layers.0.attention" in evidence.inner_text()
    page.screenshot(path=str(shots / "audit-evidence-desktop.png"))
    phone = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True).new_page()
    assert phone.goto(f"{served}/rounds/first/audits/naver").status == 200
    assert _overflow(phone) <= 0, "the evidence scrolls inside its own box, not the page"
    phone.context.close()
    assert page.goto(f"{served}/teams/lg").status == 200
    assert page.locator("#rounds-plot svg").count() == 1
    page.screenshot(path=str(shots / "team-desktop.png"), full_page=True)
    context.close()


def test_an_expert_saves_a_draft_comes_back_and_submits(world, served, browser, shots):
    entry = next(e for e in world.store.panel_rounds(world.slug)[0]["entries"] if e["team"] == "lg")
    reviewer, code = entry["reviewers"][0], entry["code"]
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(f"{served}/login")
    page.fill("input[name=token]", world.tokens[reviewer])
    with page.expect_navigation():
        page.locator("form button[type=submit]").last.click()
    page.goto(f"{served}/expert/reviews/{world.round}/{code}")
    page.check("input[name=score_korean][value='4']")
    page.fill("textarea[name=comment]", "Fluent so far.")
    with page.expect_navigation():
        page.locator("button[value=draft]").click()  # a draft needs no score for every criterion
    assert page.locator("#draft-saved").count() == 1
    page.goto(f"{served}/expert")
    assert "draft" in page.inner_text("main")
    page.goto(f"{served}/expert/reviews/{world.round}/{code}")
    assert page.is_checked("input[name=score_korean][value='4']")
    assert page.input_value("textarea[name=comment]") == "Fluent so far."
    page.screenshot(path=str(shots / "expert-review-draft.png"), full_page=True)
    lg_reviews = next(e for e in world.store.panel_rounds(world.slug)[0]["entries"] if e["team"] == "lg")["reviews"]
    assert lg_reviews == [], "a draft is not counted"
    for key, value in (("reasoning", "3"), ("safety", "5"), ("usefulness", "4")):
        page.check(f"input[name=score_{key}][value='{value}']")
    with page.expect_navigation():
        page.locator("button[value=submit]").click()
    assert page.url.endswith("/expert")
    reviews = next(e for e in world.store.panel_rounds(world.slug)[0]["entries"] if e["team"] == "lg")["reviews"]
    assert reviews == [{"expert": reviewer, "scores": {"korean": 4.0, "reasoning": 3.0, "safety": 5.0,
                                                       "usefulness": 4.0}}]
    page.goto(f"{served}/expert/reviews/{world.round}/{code}")
    assert "final" in page.inner_text("main") and page.locator("button[value=draft]").count() == 0
    context.close()
