"""The case inbox and a case page in Chromium at desktop (1440 px) and phone (390 px) width: both fit the window
(no sideways scrolling), long titles and comments wrap, and a refused form shows its reason beside the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, expect

from cem.db.session import Database
from tests.browser.conftest import log_in
from tests.cases.web_world import COMMENT, build_world
from tests.conftest import PASSWORD, Workspace

pytestmark = pytest.mark.browser

WIDTHS = {"desktop": 1440, "phone": 390}


def _fits(page: Page, folder: Path, name: str) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{name}: the page is {overflow}px wider than the window"
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("device", list(WIDTHS))
def test_inbox_and_case_fit_the_window(
    device: str,
    browser: Browser,
    live_server: str,
    db: Database,
    workspace: Workspace,
    admin_api: TestClient,
    artifacts_dir: Path,
) -> None:
    world = build_world(db, workspace, admin_api)
    long_title = "Refund " + "requested-again-and-again-" * 8 + " still missing after three weeks of waiting"
    admin_api.patch(f"/api/v1/cases/{world.cases['urgent']}", json={"title": long_title})
    folder = artifacts_dir / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(base_url=live_server, viewport={"width": WIDTHS[device], "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        log_in(page, "admin@acme.example", PASSWORD)
        page.goto("/cases")
        expect(page.get_by_test_id("case-row")).to_have_count(4)
        expect(page.get_by_test_id("case-row").first.get_by_test_id("case-title")).to_have_text(long_title)
        _fits(page, folder, f"{device}-cases-inbox")

        page.goto(f"/cases/{world.cases['triggered']}")
        expect(page.get_by_test_id("trigger")).to_contain_text(COMMENT)
        close = page.get_by_test_id("form-close")
        close.get_by_role("button", name="Close case").click()
        expect(page.get_by_test_id("error-closed-contacted")).to_have_text("choose yes or no")
        expect(page.get_by_test_id("error-closed-root_cause")).to_have_text("this field is required")
        _fits(page, folder, f"{device}-case")
    finally:
        context.close()
