"""A team in a real browser: it signs in, uploads its model through the team page and reads
its intake result; it cannot open another team's results before they are published; its
page (jobs included) reads on a phone."""

from __future__ import annotations

import pytest

from gauntlet.web.app import create_app
from tests.web.browser_fixtures import DESKTOP, PHONE, needs_browser, serve_app
from tests.web.tiny_models import tiny_model

pytestmark = needs_browser


def _overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth") - page.viewport_size["width"]


@pytest.fixture
def site(world, tmp_path):
    app = create_app(world.url, clock=world.clock, arena_seed=7, workspace=tmp_path / "workspace")
    yield from serve_app(app)


@pytest.fixture
def draft_site(draft_world, tmp_path):
    yield from serve_app(create_app(draft_world.url, clock=draft_world.clock, arena_seed=7))


def _sign_in(page, base: str, token: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=token]", token)
    with page.expect_navigation():
        page.locator("form[action='/login'] button[type=submit]").click()


def test_a_team_uploads_its_model_and_reads_the_intake_result(world, site, browser, shots, tmp_path):
    files = tiny_model(tmp_path / "k-exaone")
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    _sign_in(page, site, world.tokens["lg"])
    assert page.url.endswith("/team")
    page.select_option("#upload-round", "second")
    page.set_input_files("#files", [str(tmp_path / "k-exaone" / name) for name in files])
    with page.expect_navigation():
        page.locator("form[action='/team/upload'] button[type=submit]").click()
    result = page.locator("table.intakes tbody tr").first.inner_text()
    assert "accepted" in result and "apache-2.0" in result and "allowed" in result, result
    page.screenshot(path=str(shots / "team-dashboard-desktop.png"), full_page=True)

    # A minute later, a folder holding pickle weights is refused with the reason.
    world.clock.advance(minutes=1)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text("{}")
    (tmp_path / "bad" / "pytorch_model.bin").write_bytes(b"\x80\x04K\x01.")
    page.set_input_files("#files", [str(tmp_path / "bad" / "config.json"), str(tmp_path / "bad" / "pytorch_model.bin")])
    page.locator("form[action='/team/upload'] button[type=submit]").click()
    page.wait_for_load_state()
    assert "pickle" in page.inner_text("main")
    page.goto(f"{site}/team")
    assert "refused" in page.locator("table.intakes tbody tr").first.inner_text()
    context.close()


def test_the_team_page_reads_on_a_phone(world, site, browser, shots):
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    page = context.new_page()
    _sign_in(page, site, world.tokens["lg"])
    assert _overflow(page) <= 0, "nothing on the team page is hidden sideways"
    jobs = page.locator("table.jobs")
    box = jobs.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 0.5, box
    for row in jobs.locator("tbody tr").all():  # each job's state and progress are on screen
        for cell in row.locator("td:visible").all():
            b = cell.bounding_box()
            assert b["x"] + b["width"] <= PHONE["width"] + 0.5
    assert "running" in jobs.inner_text() and "3/9" in jobs.inner_text()
    page.screenshot(path=str(shots / "team-dashboard-phone.png"), full_page=True)
    context.close()


def test_a_team_cannot_open_another_teams_unpublished_results(draft_world, draft_site, browser):
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    _sign_in(page, draft_site, draft_world.tokens["skt"])
    response = page.goto(f"{draft_site}/teams/lg/rounds/first")
    assert response.status == 403
    assert "84.0" not in page.inner_text("body")
    own = page.goto(f"{draft_site}/teams/skt/rounds/first")
    assert own.status == 200 and "71.0" in page.inner_text("main")
    context.close()
