"""GET /api/v1/metrics over real records, each figure checked against arithmetic in the test."""

from __future__ import annotations

import math
from itertools import count
from typing import Any

import pytest
from fastapi.testclient import TestClient

Z95 = 1.959963984540054
_ids = count()


def records(
    field_type: str,
    values: list[float],
    *,
    day: str = "2026-01-15",
    source: str = "web-survey",
    field_id: str | None = None,
    customer: dict[str, Any] | None = None,
    scale: str | None = None,
) -> list[dict[str, Any]]:
    """One record per value, each its own submission (`scale`: a declared named scale)."""
    out = []
    for v in values:
        rec: dict[str, Any] = {
            "source_type": "survey",
            "source_name": source,
            "submission_id": f"s{next(_ids)}",
            "field_id": field_id or field_type,
            "field_type": field_type,
            "value": v,
            "collected_at": f"{day}T12:00:00Z",
        }
        if customer:
            rec["customer"] = customer
        if scale:
            rec["scale"] = scale
        out.append(rec)
    return out


def store(api: TestClient, items: list[dict[str, Any]]) -> None:
    r = api.post("/api/v1/feedback/bulk", json=items)
    assert r.status_code == 200, r.text


def nps_values(promoters: int, passives: int, detractors: int) -> list[float]:
    return [10] * promoters + [8] * passives + [3] * detractors


def adjusted_wald(p: int, d: int, n: int) -> tuple[float, float, float, float]:
    """(lower, upper, NPS', Var') written out from Rocks (2016)."""
    n_adj = n + 3
    p_adj, d_adj = (p + 0.75) / n_adj, (d + 0.75) / n_adj
    var = (p_adj + d_adj - (p_adj - d_adj) ** 2) / n_adj
    half = Z95 * math.sqrt(var)
    return 100 * (p_adj - d_adj - half), 100 * (p_adj - d_adj + half), p_adj - d_adj, var


def metric(api: TestClient, **params: Any) -> dict[str, Any]:
    r = api.get("/api/v1/metrics", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_nps_overall(admin_api: TestClient) -> None:
    store(admin_api, records("nps", nps_values(20, 20, 10)))
    store(admin_api, records("csat", [5, 4]))  # other field types do not count
    (row,) = metric(admin_api, metric="nps")["rows"]
    lower, upper, _, _ = adjusted_wald(20, 10, 50)
    assert row["value"] == pytest.approx(100 * (20 - 10) / 50)
    assert row["lower"] == pytest.approx(lower, abs=1e-9)
    assert row["upper"] == pytest.approx(upper, abs=1e-9)
    assert row["n"] == 50 and row["status"] == "ok"


def test_small_segments_are_not_enough_data(admin_api: TestClient) -> None:
    store(admin_api, records("nps", nps_values(30, 5, 5), source="app"))
    store(admin_api, records("nps", nps_values(4, 0, 1), source="shop"))
    rows = metric(admin_api, metric="nps", group_by="source_name")["rows"]
    assert [r["segment"] for r in rows] == [{"source_name": "app"}, {"source_name": "shop"}]
    assert rows[0]["value"] == pytest.approx(100 * 25 / 40)
    assert rows[1] == {**rows[1], "value": None, "lower": None, "upper": None, "n": 5, "status": "not_enough_data"}
    # With a lower minimum the small segment gets a number.
    rows = metric(admin_api, metric="nps", group_by="source_name", min_n=5)["rows"]
    assert rows[1]["value"] == pytest.approx(100 * 3 / 5)


def test_empty_months_are_rows(admin_api: TestClient) -> None:
    store(admin_api, records("nps", nps_values(10, 0, 0), day="2026-01-10"))
    store(admin_api, records("nps", nps_values(0, 0, 10), day="2026-03-31"))
    rows = metric(admin_api, metric="nps", interval="month", min_n=1)["rows"]
    assert [(r["bucket"], r["n"], r["value"]) for r in rows] == [
        ("2026-01-01", 10, 100.0),
        ("2026-02-01", 0, None),
        ("2026-03-01", 10, -100.0),
    ]
    weeks = metric(admin_api, metric="feedback_volume", interval="quarter")["rows"]
    assert [(r["bucket"], r["value"]) for r in weeks] == [("2026-01-01", 20.0)]


def test_compare_to_previous_month(admin_api: TestClient) -> None:
    store(admin_api, records("nps", nps_values(15, 25, 20), day="2026-01-20"))
    store(admin_api, records("nps", nps_values(30, 20, 10), day="2026-02-03"))
    body = metric(admin_api, metric="nps", interval="month", compare_to="previous", date_from="2026-02-01")
    (row,) = body["rows"]  # January is read for the comparison but not listed
    _, _, nps1, var1 = adjusted_wald(30, 10, 60)
    _, _, nps2, var2 = adjusted_wald(15, 20, 60)
    z = (nps1 - nps2) / math.sqrt(var1 + var2)
    assert row["bucket"] == "2026-02-01"
    assert row["previous"] == pytest.approx(100 * (15 - 20) / 60)
    assert row["change"] == pytest.approx(100 * 20 / 60 - 100 * (-5) / 60)
    assert row["p_value"] == pytest.approx(math.erfc(abs(z) / math.sqrt(2)), abs=1e-12)
    assert row["q_value"] == pytest.approx(row["p_value"])  # one test: BH changes nothing
    assert row["significant"] is True


def test_compare_a_range_with_the_one_before(admin_api: TestClient) -> None:
    store(admin_api, records("nps", nps_values(20, 10, 10), day="2026-01-05"))
    store(admin_api, records("nps", nps_values(20, 10, 10), day="2026-01-12"))
    body = metric(admin_api, metric="nps", compare_to="previous", date_from="2026-01-08", date_to="2026-01-14")
    (row,) = body["rows"]
    assert row["n"] == 40 and row["previous_n"] == 40
    assert row["change"] == pytest.approx(0.0)
    assert row["p_value"] == pytest.approx(1.0) and row["significant"] is False


def test_csat_top_box_follows_each_fields_scale(admin_api: TestClient) -> None:
    # A 1-5 question (the default): 4 and 5 are satisfied -> 3 of 5. A declared 1-10 question: 9 and 10 -> 2 of 5.
    store(admin_api, records("csat", [5, 4, 4, 3, 1], field_id="q5"))
    store(admin_api, records("csat", [10, 9, 8, 7, 2], field_id="q10", scale="csat-10"))
    rows = metric(admin_api, metric="csat", group_by="field_id", min_n=1)["rows"]
    assert {r["segment"]["field_id"]: r["value"] for r in rows} == {"q10": 40.0, "q5": 60.0}
    (overall,) = metric(admin_api, metric="csat", min_n=1)["rows"]
    p, n = 5 / 10, 10
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 / (1 + Z95**2 / n) * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n))
    assert overall["value"] == 50.0
    assert overall["lower"] == pytest.approx(100 * (centre - half), abs=1e-9)
    assert overall["upper"] == pytest.approx(100 * (centre + half), abs=1e-9)


def test_ces_mean_and_share_agreeing(admin_api: TestClient) -> None:
    values = [7, 6, 5, 5, 4, 3, 7, 2, 6, 5]
    store(admin_api, records("ces", values))
    (mean,) = metric(admin_api, metric="ces", min_n=1)["rows"]
    m = sum(values) / 10
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / 9)
    assert mean["value"] == pytest.approx(m)
    assert mean["upper"] == pytest.approx(m + 2.2621571627409915 * sd / math.sqrt(10), abs=1e-9)
    (agree,) = metric(admin_api, metric="ces_agree", min_n=1)["rows"]
    assert agree["value"] == pytest.approx(70.0)  # 7 of 10 answers are 5-7


def test_group_and_filter_by_customer_attribute(admin_api: TestClient) -> None:
    store(admin_api, records("rating", [5, 4], customer={"external_id": "g1", "attributes": {"plan": "gold"}}))
    store(admin_api, records("rating", [1], customer={"external_id": "b1", "attributes": {"plan": "basic"}}))
    store(admin_api, records("rating", [3]))  # no customer
    rows = metric(admin_api, metric="rating_mean", group_by="customer.plan", min_n=1)["rows"]
    assert [(r["segment"]["customer.plan"], r["value"]) for r in rows] == [("basic", 1.0), ("gold", 4.5), (None, 3.0)]
    (gold,) = metric(admin_api, metric="rating_mean", filter="customer.plan=gold", min_n=1)["rows"]
    assert gold["value"] == 4.5 and gold["n"] == 2


def test_no_data_is_one_empty_row(admin_api: TestClient) -> None:
    (row,) = metric(admin_api, metric="nps")["rows"]
    assert row["n"] == 0 and row["value"] is None and row["status"] == "not_enough_data"


def test_catalog(admin_api: TestClient) -> None:
    slugs = {m["slug"] for m in admin_api.get("/api/v1/metrics/catalog").json()}
    assert {"nps", "csat", "ces", "ces_agree", "rating_mean", "feedback_volume"} <= slugs


@pytest.mark.parametrize(
    ("params", "status", "needle"),
    [
        ({"metric": "nope"}, 404, "known metrics: ces"),
        ({"metric": "nps", "group_by": "colour"}, 422, "Cannot group by"),
        ({"metric": "nps", "filter": "language"}, 422, "Bad filter"),
        ({"metric": "nps", "filter": "colour=red"}, 422, "Bad filter"),
        ({"metric": "nps", "compare_to": "previous"}, 422, "needs an interval"),
        ({"metric": "nps", "date_from": "2026-02-01", "date_to": "2026-01-01"}, 422, "after"),
        ({"metric": "nps", "interval": "fortnight"}, 422, ""),
        ({"metric": "nps", "min_n": -1}, 422, ""),
        ({}, 422, ""),
    ],
)
def test_bad_requests(admin_api: TestClient, params: dict[str, str], status: int, needle: str) -> None:
    r = admin_api.get("/api/v1/metrics", params=params)
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "detail", "status", "errors"} and body["status"] == status
    assert needle in body["detail"]


def test_group_by_touchpoint_stage_and_journey(admin_api: TestClient) -> None:
    journey = admin_api.post("/api/v1/journeys", json={"key": "buy", "name": "Buying"}).json()
    stage = admin_api.post(f"/api/v1/journeys/{journey['id']}/stages", json={"key": "deliver", "name": "Delivery"})
    assert stage.status_code == 201, stage.text
    touch = {"key": "courier", "name": "Courier", "channel": "other"}
    assert admin_api.post(f"/api/v1/stages/{stage.json()['id']}/touchpoints", json=touch).status_code == 201
    late = records("nps", nps_values(1, 0, 3))
    store(admin_api, [{**r, "touchpoint": "courier"} for r in late])
    store(admin_api, records("nps", nps_values(2, 0, 0)))  # no touchpoint
    for dim, key in (("touchpoint", "courier"), ("stage", "deliver"), ("journey", "buy")):
        rows = metric(admin_api, metric="nps", group_by=dim, min_n=1)["rows"]
        assert [(r["segment"][dim], r["n"], r["value"]) for r in rows] == [(key, 4, -50.0), (None, 2, 100.0)]
    (only,) = metric(admin_api, metric="nps", filter="stage=deliver", min_n=1)["rows"]
    assert only["n"] == 4
    by_two = metric(admin_api, metric="feedback_volume", group_by=["source_type", "touchpoint"])["rows"]
    assert [(r["segment"], r["n"]) for r in by_two] == [
        ({"source_type": "survey", "touchpoint": "courier"}, 4),
        ({"source_type": "survey", "touchpoint": None}, 2),
    ]
