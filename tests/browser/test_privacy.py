"""In Chromium, as a CX manager would: erase a person from Admin → Erase a person, at desktop and phone widths.

The flow is walked end to end (form, preview listing rows per table and another customer's record naming the
person, redaction, confirmation, report), then the person is looked up again and is gone. An unknown identifier
reads as a sentence on the page. Screenshots of every step go to artifacts/screenshots/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from cem.customers.models import Customer
from cem.feedback.models import FeedbackRecord
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, Workspace

pytestmark = pytest.mark.browser

ANN = {"external_id": "ext-ann", "email": "ann.lee@example.com", "name": "Ann Lee"}
QUOTE = "Please forward this complaint to ann.lee@example.com; Ann Lee knows the order history and can call back."
WIDTHS = {"desktop": (1440, 900), "phone": (390, 844)}


@pytest.fixture(params=list(WIDTHS))
def sized(request: pytest.FixtureRequest, browser: Browser, live_server: str) -> Iterator[tuple[Page, str]]:
    """A fresh page at one of the two widths, and the width's name for screenshot files."""
    width, height = WIDTHS[request.param]
    context = browser.new_context(base_url=live_server, viewport={"width": width, "height": height})
    context.set_default_timeout(10_000)
    yield context.new_page(), request.param
    context.close()


def _seed(admin_api: TestClient) -> None:
    """Ann's NPS answer and comment, and Bob's ticket quoting her address and name."""
    base = {"source_type": "survey", "source_name": "nps-q1", "submission_id": "a1", "customer": ANN}
    answers = [
        {**base, "field_id": "score", "field_type": "nps", "value": 9},
        {**base, "field_id": "why", "field_type": "text", "value": "delivery was late"},
    ]
    assert admin_api.post("/api/v1/feedback/bulk", json=answers).status_code == 200
    ticket = {
        "source_type": "ticket",
        "source_name": "desk",
        "submission_id": "t1",
        "customer": {"external_id": "ext-bob", "email": "bob@example.com", "name": "Bob Roe"},
        "field_id": "body",
        "field_type": "text",
        "value": QUOTE,
    }
    assert admin_api.post("/api/v1/feedback", json=ticket).status_code == 200


def _assert_fits(page: Page) -> None:
    """Nothing makes the page scroll sideways (wide tables scroll inside their own box)."""
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the window"


def test_erase_a_person_end_to_end(
    sized: tuple[Page, str], workspace: Workspace, admin_api: TestClient, artifacts_dir: Path
) -> None:
    page, width = sized
    folder = artifacts_dir / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)

    def shot(step: str) -> None:
        _assert_fits(page)
        page.screenshot(path=str(folder / f"privacy-erase-{width}-{step}.png"), full_page=True)

    _seed(admin_api)
    log_in(page, "admin@acme.example", PASSWORD)
    page.goto("/admin")
    page.get_by_role("link", name="Erase a person").click()
    expect(page.get_by_role("heading", name="Erase a person")).to_be_visible()
    shot("1-form")

    find = page.get_by_test_id("erase-find")
    find.locator("select[name=kind]").select_option(label="External id")
    find.locator("input[name=value]").fill("ext-nobody")
    find.get_by_role("button", name="Show what would be erased").click()
    expect(page.get_by_role("alert")).to_contain_text("has the external id “ext-nobody”")
    assert "{" not in page.get_by_role("alert").inner_text()  # a sentence, not a JSON error
    expect(find.locator("input[name=value]")).to_have_value("ext-nobody")
    shot("2-unknown")

    find.locator("select[name=kind]").select_option(label="Email address")
    find.locator("input[name=value]").fill(ANN["email"])
    find.get_by_role("button", name="Show what would be erased").click()
    preview = page.get_by_test_id("erasure-preview")
    expect(preview.get_by_role("heading", level=2)).to_have_text(f"This will be erased: email address “{ANN['email']}”")
    rows = preview.get_by_test_id("preview-rows")
    expect(rows.locator("tr", has_text="feedback_record")).to_contain_text("2")
    expect(rows.locator("tr", has_text="customer")).to_contain_text("1")
    mention = preview.get_by_test_id("preview-mentions").locator("tbody tr")
    expect(mention).to_have_count(1)
    expect(mention).to_contain_text("email, name")
    expect(mention).not_to_contain_text(ANN["email"])  # the excerpt does not show the person again
    shot("3-preview")

    confirm = page.get_by_test_id("erase-confirm")
    confirm.get_by_label("Also replace the mentions above with [redacted]").check()
    confirm.get_by_role("button", name="Erase permanently").click()
    expect(page.get_by_test_id("erasure-preview")).to_be_visible()  # the unticked confirmation box blocks it
    confirm.get_by_label("I understand this cannot be undone").check()
    confirm.get_by_role("button", name="Erase permanently").click()

    report = page.get_by_test_id("erasure-report")
    expect(report.get_by_role("heading", level=2)).to_have_text(f"Erased: email address “{ANN['email']}”")
    expect(report.locator("tr", has_text="deleted").filter(has_text="customer")).to_contain_text("1")
    expect(report.get_by_test_id("mentions-outcome")).to_have_text("Mentions replaced in 1 record(s), with [redacted].")
    shot("4-report")

    with workspace.db.unit_of_work(readonly=True) as session:
        assert session.scalars(select(Customer).where(Customer.email == ANN["email"])).all() == []
        texts = [str(v) for v in session.scalars(select(FeedbackRecord.value_text)) if v]
    assert len(texts) == 1 and "[redacted] knows the order history" in texts[0]  # Bob's ticket stays, without Ann
    assert ANN["email"] not in texts[0] and ANN["name"] not in texts[0]
    page.get_by_role("link", name="Erase someone else").click()
    find.locator("input[name=value]").fill(ANN["email"])
    find.get_by_role("button", name="Show what would be erased").click()
    expect(page.get_by_role("alert")).to_contain_text("Nobody with this identifier here")
