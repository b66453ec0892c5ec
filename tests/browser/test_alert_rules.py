"""In Chromium, at desktop (1440 px) and phone (390 px) width: an alert rule built in the editor's condition rows,
tested on the last 30 days (the preview lists the records it would have caught), then saved; no sideways scroll."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import log_in
from tests.cases.conftest import nps_record
from tests.conftest import PASSWORD, Workspace

pytestmark = pytest.mark.browser


def _seed(admin_api: TestClient) -> None:
    records = []
    for i, score in enumerate([1, 4, 9, 10, 6, 8, 2, 7]):
        comment = "They refused my refund and nobody called back." if score <= 6 else "Quick and friendly service."
        records.append(nps_record(f"s{i}", score, customer=f"c{i}"))
        records.append(nps_record(f"s{i}", 0, customer=f"c{i}", field_id="why", field_type="text", value=comment))
    assert admin_api.post("/api/v1/feedback/bulk", json=records).status_code == 200


def _build_rule(page: Page, name: str) -> None:
    """Two rows and an ANY group, through the editor's own buttons (the page reloads on each)."""
    page.goto("/alert-rules/new")
    page.fill("input[name=name]", name)
    page.select_option("select[name='rows-0-field']", "score:nps")
    page.select_option("select[name='rows-0-op']", "<=")
    page.fill("input[name='rows-0-value']", "6")
    page.get_by_role("button", name="+ Add condition", exact=True).click()
    page.select_option("select[name='rows-1-field']", "text")
    # The script offers only the text operators and picks the first.
    expect(page.locator("select[name='rows-1-op']")).to_have_value("contains")
    page.fill("input[name='rows-1-value']", "refund")
    page.get_by_role("button", name="+ Add a group (ANY or ALL of several conditions)").click()
    page.select_option("select[name='rows-2-field']", "customer_attribute")
    page.select_option("select[name='rows-2-op']", "is_not")
    page.fill("input[name='rows-2-key']", "plan")
    page.fill("input[name='rows-2-value']", "free")
    page.get_by_role("button", name="+ Add condition to this group").click()
    page.select_option("select[name='rows-3-field']", "score:nps")
    page.select_option("select[name='rows-3-op']", "<=")
    page.fill("input[name='rows-3-value']", "2")
    page.select_option("select[name=priority]", "high")
    page.fill("textarea[name=emails]", "cx-lead@example.org")
    page.get_by_role("button", name="Test on the last 30 days").click()
    expect(page.get_by_test_id("preview-count")).to_contain_text("4 of 8 submissions")
    expect(page.get_by_test_id("preview-hit")).to_have_count(4)
    expect(page.get_by_test_id("preview-hit").first).to_contain_text("They refused my refund")


def _fits(page: Page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the window"


def test_build_test_and_save_a_rule_on_desktop_and_phone(
    browser: Browser, live_server: str, workspace: Workspace, admin_api: TestClient, artifacts_dir: Path
) -> None:
    _seed(admin_api)
    team = admin_api.post("/api/v1/teams", json={"name": "Customer care", "lead_user_id": None}).json()
    hours = {d: [["09:00", "12:30"], ["13:30", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
    calendar = {"name": "Lisbon office", "timezone": "Europe/Lisbon", "hours": hours, "holidays": ["2026-12-25"]}
    cal = admin_api.post("/api/v1/business-calendars", json=calendar).json()
    policy = {
        "name": "Urgent enterprise cases",
        "calendar_id": cal["id"],
        "first_response_minutes": 90,
        "resolution_minutes": 480,
        "conditions": {"priorities": ["urgent"], "team_ids": [team["id"]]},
    }
    assert admin_api.post("/api/v1/slas", json=policy).status_code == 201
    folder = artifacts_dir / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    for width, height, label in ((1440, 1000, "desktop"), (390, 844, "phone")):
        context = browser.new_context(base_url=live_server, viewport={"width": width, "height": height})
        context.set_default_timeout(10_000)
        page = context.new_page()
        log_in(page, "analyst@acme.example", PASSWORD)
        _build_rule(page, f"Detractors asking for refunds ({label})")
        _fits(page)
        page.screenshot(path=str(folder / f"{label}-alert-rule.png"), full_page=True)
        page.get_by_role("button", name="Save rule").click()
        expect(page.get_by_test_id("notice")).to_have_text("Rule created.")
        _fits(page)
        for path in ("/alert-rules", "/teams", "/slas"):
            page.goto(path)
            _fits(page)
            page.screenshot(path=str(folder / f"{label}-loop-{path.strip('/')}.png"), full_page=True)
        context.close()
    saved = {r["name"]: r for r in admin_api.get("/api/v1/alert-rules").json()}
    rule = saved["Detractors asking for refunds (phone)"]
    assert rule["condition"]["conditions"][2]["op"] == "or"
    assert rule["actions"]["email"] == ["cx-lead@example.org"]
    assert rule["actions"]["open_case"]["priority"] == "high"
