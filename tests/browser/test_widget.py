"""The website widget on a page served from ANOTHER loopback port: it appears after the page event, the
visitor answers inside the popover, and the answer is stored against the identified customer."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from cem.config import Settings
from cem.customers.models import Customer
from cem.db.session import Database
from cem.distribution import service as dist_service
from cem.distribution.models import ContactSkip
from cem.distribution.schemas import SurveyChannelSettingsIn
from cem.feedback.models import FeedbackRecord
from cem.surveys import service as survey_service
from cem.surveys.models import SurveyResponse
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, Workspace

pytestmark = pytest.mark.browser

SHOP_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shop checkout</title></head>
<body style="font-family:sans-serif">
<h1>Thank you for your order</h1>
<button id="done" type="button">Finish checkout</button>
<script>window.cem=window.cem||function(){{(cem.q=cem.q||[]).push(arguments)}};cem("identify","{customer}");</script>
<script src="{app}/static/js/widget.js" data-survey="{slug}" async></script>
<script>document.getElementById("done").addEventListener("click",function(){{cem("track","checkout_done")}});</script>
</body></html>
"""


@pytest.fixture
def shop_site(tmp_path: Path) -> Iterator[tuple[str, Callable[[str, str], None]]]:
    """A tiny static site on its own loopback port: (origin, write(path, html))."""
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def write(path: str, html: str) -> None:
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(html, encoding="utf-8")

    yield f"http://127.0.0.1:{server.server_address[1]}", write
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def public_url(settings: Settings, live_server: str) -> Iterator[str]:
    saved = settings.public_url
    settings.public_url = live_server
    yield live_server
    settings.public_url = saved


def _widget_survey(db: Database, workspace: Workspace, origin: str) -> int:
    definition: dict[str, Any] = {
        "title": {"en": "Checkout"},
        "pages": [
            {
                "id": "p1",
                "questions": [
                    {"id": "nps", "type": "nps", "required": True, "headline": {"en": "How likely to recommend us?"}}
                ],
            }
        ],
        "endings": [{"id": "thanks", "headline": {"en": "Thanks for your feedback!"}}],
    }
    with db.unit_of_work() as session:
        actor = workspace.principal()
        survey = survey_service.create_survey(
            session, actor, name="Checkout NPS", definition=definition, slug="checkout"
        )
        survey_service.publish_survey(session, actor, survey)
        dist_service.update_channel_settings(
            session,
            actor=actor,
            survey_id=survey.id,
            data=SurveyChannelSettingsIn(
                widget_enabled=True,
                widget_url_pattern="*/shop/*",
                widget_event="checkout_done",
                allowed_origins=[origin],
            ),
        )
        session.add(Customer(workspace_id=workspace.id, external_id="ext-123", email="ana@example.com", attributes={}))
        return survey.id


def test_widget_shows_on_another_origin_and_stores_the_answer_for_the_customer(
    page: Page,
    db: Database,
    workspace: Workspace,
    public_url: str,
    shop_site: tuple[str, Callable[[str, str], None]],
    shot: Callable[[str], Path],
) -> None:
    origin, write = shop_site
    survey_id = _widget_survey(db, workspace, origin)
    write("shop/checkout.html", SHOP_PAGE.format(app=public_url, slug="checkout", customer="ext-123"))

    page.goto(f"{origin}/shop/checkout.html")
    expect(page.get_by_role("heading", name="Thank you for your order")).to_be_visible()
    page.wait_for_timeout(300)
    expect(page.locator("[data-cem-widget]")).to_have_count(0)  # waits for the page event
    page.click("#done")
    popover = page.locator("[data-cem-widget=checkout]")
    expect(popover).to_be_visible()
    survey = page.frame_locator("[data-cem-widget=checkout] iframe")
    expect(survey.get_by_text("How likely to recommend us?")).to_be_visible()
    survey.get_by_label("9", exact=True).check()
    shot("popover")
    survey.get_by_role("button", name="Submit").click()
    expect(survey.get_by_text("Thanks for your feedback!")).to_be_visible()
    shot("answered")

    with db.unit_of_work(readonly=True) as session:
        customer_id = session.scalars(select(Customer.id).where(Customer.external_id == "ext-123")).one()
        response = session.scalars(select(SurveyResponse).where(SurveyResponse.survey_id == survey_id)).one()
        assert (response.customer_id, response.channel, response.status) == (customer_id, "widget", "completed")
        record = session.scalars(select(FeedbackRecord).where(FeedbackRecord.field_id == "nps")).one()
        assert (record.customer_id, record.value_number) == (customer_id, 9)

    # Reloading the page does not show the survey again (asked once: the per-survey recontact rule).
    page.reload()
    page.click("#done")
    page.wait_for_timeout(500)
    expect(page.locator("[data-cem-widget]")).to_have_count(0)
    page.evaluate("localStorage.clear()")
    page.reload()
    page.click("#done")
    page.wait_for_timeout(800)
    expect(page.locator("[data-cem-widget]")).to_have_count(0)
    with db.unit_of_work(readonly=True) as session:
        reasons = list(session.scalars(select(ContactSkip.reason).where(ContactSkip.survey_id == survey_id)))
    assert reasons == ["recontact"]  # the server refused, even with the browser's memory wiped

    # The distribution report shows the widget funnel and the skip.
    log_in(page, workspace.user_email("analyst"), PASSWORD)
    page.goto(f"/surveys/{survey_id}/distribution")
    widget_row = page.get_by_test_id("funnel-widget")
    expect(widget_row).to_contain_text("100.0%")
    expect(page.get_by_test_id("skips")).to_contain_text("recontact rule")
    shot("report")
