"""Journey view and drivers & gaps pages: the numbers on the page are the analyses' numbers; exports match."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from cem.analytics.dashboards.views import default_metric
from cem.db.session import Database
from tests.analytics.dashboards.seed import store
from tests.conftest import Workspace
from tests.web.helpers import login, seed_journey

T0 = datetime(2026, 2, 1, 10, tzinfo=UTC)


def rec(i: int, sub: str, field: str, ftype: str, value: float, touchpoint: str | None, hours: int) -> dict[str, Any]:
    return {
        "source_type": "survey",
        "source_name": "relationship",
        "submission_id": sub,
        "customer": {"external_id": f"c{i}"},
        "field_id": field,
        "field_type": ftype,
        "value": value,
        "collected_at": T0 + timedelta(hours=hours),
        "touchpoint": touchpoint,
    }


@pytest.fixture
def journey(db: Database, workspace: Workspace) -> dict[str, int]:
    """40 customers rate the website (35 happy); 30 of them call support later (only 10 happy)."""
    ids = seed_journey(db, workspace.principal())
    items = [rec(i, f"w{i}", "csat", "csat", 5.0 if i < 35 else 1.0, "site", i) for i in range(40)]
    items += [rec(i, f"s{i}", "csat", "csat", 5.0 if i < 10 else 1.0, "call", 48 + i) for i in range(30)]
    # Driver data: overall follows speed closely and price loosely.
    for i in range(60):
        speed, price = 1 + i % 5, 1 + (i * 7) % 5
        overall = min(5.0, max(1.0, round(0.8 * speed + 0.2 * price + (0.5 if i % 3 == 0 else 0.0))))
        for field, value in (("overall", overall), ("speed", speed), ("price", price)):
            items.append(rec(100 + i, f"d{i}", field, "rating", float(value), None, 200 + i))
    store(db, workspace, items)
    return ids


def test_default_metric_follows_the_data(db: Database, journey: dict[str, int], workspace: Workspace) -> None:
    with db.unit_of_work(readonly=True) as session:
        assert default_metric(session, workspace_id=workspace.id) == "rating_mean"  # 180 ratings > 70 csat


def test_journey_page_matches_the_analyses_api(
    app: object, journey: dict[str, int], api: Callable[..., TestClient]
) -> None:
    viewer = login(app, "viewer@acme.example")
    r = viewer.get(f"/dashboards/journey?journey_id={journey['journey']}&metric=csat")
    assert r.status_code == 200, r.text
    stages = api("viewer").get(f"/api/v1/analyses/journeys/{journey['journey']}/metrics?metric=csat").json()["stages"]
    cards = re.findall(r'data-testid="stage-card".*?</li>', r.text, re.S)
    assert len(cards) == 2
    assert stages[0]["value"] == pytest.approx(87.5) and stages[1]["value"] == pytest.approx(100 / 3)
    for card, stage in zip(cards, stages, strict=True):
        assert f"{stage['value']:.1f}%" in card and f'data-testid="stage-n">{stage["n"]}<' in card
        assert f'data-testid="stage-volume">{stage["volume"]}<' in card
    assert "Call centre" in cards[1] and "Top pain point" in cards[1]
    funnel = re.findall(r'data-testid="funnel-reached">(\d+)<', r.text)
    assert funnel == ["40", "30"]
    pains = re.findall(r'data-testid="pain-row"><th scope="row">([^<]+)</th>', r.text)
    assert pains[0] == "Support / Call centre"
    assert "data-chart=" in r.text and "funnel" in r.text
    bad = viewer.get("/dashboards/journey?journey_id=abc&date_from=soon")
    assert bad.status_code == 400 and "is not a whole number" in bad.text and "is not a date" in bad.text
    assert viewer.get("/dashboards/journey?journey_id=999999").status_code == 400


def test_gaps_on_both_views_and_exports(app: object, journey: dict[str, int], api: Callable[..., TestClient]) -> None:
    analyst = api("analyst")
    r = analyst.put("/api/v1/analyses/targets", json={"stage_id": journey["support"], "metric": "csat", "target": 80})
    assert r.status_code == 200, r.text
    viewer = login(app, "viewer@acme.example")
    for url in (f"/dashboards/journey?journey_id={journey['journey']}&metric=csat", "/dashboards/drivers"):
        page = viewer.get(url).text
        gaps = re.findall(r'data-testid="gap-value">([^<]+)<', page)
        assert gaps == ["-46.7%"], url  # 33.3% perceived against 80 promised
    q = f"journey_id={journey['journey']}&metric=csat"
    rows = list(
        csv.DictReader(io.StringIO(viewer.client.get(f"/api/v1/dashboards/journey/export?table=gaps&{q}").text))
    )
    assert rows[0]["status"] == "below" and float(rows[0]["gap"]) == pytest.approx(100 / 3 - 80)
    funnel = viewer.client.get(f"/api/v1/dashboards/journey/export?table=funnel&format=xlsx&{q}")
    sheet = load_workbook(io.BytesIO(funnel.content)).active
    assert sheet is not None
    assert [c.value for c in sheet["D"]][:3] == ["reached", 40, 30]
    stages = list(
        csv.DictReader(io.StringIO(viewer.client.get(f"/api/v1/dashboards/journey/export?table=stages&{q}").text))
    )
    assert [s["name"] for s in stages] == ["Browse", "Support"] and stages[1]["top_pain_point"] == "Call centre"
    tps = viewer.client.get(f"/api/v1/dashboards/journey/export?table=touchpoints&{q}").text
    assert "Call centre" in tps and "Website" in tps
    bad = viewer.client.get(f"/api/v1/dashboards/journey/export?table=everything&{q}")
    assert bad.status_code == 422 and "stages, touchpoints" in bad.json()["detail"]


def test_driver_quadrant_page_and_export(app: object, journey: dict[str, int], api: Callable[..., TestClient]) -> None:
    viewer = login(app, "viewer@acme.example")
    query = "outcome=overall&driver=speed&driver=price&bootstrap=50&segment_metric=csat&segment_by=touchpoint"
    r = viewer.get(f"/dashboards/drivers?{query}")
    assert r.status_code == 200, r.text
    result = api("viewer").get("/api/v1/analyses/drivers?outcome=overall&driver=speed&driver=price&bootstrap=50").json()
    assert f'data-testid="r2">{result["r2"]:.3f}<' in r.text
    shown = re.findall(r'data-testid="driver-johnson">([^<]+)<', r.text)
    assert shown == [f"{d['johnson']:.4f}" for d in result["drivers"]]
    assert sum(d["johnson"] for d in result["drivers"]) == pytest.approx(result["r2"])
    assert result["drivers"][0]["field_id"] == "speed" and '"kind": "quadrant"' in r.text
    segments = re.findall(r'data-testid="segment-row"><th scope="row">([^<]+)</th>', r.text)
    assert segments == ["call", "site"]
    export = viewer.client.get(f"/api/v1/dashboards/drivers/export?table=drivers&{query}")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [row["field_id"] for row in rows] == [d["field_id"] for d in result["drivers"]]
    assert float(rows[0]["johnson"]) == pytest.approx(result["drivers"][0]["johnson"])
    seg = list(
        csv.DictReader(io.StringIO(viewer.client.get(f"/api/v1/dashboards/drivers/export?table=segments&{query}").text))
    )
    assert [(s["touchpoint"], s["n"]) for s in seg] == [("call", "30"), ("site", "40")]
    # Too few answers for a driver analysis: the reason is shown, the rest of the page still works.
    few = viewer.get("/dashboards/drivers?outcome=csat&driver=overall")
    assert few.status_code == 200 and 'data-testid="driver-error"' in few.text and "segment-table" in few.text
    nothing = viewer.client.get("/api/v1/dashboards/drivers/export?table=drivers")
    assert nothing.status_code == 422 and "outcome" in nothing.json()["detail"]
    bad = viewer.get("/dashboards/drivers?segment_by=shoe_size&bootstrap=many")
    assert bad.status_code == 400 and "bootstrap" in bad.text
    shoe = viewer.get("/dashboards/drivers?segment_by=shoe_size")
    assert shoe.status_code == 400 and "Cannot break down by" in shoe.text
