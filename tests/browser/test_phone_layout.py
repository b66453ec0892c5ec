"""In Chromium at phone width (390x844): issue 12's other screens fit the window and read as sentences.

An interrupted import with its Resume button, the refused-encoding message (the typed encoding stays in the
form), the weak-password message on "Add a member", the throttled login and the API reference at /docs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, expect

from cem.imports.models import ImportRun
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, Workspace

pytestmark = pytest.mark.browser


@pytest.fixture
def phone(browser: Browser, live_server: str) -> Iterator[Page]:
    context = browser.new_context(base_url=live_server, viewport={"width": 390, "height": 844})
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def _fits(page: Page, folder: Path, name: str) -> None:
    """No sideways scrolling of the page (wide tables scroll inside their box); then a screenshot."""
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{name}: the page is {overflow}px wider than the window"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"phone-{name}.png"), full_page=name != "docs")


def test_issue12_screens_on_a_phone(
    phone: Page,
    workspace: Workspace,
    admin_api: TestClient,
    app: FastAPI,
    artifacts_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = artifacts_dir / "screenshots"
    csv = ("big.csv", b"submission_id,email,nps\ns1,a@example.com,9\n", "text/csv")
    run_id = admin_api.post("/api/v1/imports", files={"file": csv}).json()["id"]
    with workspace.db.unit_of_work() as session:
        run = session.get(ImportRun, run_id)
        assert run is not None
        run.status, run.processed_rows, run.total_rows = "interrupted", 10_000, 60_000
        run.message = "Interrupted after 10000 rows; resume to continue."
    log_in(phone, "admin@acme.example", PASSWORD)

    phone.goto("/imports")
    expect(phone.locator(f"form[data-resume='{run_id}'] button")).to_be_visible()
    _fits(phone, folder, "imports-interrupted")
    phone.goto(f"/imports/{run_id}")
    expect(phone.locator("#import-resume")).to_be_visible()
    _fits(phone, folder, "import-run-interrupted")

    phone.goto("/imports")
    phone.set_input_files("#import-file", files=[{"name": "a.csv", "mimeType": "text/csv", "buffer": b"a,b\n1,2\n"}])
    phone.fill("input[name=encoding]", "zlib_codec")
    phone.click("#import-submit")
    expect(phone.get_by_role("alert")).to_contain_text("'zlib_codec' is not a character encoding")
    expect(phone.locator("input[name=encoding]")).to_have_value("zlib_codec")
    _fits(phone, folder, "import-refused-encoding")

    phone.goto("/admin")
    add = phone.get_by_test_id("member-add")
    add.locator("input[name=email]").fill("new@acme.example")
    add.locator("input[name=password]").fill("short")
    add.get_by_role("button", name="Add member").click()
    expect(phone.get_by_role("alert")).to_have_text("A password needs at least 10 characters.")
    expect(phone.get_by_role("alert")).to_be_in_viewport()
    _fits(phone, folder, "member-weak-password")

    phone.goto("/docs")
    expect(phone.locator(".swagger-ui .info .title")).to_contain_text("cem")
    _fits(phone, folder, "docs")

    phone.context.clear_cookies()
    monkeypatch.setattr(app.state.settings, "login_max_failures_per_account", 1)
    log_in(phone, "analyst@acme.example", "not-the-password")
    log_in(phone, "analyst@acme.example", PASSWORD)
    expect(phone.get_by_role("alert")).to_have_text("Too many failed logins for this account; try again in 15 minutes.")
    _fits(phone, folder, "login-throttled")
