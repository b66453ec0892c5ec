"""Dashboard pages through the browser's path (login form, cookies, CSRF): numbers, arrows, forms, errors."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from cem.db.session import Database
from tests.analytics.dashboards.seed import nps_values, records, store
from tests.analytics.dashboards.test_api import FEB, MAR
from tests.conftest import Workspace
from tests.web.helpers import WebUser, login


@pytest.fixture
def program(db: Database, workspace: Workspace) -> Workspace:
    items = records("nps", nps_values(60, 20, 20), FEB) + records("nps", nps_values(30, 20, 50), MAR)
    items += records("csat", [5.0] * 40 + [2.0] * 10, FEB) + records("csat", [5.0] * 42 + [2.0] * 8, MAR)
    items += records("ces", [6.0] * 10, MAR)
    store(db, workspace, items)
    return workspace


def tile(html: str, metric: str) -> str:
    match = re.search(rf'data-testid="tile-{metric}".*?</section>', html, re.S)
    assert match, f"no {metric} tile"
    return match.group(0)


def test_overview_page_numbers_and_arrows(app: object, program: Workspace) -> None:
    viewer = login(app, "viewer@acme.example")
    r = viewer.get("/dashboards/overview")
    assert r.status_code == 200
    nps = tile(r.text, "nps")
    assert ">-20.0" in nps and 'data-testid="tile-arrow"' in nps and "▼" in nps
    assert re.search(r'data-testid="tile-n">100<', nps) and "a real change" in nps
    csat = tile(r.text, "csat")
    assert "84.0%" in csat and "tile-arrow" not in csat and "not significant" in csat
    ces = tile(r.text, "ces")
    assert "not enough data" in ces and 'data-testid="tile-n">10<' in ces and "tile-arrow" not in ces
    assert 'data-testid="movers-table"' in r.text and "<caption>" in r.text
    assert "/api/v1/dashboards/overview/export?table=movers" in r.text
    assert "/static/vendor/echarts-6.1.0.min.js" in r.text and "data-chart=" in r.text
    # The same page for one earlier month: February has nothing before it, so no change is claimed.
    feb = viewer.get("/dashboards/overview?end=2026-02-28").text
    assert "40.0" in tile(feb, "nps") and "tile-arrow" not in tile(feb, "nps")
    assert "no earlier month" in tile(feb, "nps")


@pytest.mark.parametrize(
    ("query", "needle"),
    [("interval=year", "interval"), ("end=yesterday", "is not a date"), ("min_n=-3", "min_n")],
)
def test_overview_bad_parameters(app: object, workspace: Workspace, query: str, needle: str) -> None:
    r = login(app, "viewer@acme.example").get(f"/dashboards/overview?{query}")
    assert r.status_code == 400 and needle in r.text and 'role="alert"' in r.text


def create(user: WebUser, name: str, shared: bool = False) -> int:
    r = user.post("/dashboards", {"name": name, "shared": "1" if shared else ""})
    assert r.status_code == 303, r.text
    return int(r.headers["location"].rsplit("/", 1)[1])


def add(user: WebUser, dashboard_id: int, **fields: str) -> int:
    r = user.post(f"/dashboards/{dashboard_id}/widgets", fields)
    return r.status_code


def test_build_arrange_and_share_a_dashboard(app: object, program: Workspace, api: Callable[..., TestClient]) -> None:
    analyst = login(app, "analyst@acme.example")
    did = create(analyst, "Monthly")
    assert add(analyst, did, title="NPS trend", metric="nps", chart="line", interval="month") == 303
    assert add(analyst, did, title="NPS by source", metric="nps", chart="bar", group_by_1="source_name") == 303
    assert add(analyst, did, title="CSAT now", metric="csat", chart="tile", date_from="2026-03-01") == 303
    page = analyst.get(f"/dashboards/{did}").text
    assert page.count('data-testid="widget"') == 3 and "84.0%" in page and "-20.0" in page
    assert 'data-testid="widget-thin"' not in page
    ids = re.findall(r'data-widget-id="(\d+)"', page)
    r = analyst.post(f"/dashboards/{did}/widgets/{ids[2]}/arrange", {"action": "up"})
    assert r.status_code == 303
    r = analyst.post(f"/dashboards/{did}/widgets/{ids[0]}/arrange", {"action": "wide"})
    assert r.status_code == 303  # the ids survive arrangement: widgets are changed in place
    page = analyst.get(f"/dashboards/{did}").text
    titles = re.findall(r"<h2>([^<]+)</h2>", page)
    assert titles[:3] == ["NPS trend", "CSAT now", "NPS by source"]
    assert re.findall(r'data-widget-id="(\d+)"', page) == [ids[0], ids[2], ids[1]]
    r = analyst.post(f"/dashboards/{did}/widgets/{ids[0]}/arrange", {"action": "sideways"})
    assert r.status_code == 422 and "Unknown action" in r.text
    stored = api("analyst").get("/api/v1/dashboards").json()
    assert stored == []  # private to the analyst's login session, not visible to another actor
    viewer = login(app, "viewer@acme.example")
    assert viewer.get(f"/dashboards/{did}").status_code == 404
    assert analyst.post(f"/dashboards/{did}/edit", {"name": "Monthly", "shared": "1"}).status_code == 303
    seen = viewer.get(f"/dashboards/{did}")
    assert seen.status_code == 200 and "Add a widget" not in seen.text and "shared" in seen.text
    assert 'class="widget wide"' in analyst.get(f"/dashboards/{did}").text.replace("card widget", "widget")
    assert viewer.post(f"/dashboards/{did}/widgets", {"metric": "nps"}).status_code == 403
    assert "Monthly" in viewer.get("/dashboards").text
    r = analyst.post(f"/dashboards/{did}/widgets/{ids[1]}/arrange", {"action": "remove"})
    assert analyst.get(f"/dashboards/{did}").text.count('data-testid="widget"') == 2
    # Ten CES answers: below the minimum n, the line has nothing to draw and says so.
    assert add(analyst, did, metric="ces", chart="line", interval="month") == 303
    assert 'data-testid="widget-thin"' in analyst.get(f"/dashboards/{did}").text
    assert analyst.post(f"/dashboards/{did}/delete").status_code == 303
    assert analyst.get(f"/dashboards/{did}").status_code == 404


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"metric": "nps", "chart": "line"}, "needs a time interval"),
        ({"metric": "nps", "group_by_1": "shoe_size"}, "unknown field"),
        ({"metric": "nps", "filters": "source_type"}, "not FIELD=VALUE"),
        ({"metric": "nps", "date_from": "March"}, "date_from"),
        ({"metric": "nps", "chart": "pie"}, "chart"),
        ({"metric": "nps", "min_n": "lots"}, "min_n"),
    ],
)
def test_bad_widget_forms_change_nothing(
    app: object, workspace: Workspace, fields: dict[str, str], needle: str
) -> None:
    analyst = login(app, "analyst@acme.example")
    did = create(analyst, "Checks")
    r = analyst.post(f"/dashboards/{did}/widgets", fields)
    assert r.status_code == 422, r.text
    assert needle in r.text and 'data-testid="dashboard-error"' in r.text
    assert analyst.get(f"/dashboards/{did}").text.count('data-testid="widget"') == 0


def test_dashboard_form_errors(app: object, workspace: Workspace) -> None:
    analyst = login(app, "analyst@acme.example")
    r = analyst.post("/dashboards", {"name": "  "})
    assert r.status_code == 422 and 'role="alert"' in r.text
    did = create(analyst, "Named")
    r = analyst.post(f"/dashboards/{did}/edit", {"name": ""})
    assert r.status_code == 422 and "Named" in analyst.get(f"/dashboards/{did}").text
    r = analyst.post(f"/dashboards/{did}/widgets/999999/arrange", {"action": "up"})
    assert r.status_code == 404
    assert analyst.post("/dashboards", {"name": "x"}, csrf=False).status_code == 403
    assert login(app, "viewer@acme.example").post("/dashboards", {"name": "V"}).status_code == 403


def test_erasing_the_author_keeps_the_shared_dashboard_without_their_name(
    app: object, workspace: Workspace, api: Callable[..., TestClient]
) -> None:
    analyst = login(app, "analyst@acme.example")
    did = create(analyst, "Team board", shared=True)
    assert "analyst@acme.example" in login(app, "viewer@acme.example").get("/dashboards").text
    r = api("admin").post("/api/v1/privacy/erase", json={"email": "analyst@acme.example", "confirm": True})
    assert r.status_code == 200, r.text
    board = api("viewer").get(f"/api/v1/dashboards/{did}").json()
    assert board["name"] == "Team board" and board["created_by"] == "[erased user]"
    assert "analyst@acme.example" not in login(app, "viewer@acme.example").get("/dashboards").text
