"""Text explorer in a real browser: topics with sparklines, drill into one, rename it in the topic editor."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from cem.db.session import Database
from cem.text.topics import runs
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, Workspace
from tests.text.topics.conftest import Corpus, airline, store_texts  # noqa: F401  (airline is a fixture)

pytestmark = pytest.mark.browser


def test_open_drill_down_and_rename_a_topic(
    page: Page,
    shot: Callable[[str], Path],
    db: Database,
    workspace: Workspace,
    airline: Corpus,  # noqa: F811
) -> None:
    store_texts(db, workspace.id, airline.texts, sentiments=airline.sentiments, dates=airline.dates)
    with db.unit_of_work() as session:
        runs.discover_workspace(session, workspace.id, seed=0, min_topic_size=8, embed=airline.embed())
    log_in(page, workspace.user_email("agent"), PASSWORD)
    page.goto("/text")
    rows = page.get_by_test_id("topic-row")
    expect(rows.first).to_be_visible()
    assert rows.count() >= 4
    expect(page.locator(".sparkline svg").first).to_be_visible()  # ECharts drew the trend (local static file)
    shot("explorer")

    first = page.get_by_test_id("topic-link").first
    label = first.inner_text()
    first.click()
    expect(page.get_by_test_id("topic-label")).to_have_text(label)
    expect(page.get_by_test_id("verbatim").first).to_be_visible()
    expect(page.locator("[data-testid=verbatim] mark").first).to_be_visible()  # topic terms highlighted
    expect(page.get_by_test_id("verbatim-sentiment").first).to_be_visible()

    page.get_by_test_id("rename-input").fill("Delays and waiting")
    page.get_by_test_id("rename-submit").click()
    expect(page.get_by_test_id("topic-label")).to_have_text("Delays and waiting")
    shot("renamed")
    page.goto("/text")
    expect(page.get_by_test_id("topic-link").filter(has_text="Delays and waiting")).to_be_visible()
