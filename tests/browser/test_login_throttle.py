"""In Chromium: a throttled login shows a readable message on the login page, not an error dump."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from playwright.sync_api import Page, expect

from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, Workspace

pytestmark = pytest.mark.browser


def test_a_throttled_login_reads_as_a_message_on_the_login_page(
    page: Page, workspace: Workspace, app: FastAPI, live_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app.state.settings, "login_max_failures_per_account", 2)
    for _ in range(2):
        log_in(page, "analyst@acme.example", "not-the-password")
        expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")
    with page.expect_response(lambda r: r.url.endswith("/login") and r.request.method == "POST") as answer:
        log_in(page, "analyst@acme.example", PASSWORD)
    assert answer.value.status == 429 and int(answer.value.headers["retry-after"]) > 800
    expect(page.get_by_role("alert")).to_have_text("Too many failed logins for this account; try again in 15 minutes.")
    expect(page.locator("input[name=email]")).to_have_value("analyst@acme.example")
    expect(page).to_have_url(live_server + "/login")
