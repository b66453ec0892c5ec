"""Every API error, on every route, leaves in the one JSON shape with its real status code.

422 is reserved for payload validation: authentication, unknown ids, wrong methods, malformed JSON,
wrong content types and size limits all have their own codes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI, params
from fastapi.testclient import TestClient
from httpx import Response

from cem.auth.permissions import Permission
from tests.test_roles_matrix import API, PUBLIC, app_routes, fill

SHAPE = {"error": str, "detail": str, "status": int, "errors": list}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
VALIDATION_CODES = {"validation_error", "invalid_input"}

# A body each route accepts, so a request for an unknown id fails on the id (404), not the body (422).
VALID_BODIES: dict[tuple[str, str], Any] = {
    ("PATCH", "/api/v1/customers/{customer_id}"): {"name": "New name"},
    ("PATCH", "/api/v1/journeys/{journey_id}"): {"name": "New name"},
    ("POST", "/api/v1/journeys/{journey_id}/stages"): {"key": "s1", "name": "Stage"},
    ("PUT", "/api/v1/journeys/{journey_id}/stages/order"): {"ids": []},
    ("PATCH", "/api/v1/stages/{stage_id}"): {"name": "New name"},
    ("POST", "/api/v1/stages/{stage_id}/touchpoints"): {"key": "t1", "name": "Touch", "channel": "web"},
    ("PUT", "/api/v1/stages/{stage_id}/touchpoints/order"): {"ids": []},
    ("PATCH", "/api/v1/touchpoints/{touchpoint_id}"): {"name": "New name"},
    ("PATCH", "/api/v1/sources/{source_id}"): {"name": "New name"},
    ("PATCH", "/api/v1/import-mappings/{mapping_id}"): {"name": "New name"},
    ("PATCH", "/api/v1/surveys/{survey_id}"): {"name": "New name"},
    ("POST", "/api/v1/surveys/{survey_id}/responses"): {"answers": {}},
    ("POST", "/api/v1/hooks/{workspace_slug}/{source_key}"): {"answer": 1},
    ("PATCH", "/api/v1/audiences/{audience_id}"): {"name": "New name"},
    ("POST", "/api/v1/audiences/{audience_id}/preview"): {},
    ("PUT", "/api/v1/surveys/{survey_id}/channels"): {},
    ("POST", "/api/v1/surveys/{survey_id}/triggers"): {"event_type": "ticket.closed"},
    ("POST", "/api/v1/surveys/{survey_id}/distributions"): {"audience_id": 1},
    ("PATCH", "/api/v1/dashboards/{dashboard_id}"): {"name": "New name"},
    ("PUT", "/api/v1/feedback/{record_id}/label"): {"sentiment_label": "negative"},
    ("PATCH", "/api/v1/text/topics/{topic_id}"): {"label": "New label"},
    ("POST", "/api/v1/text/topics/{topic_id}/merge"): {"source_ids": [1]},
    ("POST", "/api/v1/text/topics/{topic_id}/split"): {"k": 2},
    ("PUT", "/api/v1/text/topics/{topic_id}/rule"): {"query": "refund"},
    ("PATCH", "/api/v1/webhooks/{subscription_id}"): {"description": "CRM"},
    ("PUT", "/api/v1/alert-rules/{rule_id}"): {
        "name": "Detractors",
        "condition": {"conditions": [{"field": "score", "field_type": "nps", "op": "<=", "value": 6}]},
    },
    ("PATCH", "/api/v1/teams/{team_id}"): {"name": "New name"},
    ("PATCH", "/api/v1/cases/{case_id}"): {"priority": "high"},
    ("POST", "/api/v1/cases/{case_id}/assign"): {},
    ("POST", "/api/v1/cases/{case_id}/notes"): {"body": "note"},
    ("POST", "/api/v1/cases/{case_id}/replies"): {"body": "reply"},
    ("POST", "/api/v1/cases/{case_id}/close"): {"contacted": True, "root_cause": "delivery", "recovered": False},
    ("PUT", "/api/v1/business-calendars/{calendar_id}"): {
        "name": "Office",
        "timezone": "Europe/Lisbon",
        "hours": {"mon": [["09:00", "17:00"]]},
    },
    ("PUT", "/api/v1/slas/{policy_id}"): {
        "name": "Standard",
        "calendar_id": 1,
        "first_response_minutes": 60,
        "resolution_minutes": 480,
    },
}


def assert_shape(r: Response, status: int, *, code: str | None = None) -> dict[str, Any]:
    """The response is exactly the one error shape, with `status` equal to the HTTP code."""
    assert r.status_code == status, (r.request.method, r.request.url.path, r.status_code, r.text[:200])
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == set(SHAPE), body
    for key, kind in SHAPE.items():
        assert isinstance(body[key], kind), (key, body)
    assert body["status"] == status
    assert body["detail"].strip() and body["error"].strip()
    if code is not None:
        assert body["error"] == code, body
    if status == 422:
        assert body["error"] in VALIDATION_CODES, body
    return body


def takes_body(app: FastAPI, key: tuple[str, str]) -> bool:
    """Routes that read a JSON body (declared, or read by hand as the bulk endpoints do)."""
    route = app_routes(app)[key]
    return bool(route.dependant.body_params) or key[1].endswith("/bulk") or "/hooks/" in key[1]


def takes_form(app: FastAPI, key: tuple[str, str]) -> bool:
    """Upload routes read multipart forms, not JSON."""
    return any(isinstance(p.field_info, params.Form) for p in app_routes(app)[key].dependant.body_params)


def has_params(path: str) -> bool:
    return "{" in path


def test_no_credentials(client: TestClient) -> None:
    for (method, path), rule in sorted(API.items()):
        if rule != PUBLIC:
            body = VALID_BODIES.get((method, path), {}) if method in ("POST", "PUT", "PATCH") else None
            assert_shape(client.request(method, fill(path), json=body), 401, code="unauthorized")


def test_wrong_method(app: FastAPI, admin_api: TestClient) -> None:
    patterns = [(m, re.compile("^" + re.sub(r"\{\w+\}", "[^/]+", p) + "$")) for m, p in API]
    for path in sorted({p for _, p in API}):
        url = fill(path)
        # Methods of every route matching the URL: /customers/bulk also matches /customers/{customer_id}.
        methods = {m for m, regex in patterns if regex.match(url)}
        wrong = next(m for m in METHODS if m not in methods)
        body = assert_shape(admin_api.request(wrong, url), 405, code="method_not_allowed")
        assert wrong in body["detail"]


def test_unknown_ids_are_404(app: FastAPI, admin_api: TestClient) -> None:
    for method, path in sorted(API):
        if not has_params(path):
            continue
        if takes_body(app, (method, path)):
            assert (method, path) in VALID_BODIES, f"add a valid body for {method} {path} to VALID_BODIES"
        r = admin_api.request(method, fill(path), json=VALID_BODIES.get((method, path)))
        assert_shape(r, 404, code="not_found")


def test_ids_that_are_not_numbers_are_404(admin_api: TestClient) -> None:
    for method, path in sorted(API):
        if "_id}" in path:
            url = fill(re.sub(r"\{\w+_id\}", "abc", path))
            assert_shape(admin_api.request(method, url, json=VALID_BODIES.get((method, path))), 404)


def test_invalid_bodies_are_422(app: FastAPI, admin_api: TestClient) -> None:
    for key in sorted(API):
        method, path = key
        if not takes_body(app, key) or API[key] == PUBLIC or takes_form(app, key):
            continue
        bad: Any = [{"no_such_field": 1}] if path.endswith("/bulk") else {"no_such_field": 1}
        # The payload is judged before the ids it names, so an unknown id with a bad body is still 422.
        body = assert_shape(admin_api.request(method, fill(path), json=bad), 422)
        assert body["errors"], "a validation error lists what is wrong"


def test_malformed_json_is_400(app: FastAPI, admin_api: TestClient) -> None:
    for key in sorted(API):
        method, path = key
        if not takes_body(app, key) or API[key] == PUBLIC or takes_form(app, key):
            continue
        r = admin_api.request(method, fill(path), content=b'{"a": 1,', headers={"content-type": "application/json"})
        body = assert_shape(r, 400)
        assert body["error"] in ("malformed_json", "bad_request")
        assert "JSON" in body["detail"]


def test_wrong_content_type_is_415(app: FastAPI, admin_api: TestClient) -> None:
    for key in sorted(API):
        method, path = key
        if not takes_body(app, key) or API[key] == PUBLIC or has_params(path):
            continue
        r = admin_api.request(method, fill(path), content=b"a,b\n1,2\n", headers={"content-type": "text/csv"})
        body = assert_shape(r, 415, code="unsupported_media_type")
        expected = "multipart/form-data" if takes_form(app, key) else "application/json"
        assert expected in body["detail"]


def test_forbidden_is_403(api: Callable[[str], TestClient]) -> None:
    viewer = api("viewer")
    for (method, path), rule in sorted(API.items()):
        if not isinstance(rule, Permission) or rule is Permission.read:
            continue
        body = VALID_BODIES.get((method, path), {}) if method in ("POST", "PUT", "PATCH") else None
        assert_shape(viewer.request(method, fill(path), json=body), 403, code="forbidden")


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [("/api/v1/nope", 404, "not_found"), ("/api/v2/customers", 404, "not_found")],
)
def test_unknown_routes(admin_api: TestClient, path: str, status: int, code: str) -> None:
    assert_shape(admin_api.get(path), status, code=code)


def test_conflict_is_409_not_422(admin_api: TestClient) -> None:
    admin_api.post("/api/v1/customers", json={"external_id": "c1"})
    assert_shape(admin_api.post("/api/v1/jobs/1/retry"), 404)
    journey = {"key": "onb", "name": "Onboarding"}
    assert admin_api.post("/api/v1/journeys", json=journey).status_code == 201
    assert_shape(admin_api.post("/api/v1/journeys", json=journey), 409, code="conflict")


def test_oversized_body_is_413(app: FastAPI, settings: Any, admin_api: TestClient) -> None:
    declared = {"content-type": "application/json", "content-length": str(settings.max_body_bytes + 1)}
    r = admin_api.post("/api/v1/customers", content=b"{}", headers=declared)
    body = assert_shape(r, 413, code="payload_too_large")
    assert "MiB" in body["detail"]
