"""Dashboards API: the overview's numbers and arrow logic, CRUD with bad inputs, sharing, and exports."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from cem.analytics.dashboards.rollup import RollupEngine
from cem.analytics.engines.sql import SqlEngine
from cem.analytics.schemas import MetricQuery
from cem.analytics.service import compute
from cem.db.session import Database
from tests.analytics.dashboards.seed import nps_values, records, store
from tests.conftest import Workspace

Z95 = 1.959963984540054
FEB, MAR = date(2026, 2, 10), date(2026, 3, 12)


def adjusted_wald(p: int, d: int, n: int) -> tuple[float, float, float, float]:
    """(lower, upper, NPS', Var') written out from Rocks (2016)."""
    n_adj = n + 3
    p_adj, d_adj = (p + 0.75) / n_adj, (d + 0.75) / n_adj
    var = (p_adj + d_adj - (p_adj - d_adj) ** 2) / n_adj
    half = Z95 * math.sqrt(var)
    return 100 * (p_adj - d_adj - half), 100 * (p_adj - d_adj + half), p_adj - d_adj, var


def two_sided_p(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2))


@pytest.fixture
def program(db: Database, workspace: Workspace) -> Workspace:
    """NPS falls sharply Feb -> Mar; CSAT barely moves; CES has only 10 answers in March."""
    items = records("nps", nps_values(60, 20, 20), FEB) + records("nps", nps_values(30, 20, 50), MAR)
    items += records("csat", [5.0] * 40 + [2.0] * 10, FEB) + records("csat", [5.0] * 42 + [2.0] * 8, MAR)
    items += records("ces", [6.0] * 10, MAR)
    store(db, workspace, items)
    return workspace


def test_overview_tiles_arrow_only_when_significant(program: Workspace, api: Callable[..., TestClient]) -> None:
    body = api("viewer").get("/api/v1/dashboards/overview").json()
    assert body["period_start"] == "2026-03-01" and body["period_end"] == "2026-03-12"
    tiles = {t["metric"]: t for t in body["tiles"]}
    nps = tiles["nps"]
    lower, upper, now, var_now = adjusted_wald(30, 50, 100)
    _, _, before, var_before = adjusted_wald(60, 20, 100)
    assert nps["value"] == pytest.approx(-20.0) and nps["n"] == 100 and nps["previous"] == pytest.approx(40.0)
    assert nps["lower"] == pytest.approx(lower) and nps["upper"] == pytest.approx(upper)
    p = two_sided_p((now - before) / math.sqrt(var_now + var_before))
    assert nps["p_value"] == pytest.approx(p) and p < 0.05
    assert nps["significant"] is True and nps["direction"] == "down"
    csat = tiles["csat"]
    assert csat["value"] == pytest.approx(84.0) and csat["previous"] == pytest.approx(80.0)
    assert csat["p_value"] > 0.05 and csat["significant"] is False and csat["direction"] is None
    ces = tiles["ces"]
    assert ces["status"] == "not_enough_data" and ces["n"] == 10 and ces["value"] is None
    trends = {t["metric"]: t["rows"] for t in body["trends"]}
    assert len(trends["nps"]) == 12 and trends["nps"][-1]["bucket"] == "2026-03-01"
    assert trends["nps"][-2]["value"] == pytest.approx(40.0)
    assert all(r["n"] == 0 and r["status"] == "not_enough_data" for r in trends["nps"][:-2])  # empty, not missing


def test_overview_movers_are_bh_sorted(db: Database, program: Workspace, api: Callable[..., TestClient]) -> None:
    store(db, program, records("nps", nps_values(20, 10, 20), FEB, source="app"))
    store(db, program, records("nps", nps_values(21, 10, 19), MAR, source="app"))
    body = api("viewer").get("/api/v1/dashboards/overview").json()
    movers = body["movers"]
    web = [m for m in movers if m["metric"] == "nps" and m["segment"] == "web-survey"]
    assert web and web[0]["significant"] is True and web[0]["change"] < 0
    assert [m["q_value"] for m in movers] == sorted(m["q_value"] for m in movers)
    # Every comparison scanned is listed here: nps by source (web-survey, app), csat by source. Records with no
    # touchpoint or stage are not a segment, so those dimensions add nothing here.
    assert body["scanned"] == len(movers) == 3
    assert all(m["segment"] is not None for m in movers)
    ps = sorted(m["p_value"] for m in movers)
    m = len(ps)
    expected = [min(ps[j] * m / (j + 1) for j in range(i, m)) for i in range(m)]
    assert sorted(x["q_value"] for x in movers) == pytest.approx([min(1.0, q) for q in expected])
    app = [m for m in movers if m["segment"] == "app"]
    assert app and app[0]["significant"] is False


def test_overview_of_an_empty_workspace(workspace: Workspace, api: Callable[..., TestClient]) -> None:
    body = api("viewer").get("/api/v1/dashboards/overview").json()
    assert [t["status"] for t in body["tiles"]] == ["not_enough_data"] * 3
    assert body["movers"] == [] and body["period_end"] is None


WIDGET = {"metric": "nps", "chart": "line", "interval": "month", "title": "NPS by month"}


def test_dashboard_crud_and_arrangement(program: Workspace, api: Callable[..., TestClient]) -> None:
    analyst = api("analyst")
    r = analyst.post(
        "/api/v1/dashboards",
        json={
            "name": "Weekly review",
            "widgets": [
                WIDGET,
                {"metric": "csat", "chart": "tile"},
                {"metric": "nps", "chart": "bar", "group_by": ["source_name"]},
            ],
        },
    )
    assert r.status_code == 201, r.text
    dash = r.json()
    assert [w["position"] for w in dash["widgets"]] == [0, 1, 2] and dash["mine"] and not dash["shared"]
    widgets = [{k: v for k, v in w.items() if k not in ("id", "position")} for w in dash["widgets"]]
    widgets[0]["width"] = 2
    r = analyst.patch(f"/api/v1/dashboards/{dash['id']}", json={"widgets": widgets[::-1], "name": "Review"})
    assert r.status_code == 200, r.text
    moved = r.json()
    assert [w["metric"] for w in moved["widgets"]] == ["nps", "csat", "nps"]
    assert moved["widgets"][2]["width"] == 2 and moved["name"] == "Review"
    wid = moved["widgets"][2]["id"]
    data = analyst.get(f"/api/v1/dashboards/{dash['id']}/widgets/{wid}/data").json()
    assert data["rows"][-1]["value"] == pytest.approx(-20.0) and data["rows"][-1]["n"] == 100
    assert analyst.delete(f"/api/v1/dashboards/{dash['id']}").json() == {"deleted": True}
    assert analyst.get(f"/api/v1/dashboards/{dash['id']}").status_code == 404


@pytest.mark.parametrize(
    ("widget", "needle"),
    [
        ({"metric": "no_such_metric"}, "unknown metric"),
        ({"metric": "nps", "group_by": ["shoe_size"]}, "unknown field 'shoe_size'"),
        ({"metric": "nps", "filters": ["source_type"]}, "not FIELD=VALUE"),
        ({"metric": "nps", "chart": "line"}, "needs a time interval"),
        ({"metric": "nps", "chart": "tile", "group_by": ["source_name"]}, "one number"),
        ({"metric": "nps", "date_from": "2026-03-01", "date_to": "2026-01-01"}, "after date_to"),
    ],
)
def test_bad_widgets_are_refused_and_nothing_is_stored(
    workspace: Workspace, api: Callable[..., TestClient], widget: dict[str, Any], needle: str
) -> None:
    analyst = api("analyst")
    r = analyst.post("/api/v1/dashboards", json={"name": "Bad", "widgets": [WIDGET, widget]})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "invalid_input" and needle in body["detail"] and "Widget 2" in body["detail"]
    assert body["errors"][0]["loc"][:3] == ["body", "widgets", 1]
    assert analyst.get("/api/v1/dashboards").json() == []


def test_bad_payloads_leave_the_dashboard_untouched(workspace: Workspace, api: Callable[..., TestClient]) -> None:
    analyst = api("analyst")
    dash = analyst.post("/api/v1/dashboards", json={"name": "Keep", "widgets": [WIDGET]}).json()
    for body in ({"name": ""}, {"name": "   "}, {"widgets": [{"metric": "nps", "chart": "pie"}]}, {"colour": "red"}):
        r = analyst.patch(f"/api/v1/dashboards/{dash['id']}", json=body)
        assert r.status_code == 422, (body, r.text)
        assert set(r.json()) == {"error", "detail", "status", "errors"}
    r = analyst.patch(f"/api/v1/dashboards/{dash['id']}", json={"widgets": [{"metric": "nope"}]})
    assert r.status_code == 422
    again = analyst.get(f"/api/v1/dashboards/{dash['id']}").json()
    assert again["name"] == "Keep" and [w["metric"] for w in again["widgets"]] == ["nps"]
    assert analyst.post("/api/v1/dashboards", json={"name": "x" * 201}).status_code == 422
    too_many = {"name": "Big", "widgets": [WIDGET] * 25}
    assert analyst.post("/api/v1/dashboards", json=too_many).status_code == 422
    assert analyst.get(f"/api/v1/dashboards/{dash['id']}/widgets/999999/data").status_code == 404


def test_private_and_shared_dashboards(workspace: Workspace, api: Callable[..., TestClient]) -> None:
    analyst, viewer, admin, agent = api("analyst"), api("viewer"), api("admin"), api("agent")
    private = analyst.post("/api/v1/dashboards", json={"name": "Mine"}).json()
    shared = analyst.post("/api/v1/dashboards", json={"name": "Team", "shared": True, "widgets": [WIDGET]}).json()
    assert [d["name"] for d in viewer.get("/api/v1/dashboards").json()] == ["Team"]
    assert [d["name"] for d in analyst.get("/api/v1/dashboards").json()] == ["Mine", "Team"]
    assert viewer.get(f"/api/v1/dashboards/{private['id']}").status_code == 404  # private is invisible
    assert admin.get(f"/api/v1/dashboards/{private['id']}").status_code == 404
    got = viewer.get(f"/api/v1/dashboards/{shared['id']}").json()
    assert got["can_edit"] is False and got["mine"] is False and got["created_by"]
    # Viewers and agents cannot create or change; another analyst cannot change a colleague's dashboard.
    assert viewer.post("/api/v1/dashboards", json={"name": "V"}).status_code == 403
    assert agent.patch(f"/api/v1/dashboards/{shared['id']}", json={"name": "A"}).status_code == 403
    other = api("analyst")  # a second token: another actor
    r = other.patch(f"/api/v1/dashboards/{shared['id']}", json={"name": "Taken"})
    assert r.status_code == 403 and "owner" in r.json()["detail"]
    # An admin may edit (and delete) a shared dashboard, not a private one.
    assert admin.patch(f"/api/v1/dashboards/{shared['id']}", json={"shared": False, "name": "T2"}).status_code == 200
    assert viewer.get(f"/api/v1/dashboards/{shared['id']}").status_code == 404  # unshared now
    assert admin.delete(f"/api/v1/dashboards/{private['id']}").status_code == 404
    assert analyst.get(f"/api/v1/dashboards/{shared['id']}").json()["name"] == "T2"


def test_exports_csv_and_xlsx(program: Workspace, api: Callable[..., TestClient]) -> None:
    viewer = api("viewer")
    r = viewer.get("/api/v1/dashboards/overview/export", params={"table": "tiles", "format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert 'filename="overview-tiles.csv"' in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["metric"] for row in rows] == ["nps", "csat", "ces"]
    assert float(rows[0]["value"]) == pytest.approx(-20.0) and rows[0]["n"] == "100"
    assert rows[0]["significant"] == "True" and rows[2]["status"] == "not_enough_data" and rows[2]["value"] == ""
    r = viewer.get("/api/v1/dashboards/overview/export", params={"table": "trends", "format": "xlsx"})
    assert r.status_code == 200
    sheet = load_workbook(io.BytesIO(r.content)).active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    assert values[0] == ("metric", "bucket", "value", "lower", "upper", "n", "status")
    feb = [v for v in values[1:] if v[0] == "nps" and v[1] == "2026-02-01"]
    assert feb[0][2] == pytest.approx(40.0) and feb[0][5] == 100
    bad = viewer.get("/api/v1/dashboards/overview/export", params={"table": "secrets"})
    assert bad.status_code == 422 and "tiles, trends, movers" in bad.json()["detail"]
    assert (
        viewer.get("/api/v1/dashboards/overview/export", params={"table": "tiles", "format": "pdf"}).status_code == 422
    )

    analyst = api("analyst")
    widget = {"metric": "nps", "chart": "table", "group_by": ["source_name"]}
    dash = analyst.post("/api/v1/dashboards", json={"name": "S", "shared": True, "widgets": [widget]}).json()
    url = f"/api/v1/dashboards/{dash['id']}/widgets/{dash['widgets'][0]['id']}/export"
    rows = list(csv.DictReader(io.StringIO(viewer.get(url).text)))
    assert rows == [
        {
            "source_name": "web-survey",
            "value": rows[0]["value"],
            "lower": rows[0]["lower"],
            "upper": rows[0]["upper"],
            "n": "200",
            "status": "ok",
        }
    ]
    assert float(rows[0]["value"]) == pytest.approx(10.0)  # (90 promoters - 70 detractors) / 200
    sheet = load_workbook(io.BytesIO(viewer.get(url, params={"format": "xlsx"}).content)).active
    assert sheet is not None and sheet["A2"].value == "web-survey" and sheet["E2"].value == 200


def test_rollup_engine_answers_exactly_like_the_engine(db: Database, program: Workspace) -> None:
    """The overview's one-wide-query engine gives the same rows as asking the engine each question."""
    store(db, program, records("nps", nps_values(20, 10, 20), FEB, source="app"))
    store(db, program, records("nps", nps_values(5, 1, 9), date(2026, 1, 20), source="app"))
    queries = [
        MetricQuery(metric="nps", interval="month", date_from=date(2025, 4, 1), date_to=MAR, compare_to="previous"),
        MetricQuery(metric="nps", group_by=["source_name"], interval="month", date_from=date(2026, 3, 1), date_to=MAR,
                    compare_to="previous", min_n=10),
        MetricQuery(metric="nps", group_by=["stage", "source_name"], interval="week", date_from=date(2026, 1, 5),
                    date_to=MAR),
    ]  # fmt: skip
    with db.unit_of_work(readonly=True) as session:
        for query in queries:
            wide = RollupEngine(
                SqlEngine(session),
                dimensions=("source_name", "touchpoint", "stage"),
                start=datetime(2025, 3, 1, tzinfo=UTC),
                end=datetime(2026, 3, 13, tzinfo=UTC),
            )
            direct = compute(session, workspace_id=program.id, query=query, engine=SqlEngine(session))
            via = compute(session, workspace_id=program.id, query=query, engine=wide)
            assert via.rows == direct.rows and wide.wide_queries == 1
            assert any(r.n for r in via.rows)
        outside = RollupEngine(
            SqlEngine(session),
            dimensions=("stage",),
            start=datetime(2026, 3, 1, tzinfo=UTC),
            end=datetime(2026, 3, 13, tzinfo=UTC),
        )
        compute(session, workspace_id=program.id, query=queries[1], engine=outside)  # source_name: not covered
        assert outside.wide_queries == 0


class CountingEngine:
    """Stands in for the DuckDB engine: the SQL engine's answers, counted."""

    name = "duckdb"

    def __init__(self, session: Any) -> None:
        self.inner = SqlEngine(session) if session is not None else None
        self.calls = 0

    def aggregate(self, query: Any) -> Any:
        self.calls += 1
        return self.inner.aggregate(query)


def test_overview_scans_once_per_metric_and_is_cached_until_the_store_changes(
    db: Database, program: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cem.analytics.dashboards import service

    def overview(engine: CountingEngine) -> Any:
        monkeypatch.setattr(service.metrics, "make_engine", lambda *_a, **_k: engine)
        with db.unit_of_work(readonly=True) as session:
            engine.inner = SqlEngine(session)
            return service.overview(session, workspace_id=program.id)

    duck = CountingEngine(None)
    first = overview(duck)
    assert duck.calls == 3  # one wide query per headline metric answers all twelve questions
    assert overview(duck) is first and duck.calls == 3
    record = {"source_type": "api", "source_name": "late", "submission_id": "late-1", "field_id": "nps"}
    record["collected_at"] = "2026-03-05T10:00:00Z"  # inside the period shown, so the cache key stays the same
    response = program.client.post(
        "/api/v1/feedback", json=record | {"field_type": "nps", "value": 0}, headers=program.headers()
    )
    assert response.status_code in (200, 201), response.text
    changed = overview(duck)  # a new record: computed again
    assert duck.calls == 6 and changed is not first
    assert overview(duck) is changed and duck.calls == 6
    now = service.clock.monotonic()
    monkeypatch.setattr(service.clock, "monotonic", lambda: now + service.OVERVIEW_TTL_SECONDS)
    assert overview(duck) == changed and duck.calls == 9  # an in-place update shows within the TTL
    live = CountingEngine(None)
    live.name = "sql"  # small stores (the SQL engine) are never cached
    overview(live)
    overview(live)
    assert live.calls == 6
