"""The home page in Chromium on a seeded program, at desktop (1440) and phone (390) width: charts drawn, nothing
wider than the window, screenshots saved for a person to look at."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from cem.feedback import service as feedback_service
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, Workspace
from tests.web.helpers import feedback_in
from tests.web.home_seed import seed_program, seed_topics

pytestmark = pytest.mark.browser


@pytest.fixture
def sized(browser: Browser, live_server: str) -> Iterator[dict[str, Page]]:
    pages = {}
    contexts = []
    for name, width, height in (("desktop", 1440, 900), ("phone", 390, 844)):
        context = browser.new_context(base_url=live_server, viewport={"width": width, "height": height})
        context.set_default_timeout(10_000)
        contexts.append(context)
        pages[name] = context.new_page()
    yield pages
    for context in contexts:
        context.close()


def test_home_at_desktop_and_phone_width(sized: dict[str, Page], workspace: Workspace, artifacts_dir: Path) -> None:
    seed_program(workspace)
    seed_topics(workspace)
    with workspace.db.unit_of_work() as session:  # one newer answer: shown beside the tile, never instead
        late = feedback_in(None, "survey", "relationship", "late", "nps", "nps", 0, datetime(2026, 12, 3, tzinfo=UTC))
        feedback_service.ingest_feedback(session, actor=workspace.principal(), records=[late])
    r = workspace.client.post("/api/v1/cases", json={"title": "Parcel lost"}, headers=workspace.headers("admin"))
    assert r.status_code == 201, r.text
    folder = artifacts_dir / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    for name, page in sized.items():
        log_in(page, "admin@acme.example", PASSWORD)
        expect(page.get_by_test_id("home-tile-nps").get_by_test_id("home-tile-period")).to_have_text("Mar 2025")
        expect(page.get_by_test_id("home-tile-nps").get_by_test_id("home-tile-thin")).to_contain_text("Dec 2026")
        expect(page.locator("#home-trend-nps")).to_have_attribute("data-rendered", "1")
        expect(page.get_by_test_id("topic-rising")).to_have_count(1)
        expect(page.get_by_test_id("home-cases-open")).to_have_text("1")
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{name}: the page is {overflow}px wider than the window"
        page.screenshot(path=str(folder / f"{name}-home.png"), full_page=True)
