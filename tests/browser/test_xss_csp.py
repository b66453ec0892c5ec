"""Stored script injection and the Content Security Policy, in Chromium.

Script payloads are stored in every dimension value a chart can show (source, channel, survey, question and its
label, language, touchpoint, stage, journey, topic, customer segment and attribute); the home page, the program
overview, a custom dashboard grouped by each dimension, the journey funnel, the driver quadrant and the text
explorer are opened and every point of every chart is hovered. Any dialog, page error or CSP violation fails the
test, and each tooltip must show the payloads as text. A second test walks every main page at 1440 px for CSP
violations and checks that htmx and the moved scripts still work.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import ConsoleMessage, Dialog, Error, Page, expect
from sqlalchemy import select

from cem.customers.models import Customer
from cem.db.session import Database
from cem.feedback.models import FeedbackRecord
from cem.journeys.models import Journey, JourneyStage, Touchpoint
from cem.surveys import service as survey_service
from cem.text.topics.models import RecordTopic, Topic
from tests.analytics.dashboards.seed import store
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, Workspace
from tests.distribution.conftest import two_page_nps
from tests.web.helpers import seed_journey

pytestmark = pytest.mark.browser

IMG = "<img src=x onerror=alert(1)>"
BREAKOUT = '"><script>alert(1)</script>'
CLOSE = "</script><svg onload=alert(1)>"
TEMPLATE = "{{7*7}}"
SHORT = "<i>x</i>&\"'"  # for 16-character columns (channel, language): markup that must show as text
# The dimension names a widget groups by, each showing one payload.
DIMENSIONS = (
    "source",
    "channel",
    "survey",
    "question",
    "language",
    "touchpoint",
    "stage",
    "journey",
    "topic",
    "segment",
    "customer.plan",
)


@dataclass
class Watch:
    """Everything the page said that a safe page never says."""

    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def on_dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def on_console(self, message: ConsoleMessage) -> None:
        text = message.text
        if "Content Security Policy" in text or "Refused to" in text:
            self.violations.append(f"{message.page.url if message.page else ''}: {text}")

    def on_error(self, error: Error) -> None:
        self.errors.append(str(error))

    def check(self) -> None:
        assert self.dialogs == [], f"script ran: dialogs {self.dialogs}"
        assert self.errors == [], f"page errors: {self.errors}"
        assert self.violations == [], f"CSP violations: {self.violations}"


@pytest.fixture
def watched(page: Page) -> Iterator[tuple[Page, Watch]]:
    watch = Watch()
    page.on("dialog", watch.on_dialog)
    page.on("console", watch.on_console)
    page.on("pageerror", watch.on_error)
    page.set_viewport_size({"width": 1440, "height": 900})
    yield page, watch


def seed(db: Database, workspace: Workspace) -> dict[str, int]:
    """Feedback whose every chartable dimension holds a payload; returns the journey's id."""
    ids = seed_journey(db, workspace.principal())
    now = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    items: list[dict[str, Any]] = []
    for i in range(48):
        at = now - timedelta(days=(i % 4) * 30 + 1)
        customer = {"external_id": f"x{i}", "attributes": {"segment": BREAKOUT, "plan": CLOSE}}
        items.append(
            {
                "source_type": "survey",
                "source_name": IMG,
                "submission_id": f"n{i}",
                "customer": customer,
                "field_id": BREAKOUT,
                "field_label": CLOSE,
                "field_type": "nps",
                "value": float(i % 11),
                "collected_at": at,
                "touchpoint": "site" if i % 2 else "call",
                "language": "en",
            }
        )
        speed, price = 1 + i % 5, 1 + (i * 7) % 5
        overall = min(5.0, max(1.0, round(0.8 * speed + 0.2 * price + (0.5 if i % 3 == 0 else 0.0))))
        for field_id, value in (("overall", overall), (IMG, speed), (CLOSE, price)):
            items.append(
                {
                    "source_type": "review",
                    "source_name": TEMPLATE,
                    "submission_id": f"r{i}",
                    "customer": customer,
                    "field_id": field_id,
                    "field_label": field_id,
                    "field_type": "rating",
                    "value": float(value),
                    "collected_at": at,
                    "touchpoint": "site",
                }
            )
    store(db, workspace, items)
    # Keys the API keeps to a slug pattern, and 16-character columns, are written as a careless import could.
    with db.unit_of_work() as session:
        for row in session.scalars(select(FeedbackRecord)):
            row.language = SHORT if row.source_type == "survey" else row.language
            row.source_type = SHORT if row.source_type == "review" else row.source_type
        journey = session.get(Journey, ids["journey"])
        assert journey is not None
        journey.key, journey.name = IMG, BREAKOUT
        for stage in session.scalars(select(JourneyStage).where(JourneyStage.journey_id == journey.id)):
            stage.key, stage.name = f"{CLOSE}{stage.id}", f"{IMG}{stage.id}"
        for tp in session.scalars(select(Touchpoint).where(Touchpoint.workspace_id == workspace.id)):
            tp.key, tp.name = f"{BREAKOUT}{tp.id}", f"{TEMPLATE}{tp.id}"
        topic = Topic(workspace_id=workspace.id, key=IMG, label=BREAKOUT, terms=CLOSE)
        session.add(topic)
        session.flush()
        for record_id in session.scalars(select(FeedbackRecord.id).where(FeedbackRecord.field_type == "nps")):
            session.add(RecordTopic(record_id=record_id, topic_id=topic.id))
    return {"journey": ids["journey"]}


def dashboard(admin_api: TestClient) -> int:
    """One bar widget per dimension, plus interval charts (bands and grouped bars) whose series are payloads."""
    widgets: list[dict[str, Any]] = []
    for dim in DIMENSIONS:
        metric = "rating_mean" if dim == "channel" else "nps"
        widgets.append({"title": dim, "metric": metric, "chart": "bar", "group_by": [dim], "min_n": 1})
    widgets.append(
        {
            "title": "band",
            "metric": "nps",
            "chart": "line",
            "group_by": ["source", "segment"],
            "interval": "month",
            "min_n": 1,
        }
    )
    widgets.append(
        {
            "title": "bars",
            "metric": "rating_mean",
            "chart": "bar",
            "group_by": ["channel", "question"],
            "interval": "month",
            "min_n": 1,
        }
    )
    r = admin_api.post(
        "/api/v1/dashboards", json={"name": IMG, "description": BREAKOUT, "shared": True, "widgets": widgets}
    )
    assert r.status_code in (200, 201), r.text
    return int(r.json()["id"])


# Shows the tooltip of every data point of every chart on the page, the way hovering does, and returns what each
# tooltip showed (its text) and whether it held any element that is not ECharts' own marker.
HOVER_ALL = """() => {
  const shown = [];
  document.querySelectorAll("[_echarts_instance_]").forEach((el) => {
    const chart = echarts.getInstanceByDom(el);
    chart.getOption().series.forEach((series, si) => {
      (series.data || []).forEach((_, di) => {
        chart.dispatchAction({type: "showTip", seriesIndex: si, dataIndex: di});
        const tip = Array.from(el.children).find((c) => c.style.zIndex === "9999999");
        if (!tip || tip.style.display === "none") { return; }
        const foreign = Array.from(tip.querySelectorAll("*")).filter((n) => n.tagName !== "SPAN" && n.tagName !== "BR"
          && n.tagName !== "DIV");
        shown.push({chart: el.id || el.className, text: tip.textContent, foreign: foreign.map((n) => n.tagName)});
      });
    });
    chart.dispatchAction({type: "hideTip"});
  });
  return shown;
}"""


def hover_charts(page: Page, expected: tuple[str, ...]) -> str:
    """Sweep the mouse over every chart, then show every point's tooltip; returns all tooltip text."""
    charts = page.locator("[_echarts_instance_]")
    expect(charts.first).to_be_visible()
    for i in range(charts.count()):
        charts.nth(i).scroll_into_view_if_needed()
        box = charts.nth(i).bounding_box()
        assert box is not None
        for step in range(1, 24):
            for row in (0.3, 0.5, 0.7):
                page.mouse.move(box["x"] + box["width"] * step / 24, box["y"] + box["height"] * row)
    shown = page.evaluate(HOVER_ALL)
    assert shown, f"no tooltip showed on {page.url}"
    assert [s for s in shown if s["foreign"]] == [], "data became markup inside a tooltip"
    text = "\n".join(s["text"] for s in shown)
    for payload in expected:
        assert payload in text, f"{payload!r} not shown as text in a tooltip on {page.url}: {text[:2000]}"
    assert page.locator("[_echarts_instance_] img, [_echarts_instance_] script").count() == 0
    return text


def test_payloads_in_every_chart_dimension_never_run(
    watched: tuple[Page, Watch], db: Database, workspace: Workspace, admin_api: TestClient
) -> None:
    page, watch = watched
    ids = seed(db, workspace)
    dashboard_id = dashboard(admin_api)
    log_in(page, "admin@acme.example", PASSWORD)
    expect(page.get_by_test_id("feedback-count")).to_be_visible()

    hover_charts(page, (f"survey · {IMG}", f"{SHORT} · {TEMPLATE}"))  # home: feedback by source

    page.goto("/dashboards/overview")
    expect(page.locator("#trend-nps")).to_have_attribute("data-rendered", "1")
    hover_charts(page, ())

    page.goto(f"/dashboards/{dashboard_id}")
    expect(page.locator("[data-chart][data-rendered='1']")).to_have_count(len(DIMENSIONS) + 2)
    hover_charts(page, (IMG, BREAKOUT, CLOSE, SHORT, f"{IMG} / {BREAKOUT}", f"{SHORT} / {CLOSE}"))

    page.goto(f"/dashboards/journey?{urlencode({'journey_id': ids['journey'], 'metric': 'nps'})}")
    expect(page.locator("#funnel-chart")).to_have_attribute("data-rendered", "1")
    hover_charts(page, (IMG,))

    query = urlencode(
        [
            ("outcome", "overall"),
            ("driver", IMG),
            ("driver", CLOSE),
            ("bootstrap", "20"),
            ("segment_by", "segment"),
            ("min_n", "1"),
        ]
    )
    page.goto(f"/dashboards/drivers?{query}")
    expect(page.locator("#driver-quadrant")).to_have_attribute("data-rendered", "1")
    hover_charts(page, (IMG, CLOSE))

    page.goto("/text")
    expect(page.locator(".sparkline svg").first).to_be_visible()
    hover_charts(page, ())
    watch.check()


def test_every_main_page_runs_under_the_policy(
    watched: tuple[Page, Watch], db: Database, workspace: Workspace, admin_api: TestClient
) -> None:
    page, watch = watched
    ids = seed(db, workspace)
    dashboard_id = dashboard(admin_api)
    with db.unit_of_work() as session:
        survey = survey_service.create_survey(
            session, workspace.principal(), name=IMG, definition=two_page_nps(), slug="post-nps"
        )
        survey_service.publish_survey(session, workspace.principal(), survey)
        survey_id = survey.id
        customer_id = session.scalars(select(Customer.id)).first()
        topic_id = session.scalars(select(Topic.id)).first()
    log_in(page, "admin@acme.example", PASSWORD)
    pages = [
        "/",
        "/dashboards",
        "/dashboards/overview",
        "/dashboards/journey",
        "/dashboards/drivers",
        f"/dashboards/{dashboard_id}",
        "/customers",
        f"/customers/{customer_id}",
        "/journeys",
        f"/journeys/{ids['journey']}",
        "/feedback",
        "/surveys",
        f"/surveys/{survey_id}",
        f"/surveys/{survey_id}/responses",
        f"/surveys/{survey_id}/distribution",
        "/text",
        f"/text/topics/{topic_id}",
        "/text/search",
        "/text/model",
        "/imports",
        "/sources",
        "/admin",
    ]
    for url in pages:
        response = page.goto(url)
        assert response is not None and response.status == 200, url
        page.wait_for_load_state("networkidle")
    # The builder's preview iframe loaded under its own policy (framed by our origin only).
    page.goto(f"/surveys/{survey_id}")
    expect(page.frame_locator("iframe[name=preview]").locator("form.survey-form")).to_be_visible()

    # htmx works: the feedback explorer's boosted pager swaps <main> without a full page load.
    page.goto("/feedback")
    page.evaluate("window.__samePage = true")
    page.get_by_test_id("next-page").click()
    expect(page.locator("a", has_text="First page")).to_be_visible()
    assert page.evaluate("window.__samePage === true"), "htmx did not swap the page in place"

    # Moved scripts work: the topic filter submits on change, data-confirm asks before deleting a topic.
    page.goto(f"/text/topics/{topic_id}")
    with page.expect_navigation():
        page.locator("select[data-autosubmit]").select_option("negative")
    assert "sentiment=negative" in page.url
    page.get_by_role("button", name="Delete topic").click()  # the watch answers "no": the topic stays
    assert len(watch.dialogs) == 1 and "Delete this topic?" in watch.dialogs[0]
    watch.dialogs.clear()
    expect(page.get_by_role("button", name="Delete topic")).to_be_visible()

    # The import page's mapping editor (moved to imports.js) reads the chosen file's header.
    page.goto("/imports")
    page.set_input_files(
        "#import-file",
        files=[{"name": "a.csv", "mimeType": "text/csv", "buffer": b"review_id,score,comment\n1,5,good\n"}],
    )
    expect(page.locator("#editor-rows tr")).to_have_count(3)
    page.locator("#editor-rows select").first.select_option("submission_id")
    assert json.loads(page.locator("#import-mapping").input_value())["submission_id"] == "review_id"

    # The API reference renders offline from local Swagger UI assets, under the app's policy.
    page.goto("/docs")
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/feedback/export.csv")).to_be_visible()

    # The hosted survey page under the public policy.
    page.goto("/s/post-nps")
    expect(page.locator("form.survey-form")).to_be_visible()
    watch.check()
