"""Dashboards in Chromium on demo-like data: the rendered numbers equal the API's, charts draw, PNG downloads."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from cem.db.session import Database
from cem.demo import olist, synthetic
from cem.demo.loader import store_batch
from cem.demo.program import ensure_journey
from tests.analytics.dashboards.seed import nps_values, records, store
from tests.analytics.dashboards.test_api import FEB, MAR
from tests.analytics.dashboards.test_views import rec
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, Workspace

pytestmark = pytest.mark.browser
Shot = Callable[[str], Path]


def fmt(value: float, unit: str) -> str:
    return f"{value:.1f}%" if unit == "%" else f"{value:.1f}" if unit == "points" else f"{value:.2f}"


@pytest.fixture
def demo(db: Database, workspace: Workspace) -> Workspace:
    """The demo's retail journey with synthetic Olist-shaped orders and reviews, plus an NPS/CSAT program."""
    with db.unit_of_work() as session:
        ensure_journey(session, actor=workspace.principal())
    batch = olist.retail_batch(synthetic.olist_tables(customers=120, orders=160), source_name="shop", synthetic=True)
    store_batch(db, actor=workspace.principal(), batch=batch)
    items = records("nps", nps_values(60, 20, 20), FEB) + records("nps", nps_values(30, 20, 50), MAR)
    items += records("csat", [5.0] * 40 + [2.0] * 10, FEB) + records("csat", [5.0] * 42 + [2.0] * 8, MAR)
    for i in range(60):  # survey answers for a key driver analysis: overall follows speed, not price
        speed, price = 1 + i % 5, 1 + (i * 7) % 5
        overall = min(5.0, max(1.0, round(0.8 * speed + 0.2 * price + (0.5 if i % 3 == 0 else 0.0))))
        for field, value in (("overall", overall), ("speed", speed), ("price", price)):
            items.append(rec(500 + i, f"d{i}", field, "rating", float(value), None, i))
    store(db, workspace, items)
    return workspace


def test_overview_numbers_match_the_api(page: Page, demo: Workspace, shot: Shot) -> None:
    log_in(page, "viewer@acme.example", PASSWORD)
    page.goto("/dashboards/overview?end=2026-03-31")
    api = page.request.get("/api/v1/dashboards/overview?end=2026-03-31").json()
    for tile in api["tiles"]:
        box = page.get_by_test_id(f"tile-{tile['metric']}")
        if tile["status"] == "ok":
            expect(box.get_by_test_id("tile-value")).to_contain_text(fmt(tile["value"], tile["unit"]))
            expect(box.get_by_test_id("tile-n")).to_have_text(str(tile["n"]))
            expect(box.get_by_test_id("tile-arrow")).to_have_count(1 if tile["significant"] else 0)
        else:
            expect(box.get_by_test_id("tile-value")).to_have_text("not enough data")
    expect(page.get_by_test_id("tile-nps").get_by_test_id("tile-arrow")).to_have_text("▼")
    for metric in ("nps", "csat", "ces"):
        expect(page.locator(f"#trend-{metric}")).to_have_attribute("data-rendered", "1")
    rows = page.get_by_test_id("mover-row")
    expect(rows).to_have_count(len(api["movers"]))
    shot("")
    with page.expect_download() as download:
        page.get_by_test_id("png-trend-nps").click()
    assert download.value.suggested_filename == "trend-nps.png"
    with page.expect_download() as csv_download:
        page.get_by_test_id("export-movers").get_by_role("link", name="CSV").click()
    assert csv_download.value.suggested_filename == "overview-movers.csv"


def test_build_and_share_a_custom_dashboard(page: Page, demo: Workspace, shot: Shot) -> None:
    log_in(page, "analyst@acme.example", PASSWORD)
    page.goto("/dashboards")
    form = page.get_by_test_id("dashboard-create")
    form.locator("input[name=name]").fill("Retail weekly")
    form.get_by_role("button", name="Create dashboard").click()
    expect(page.get_by_test_id("dashboard-name")).to_have_text("Retail weekly")
    add = page.get_by_test_id("widget-add")
    add.locator("input[name=title]").fill("Ratings by month")
    add.get_by_test_id("widget-metric").select_option("rating_mean")
    add.get_by_test_id("widget-chart").select_option("line")
    add.get_by_test_id("widget-interval").select_option("month")
    add.get_by_role("button", name="Add widget").click()
    add = page.get_by_test_id("widget-add")
    add.locator("input[name=title]").fill("NPS by source")
    add.get_by_test_id("widget-metric").select_option("nps")
    add.get_by_test_id("widget-chart").select_option("bar")
    add.locator("input[name=group_by_1]").fill("source_name")
    add.get_by_role("button", name="Add widget").click()
    widgets = page.get_by_test_id("widget")
    expect(widgets).to_have_count(2)
    widgets.nth(1).get_by_test_id("widget-up").click()
    expect(page.get_by_test_id("widget").first.locator("h2")).to_have_text("NPS by source")
    first = page.get_by_test_id("widget").first
    dashboard_id = re.search(r"/dashboards/(\d+)", page.url).group(1)  # type: ignore[union-attr]
    widget_id = first.get_attribute("data-widget-id")
    data = page.request.get(f"/api/v1/dashboards/{dashboard_id}/widgets/{widget_id}/data").json()
    cells = first.get_by_test_id("widget-row")
    expect(cells).to_have_count(len(data["rows"]))
    shown = [r for r in data["rows"] if r["status"] == "ok"]
    assert shown, "the seeded NPS program has enough answers"
    for i, row in enumerate(data["rows"]):
        text = fmt(row["value"], data["unit"]) if row["status"] == "ok" else "not enough data"
        expect(cells.nth(i)).to_contain_text(text)
    expect(page.locator(f"#widget-chart-{widget_id}")).to_have_attribute("data-rendered", "1")
    page.get_by_test_id("share-box").check()
    page.get_by_test_id("dashboard-edit").get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("visibility")).to_have_text("shared")
    shot("analyst")
    log_in(page, "viewer@acme.example", PASSWORD)
    page.goto(f"/dashboards/{dashboard_id}")
    expect(page.get_by_test_id("widget")).to_have_count(2)
    expect(page.get_by_test_id("widget-add")).to_have_count(0)
    shot("viewer")


def test_journey_and_driver_views(page: Page, demo: Workspace, shot: Shot) -> None:
    log_in(page, "viewer@acme.example", PASSWORD)
    page.goto("/dashboards/journey?metric=rating_mean")
    journey_id = page.locator("select[name=journey_id]").input_value()
    api = page.request.get(f"/api/v1/analyses/journeys/{journey_id}/metrics?metric=rating_mean").json()
    cards = page.get_by_test_id("stage-card")
    expect(cards).to_have_count(len(api["stages"]))
    for i, stage in enumerate(api["stages"]):
        score = fmt(stage["value"], api["unit"]) if stage["status"] == "ok" else "not enough data"
        expect(cards.nth(i).get_by_test_id("stage-score")).to_have_text(score)
        expect(cards.nth(i).get_by_test_id("stage-volume")).to_have_text(str(stage["volume"]))
    funnel = page.request.get(f"/api/v1/analyses/journeys/{journey_id}/funnel").json()
    reached = page.get_by_test_id("funnel-reached")
    expect(reached).to_have_text([str(s["reached"]) for s in funnel["stages"]])
    expect(page.locator("#funnel-chart")).to_have_attribute("data-rendered", "1")
    shot("journey")
    page.goto("/dashboards/drivers?segment_metric=rating_mean&segment_by=stage")
    segments = page.request.get("/api/v1/metrics?metric=rating_mean&group_by=stage").json()["rows"]
    expect(page.get_by_test_id("segment-row")).to_have_count(len(segments))
    form = page.get_by_test_id("drivers-form")
    form.get_by_test_id("outcome").select_option("overall")
    form.locator("select[name=driver]").select_option(["speed", "price"])
    form.locator("input[name=bootstrap]").fill("50")
    form.get_by_role("button", name="Show").click()
    result = page.request.get("/api/v1/analyses/drivers?outcome=overall&driver=speed&driver=price&bootstrap=50").json()
    expect(page.get_by_test_id("r2")).to_have_text(f"{result['r2']:.3f}")
    expect(page.get_by_test_id("driver-johnson")).to_have_text([f"{d['johnson']:.4f}" for d in result["drivers"]])
    expect(page.locator("#driver-quadrant")).to_have_attribute("data-rendered", "1")
    shot("drivers")
