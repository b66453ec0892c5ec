"""Loop metrics in the metric registry: time to first response and to resolution (means with t intervals),
share within SLA, closed-loop rate and recovery rate (shares with Wilson intervals), on the SQL engine and on
DuckDB attached to the store."""

from __future__ import annotations

import math
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.cases.conftest import nps_record
from tests.distribution.conftest import Clock


def _metric(api: TestClient, slug: str, engine: str) -> dict[str, Any]:
    r = api.get("/api/v1/metrics", params={"metric": slug, "engine": engine, "min_n": 1})
    assert r.status_code == 200, r.text
    (row,) = r.json()["rows"]
    return dict(row)


def _wilson(successes: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


@pytest.mark.parametrize("engine", ["sql", "duckdb"])
def test_loop_metrics(admin_api: TestClient, clock: Clock, engine: str) -> None:
    hours = {d: [["00:00", "23:59"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    calendar_id = admin_api.post(
        "/api/v1/business-calendars", json={"name": "Always", "timezone": "UTC", "hours": hours}
    ).json()["id"]
    sla = {"name": "All", "calendar_id": calendar_id, "first_response_minutes": 30, "resolution_minutes": 120}
    admin_api.post("/api/v1/slas", json=sla)
    admin_api.post("/api/v1/feedback/bulk", json=[nps_record(f"s{i}", 2, customer=f"c{i}") for i in range(3)])
    customers = {c["external_id"]: c["id"] for c in admin_api.get("/api/v1/customers").json()["items"]}
    # (reply after minutes, resolve after minutes, contacted, recovered)
    plan = [(10, 60, True, True), (20, 100, True, False), (45, 200, False, False)]
    ids = [
        admin_api.post("/api/v1/cases", json={"title": f"Case {i}", "customer_id": customers[f"c{i}"]}).json()["id"]
        for i in range(3)
    ]
    start = clock.now
    for case_id, (reply, resolve, contacted, recovered) in zip(ids, plan, strict=True):
        clock.now = start
        clock.advance(minutes=reply)
        assert admin_api.post(f"/api/v1/cases/{case_id}/replies", json={"body": "Hello"}).status_code == 201
        clock.now = start
        clock.advance(minutes=resolve)
        admin_api.patch(f"/api/v1/cases/{case_id}", json={"status": "resolved"})
        outcome = {"contacted": contacted, "root_cause": "delivery", "recovered": recovered}
        assert admin_api.post(f"/api/v1/cases/{case_id}/close", json=outcome).status_code == 200
    first = _metric(admin_api, "time_to_first_response", engine)
    assert first["n"] == 3 and first["value"] == pytest.approx(25.0)
    sd = math.sqrt(((10 - 25) ** 2 + (20 - 25) ** 2 + (45 - 25) ** 2) / 2)
    assert first["upper"] - first["value"] == pytest.approx(4.302652729911275 * sd / math.sqrt(3), rel=1e-6)
    resolution = _metric(admin_api, "time_to_resolution", engine)
    assert resolution["value"] == pytest.approx(120.0)
    within = _metric(admin_api, "sla_compliance", engine)  # the third missed both targets
    assert (within["n"], within["value"]) == (3, pytest.approx(200 / 3))  # shares are percentages
    assert (within["lower"], within["upper"]) == pytest.approx(tuple(100 * b for b in _wilson(2, 3)))
    closed_loop = _metric(admin_api, "closed_loop_rate", engine)  # contacted and answered within 30 minutes
    assert closed_loop["value"] == pytest.approx(200 / 3)
    assert _metric(admin_api, "recovery_rate", engine)["value"] == pytest.approx(100 / 3)
