"""A webhook mapping declares each rating-like field's scale (issue 14), over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.sources.conftest import REVIEW_MAPPING, Source


def _mapping(**declared: Any) -> dict[str, Any]:
    stars = {"path": "review.stars", "field_id": "stars", "field_type": "csat", "label": "Stars", **declared}
    return {**REVIEW_MAPPING, "fields": [stars, REVIEW_MAPPING["fields"][1]]}


def _review(i: int, stars: int) -> dict[str, Any]:
    return {"review": {"id": f"r-{i}", "createdAt": "2024-05-01T10:30:00Z", "stars": stars, "text": "ok"}}


def _post(http: httpx.Client, source: Source, payload: Any) -> httpx.Response:
    headers = {"content-type": "application/json", "x-cem-secret": source.secret}
    return http.post(source.path, content=json.dumps(payload).encode(), headers=headers)


def _stored(admin_api: TestClient) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = admin_api.get("/api/v1/feedback", params={"limit": 500}).json()["items"]
    return items


@pytest.mark.parametrize("declared", [{"scale_min": 1, "scale_max": 5}, {"scale": "stars-5"}])
def test_only_low_stars_declared_one_to_five_are_zero_percent_satisfied(
    http: httpx.Client, make_source: Callable[..., Source], admin_api: TestClient, declared: dict[str, Any]
) -> None:
    source = make_source(mapping=_mapping(**declared))
    r = _post(http, source, [_review(i, 1 + i % 3) for i in range(30)])
    assert r.status_code == 200, r.text
    row = admin_api.get("/api/v1/metrics", params={"metric": "csat", "min_n": 1}).json()["rows"][0]
    assert (row["value"], row["n"]) == (0.0, 30)
    scales = {(s["field_id"], s["scale_min"], s["scale_max"]) for s in _stored(admin_api)}
    assert scales == {("stars", 1.0, 5.0), ("text", None, None)}  # the text field after it keeps no scale


def test_a_value_outside_the_declared_scale_is_422_and_stores_nothing(
    http: httpx.Client, make_source: Callable[..., Source], admin_api: TestClient
) -> None:
    source = make_source(mapping=_mapping(scale="csat-5"))
    r = _post(http, source, [_review(1, 5), _review(2, 6)])
    assert r.status_code == 422, r.text
    (problem,) = r.json()["errors"]
    assert (problem["record"], problem["path"]) == (1, "review.stars")
    assert "between 1 and 5" in problem["msg"]
    assert _stored(admin_api) == []


def test_a_declared_ten_point_scale_takes_ten(
    http: httpx.Client, make_source: Callable[..., Source], admin_api: TestClient
) -> None:
    source = make_source(mapping=_mapping(scale_min=1, scale_max=10))
    assert _post(http, source, [_review(1, 10), _review(2, 8)]).status_code == 200
    row = admin_api.get("/api/v1/metrics", params={"metric": "csat", "min_n": 1}).json()["rows"][0]
    assert (row["value"], row["n"]) == (50.0, 2)  # 9-10 of 10


@pytest.mark.parametrize(
    ("declared", "loc", "message"),
    [
        ({"scale": "csat-5", "scale_min": 1, "scale_max": 5}, "scale", "not both"),
        ({"scale_min": 3, "scale_max": 2}, "scale_max", "must be below"),
    ],
)
def test_bad_declarations_in_a_source_mapping_are_located(
    admin_api: TestClient, declared: dict[str, Any], loc: str, message: str
) -> None:
    body = {"key": "bad", "name": "bad", "source_type": "review", "mapping": _mapping(**declared)}
    r = admin_api.post("/api/v1/sources", json=body)
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert any(e["loc"][-4:] == ["mapping", "fields", 0, loc] and message in e["msg"] for e in errors), errors
