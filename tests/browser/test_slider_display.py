"""A slider and display text in Chromium at phone width (390x844): by keyboard with the script, by typing without."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from cem.db.session import Database
from cem.feedback.models import FeedbackRecord
from tests.conftest import Workspace
from tests.responses.hosted_helpers import publish

pytestmark = pytest.mark.browser

DEFINITION = {
    "pages": [
        {
            "id": "p1",
            "questions": [
                {"id": "intro", "type": "display", "headline": {"en": "Two quick questions.\n\nThank you!"}},
                {
                    "id": "warmth",
                    "type": "slider",
                    "required": True,
                    "headline": {"en": "How warm was the welcome?"},
                    "range_min": 0,
                    "range_max": 10,
                    "step": 0.5,
                    "lower_label": {"en": "Frosty"},
                    "upper_label": {"en": "Glowing"},
                },
            ],
        }
    ]
}


def _phone(browser: Browser, live_server: str, *, javascript: bool) -> Iterator[Page]:
    context = browser.new_context(
        base_url=live_server, java_script_enabled=javascript, viewport={"width": 390, "height": 844}
    )
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def phone(browser: Browser, live_server: str) -> Iterator[Page]:
    yield from _phone(browser, live_server, javascript=True)


@pytest.fixture
def phone_no_js(browser: Browser, live_server: str) -> Iterator[Page]:
    yield from _phone(browser, live_server, javascript=False)


def _value(db: Database) -> float | None:
    with db.unit_of_work(readonly=True) as session:
        record = session.scalars(select(FeedbackRecord).where(FeedbackRecord.field_id == "warmth")).first()
        return None if record is None else record.value_number


def test_slider_by_keyboard_at_phone_width(
    phone: Page, db: Database, workspace: Workspace, artifacts_dir: Path
) -> None:
    publish(db, workspace, DEFINITION)
    phone.goto("/s/cx")
    expect(phone.get_by_text("Two quick questions.")).to_be_visible()
    slider = phone.get_by_role("slider", name="How warm was the welcome?")
    box = phone.get_by_role("spinbutton", name="How warm was the welcome?")
    expect(slider).to_be_visible()
    expect(box).to_have_value("")  # untouched: nothing is answered yet
    phone.get_by_role("button", name="Submit").click()
    expect(phone.get_by_text("This question needs an answer.").first).to_be_visible()
    slider.focus()
    slider.press("Home")
    for _ in range(3):
        slider.press("ArrowRight")
    expect(box).to_have_value("1.5")
    overflow = phone.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    folder = artifacts_dir / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    phone.screenshot(path=str(folder / "phone-slider.png"), full_page=True)
    phone.get_by_role("button", name="Submit").click()
    expect(phone.get_by_role("heading", name="Thank you!")).to_be_visible()
    assert _value(db) == 1.5


def test_slider_without_javascript(phone_no_js: Page, db: Database, workspace: Workspace) -> None:
    publish(db, workspace, DEFINITION)
    phone_no_js.goto("/s/cx")
    expect(phone_no_js.get_by_role("slider")).to_have_count(0)  # the range needs the script; the box does not
    phone_no_js.get_by_role("spinbutton", name="How warm was the welcome?").fill("7.5")
    phone_no_js.get_by_role("button", name="Submit").click()
    expect(phone_no_js.get_by_role("heading", name="Thank you!")).to_be_visible()
    assert _value(db) == 7.5
