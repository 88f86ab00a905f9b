"""An organiser runs a round from the console in a real browser: signs in, closes the round,
runs its audit, evaluation and arena answers (the job table refreshes itself), drafts the
decision, tries a what-if beside it, publishes — and the public leaderboard changes."""

from __future__ import annotations

import shutil

import pytest

from gauntlet.web.app import create_app
from tests.web.browser_fixtures import DESKTOP, needs_browser, serve_app

pytestmark = needs_browser


@pytest.fixture(scope="module")
def _stage_template(tmp_path_factory):
    from tests.web.stage_world import build

    return build(tmp_path_factory.mktemp("browser-stage-world"))


@pytest.fixture
def stage_site(_stage_template, tmp_path):
    ws = tmp_path / "workspace"
    shutil.copytree(_stage_template.workspace, ws)
    app = create_app(f"sqlite:///{(ws / 'gauntlet.sqlite').resolve()}", clock=_stage_template.clock, workspace=ws,
                     stage_workers=0)
    for base in serve_app(app):
        yield base, _stage_template.tokens["organiser"], app


def _run_stage(page, round_key: str, stage: str, app) -> None:
    with page.expect_navigation():
        page.click(f"form[action='/organiser/rounds/{round_key}/stages/{stage}'] button[type=submit]")
    # The job board polls /api/organiser/jobs and redraws without a reload (data-busy is the script's mark).
    url = page.url
    page.wait_for_selector(f"#stage-runs .stage-run.done[data-stage='{stage}']", timeout=120_000)
    page.wait_for_selector("#job-board[data-busy=no]", timeout=30_000)
    assert page.url == url


def test_an_organiser_runs_a_round_from_the_console_and_publishes_it(stage_site, browser, shots):
    base, token, app = stage_site
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    public = context.new_page()
    public.goto(base + "/")
    before = public.inner_text("main")
    assert "decision #" not in before and public.locator("main table th:has-text('P(survive)')").count() == 0

    page.goto(base + "/login")
    page.fill("input[name=token]", token)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    page.goto(base + "/organiser")
    card = page.locator("#round-first")
    assert card.get_attribute("data-phase") == "due"
    with page.expect_navigation():
        card.locator("form[action$='/close'] button").click()
    assert page.locator("#round-first").get_attribute("data-phase") == "closed"

    page.fill("#tokens-first", "4")
    for stage in ("audit", "evaluate", "arena"):
        _run_stage(page, "first", stage, app)
    assert page.locator("#job-rows tr.job.failed").count() == 0
    assert page.locator("#job-rows tr.job.done").count() >= 3 * 3
    page.reload()  # the round's arena card, now open, is drawn by the server
    assert page.locator("#round-first form[action$='/arena/close']").count() == 1
    page.screenshot(path=str(shots / "organiser-console-desktop.png"), full_page=True)

    with page.expect_navigation():
        page.click("form[action='/organiser/rounds/first/decide'] button[type=submit]")
    assert "/organiser/rounds/first/draft" in page.url
    assert page.locator("#draft-table tbody tr").count() == 3
    page.fill("#eliminate_lowest", "2")
    with page.expect_navigation():
        page.click("#what-if button[type=submit]")
    assert page.locator("#what-if-result").is_visible()
    assert page.locator("#draft-table th.whatif").count() == 4, "the what-if stands beside the draft"
    assert page.locator("#draft-table tr.changed").count() >= 1
    page.screenshot(path=str(shots / "organiser-what-if-desktop.png"), full_page=True)

    with page.expect_navigation():
        page.click("#publish")
    assert page.url.startswith(f"{base}/rounds/first")
    public.reload()
    board = public.inner_text("main")
    assert "Round first · decision #1" in board
    assert public.locator("main table th:has-text('P(survive)')").count() == 1, "the ranking is public now"
    public.screenshot(path=str(shots / "leaderboard-after-organiser-publish.png"), full_page=True)
    context.close()
