"""Audiences: each filter kind, the preview's included/excluded lists with reasons (filters and contact
rules), and bad filters refused with located errors while nothing is stored."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cem.db.base import utcnow
from cem.db.session import Database
from cem.distribution.models import Contact, Unsubscribe
from tests.conftest import Workspace
from tests.distribution.conftest import add_customers
from tests.test_roles_matrix import login

NOW = utcnow()


@pytest.fixture
def people(db: Database, workspace: Workspace, admin_api: TestClient) -> dict[str, int]:
    ids = add_customers(
        db,
        workspace.id,
        [
            {"external_id": "ana", "email": "ana@example.com", "attributes": {"plan": "pro", "seats": 12}},
            {"external_id": "ben", "email": "ben@example.com", "attributes": {"plan": "free", "seats": 1}},
            {"external_id": "cy", "email": "cy@example.com", "attributes": {"plan": "pro", "seats": 3}},
            {"external_id": "dee", "attributes": {"plan": "pro"}},
        ],
    )
    # Journey: Ana's latest touchpoint is in "delivery", Cy's moved from "delivery" on to "support".
    j = admin_api.post("/api/v1/journeys", json={"key": "buy", "name": "Buy"}).json()
    stages = {}
    for key in ("delivery", "support"):
        s = admin_api.post(f"/api/v1/journeys/{j['id']}/stages", json={"key": key, "name": key}).json()
        admin_api.post(
            f"/api/v1/stages/{s['id']}/touchpoints", json={"key": f"tp-{key}", "name": key, "channel": "web"}
        )
        stages[key] = s["id"]
    events = [
        ("ana", "tp-delivery", 5),
        ("cy", "tp-delivery", 5),
        ("cy", "tp-support", 1),
    ]
    for ext, tp, days in events:
        r = admin_api.post(
            "/api/v1/events",
            json={
                "customer": {"external_id": ext},
                "type": "visit",
                "touchpoint": tp,
                "occurred_at": (NOW - timedelta(days=days)).isoformat(),
            },
        )
        assert r.status_code == 200, r.text
    # Feedback: Ben was a detractor last week; Ana a promoter a year ago.
    for ext, score, days in (("ben", 3, 7), ("ana", 10, 365)):
        r = admin_api.post(
            "/api/v1/feedback",
            json={
                "source_type": "survey",
                "source_name": "old",
                "submission_id": f"s-{ext}",
                "customer": {"external_id": ext},
                "collected_at": (NOW - timedelta(days=days)).isoformat(),
                "field_id": "nps",
                "field_type": "nps",
                "value": score,
            },
        )
        assert r.status_code in (200, 201), r.text
    return ids


def preview(api: TestClient, conditions: list[dict[str, Any]], match: str = "all", **extra: Any) -> dict[str, Any]:
    r = api.post("/api/v1/audiences/preview", json={"filters": {"match": match, "conditions": conditions}, **extra})
    assert r.status_code == 200, r.text
    return r.json()


def names(sample: list[dict[str, Any]]) -> list[str]:
    return sorted(p["external_id"] for p in sample)


CASES = [
    ("attribute equals", [{"kind": "attribute", "key": "plan", "op": "equals", "value": "pro"}], ["ana", "cy", "dee"]),
    ("attribute not equals", [{"kind": "attribute", "key": "plan", "op": "not_equals", "value": "pro"}], ["ben"]),
    ("attribute >= number", [{"kind": "attribute", "key": "seats", "op": "gte", "value": 3}], ["ana", "cy"]),
    ("attribute in", [{"kind": "attribute", "key": "seats", "op": "in", "value": [1, 12]}], ["ana", "ben"]),
    ("attribute not set", [{"kind": "attribute", "key": "seats", "op": "is_not_set"}], ["dee"]),
    ("email set", [{"kind": "field", "field": "email", "op": "is_set"}], ["ana", "ben", "cy"]),
    ("current journey stage", [{"kind": "journey_stage", "journey": "buy", "stage": "delivery"}], ["ana"]),
    (
        "detractor within 30 days",
        [{"kind": "feedback", "field_type": "nps", "op": "lte", "value": 6, "within_days": 30}],
        ["ben"],
    ),
    ("no feedback in 90 days", [{"kind": "feedback", "within_days": 90, "negate": True}], ["ana", "cy", "dee"]),
    (
        "any of two",
        [
            {"kind": "attribute", "key": "seats", "op": "equals", "value": 1},
            {"kind": "journey_stage", "journey": "buy", "stage": "support"},
        ],
        ["ben", "cy"],
    ),
]


@pytest.mark.parametrize(("conditions", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_filter_kinds(
    admin_api: TestClient, people: dict[str, int], conditions: list[dict[str, Any]], expected: list[str]
) -> None:
    result = preview(admin_api, conditions, match="any" if len(conditions) > 1 else "all")
    assert names(result["included_sample"]) == expected
    assert result["included"] == len(expected)
    assert result["excluded"] == 4 - len(expected)
    assert all(p["reason"] == "not_in_audience" and p["detail"] for p in result["excluded_sample"])


def test_segment_and_preview_with_contact_rules(
    admin_api: TestClient, db: Database, workspace: Workspace, people: dict[str, int]
) -> None:
    pro = admin_api.post(
        "/api/v1/audiences",
        json={
            "name": "Pro",
            "filters": {"conditions": [{"kind": "attribute", "key": "plan", "op": "equals", "value": "pro"}]},
        },
    ).json()
    survey = admin_api.post("/api/v1/surveys", json={"name": "Quarterly"}).json()
    other = admin_api.post("/api/v1/surveys", json={"name": "Other"}).json()
    assert admin_api.put("/api/v1/contact-rules", json={"global_cooldown_days": 14}).status_code == 200
    with db.unit_of_work() as session:
        session.add(
            Contact(
                workspace_id=workspace.id,
                customer_id=people["ana"],
                survey_id=other["id"],
                channel="email",
                at=NOW - timedelta(days=2),
            )
        )
        session.add(Unsubscribe(workspace_id=workspace.id, customer_id=people["cy"]))
    r = admin_api.post(f"/api/v1/audiences/{pro['id']}/preview", json={"survey_id": survey["id"], "channel": "email"})
    assert r.status_code == 200, r.text
    result = r.json()
    reasons = {p["external_id"]: p["reason"] for p in result["excluded_sample"]}
    assert reasons == {"ana": "global_cooldown", "cy": "unsubscribed", "dee": "no_email", "ben": "not_in_audience"}
    assert result["included"] == 0
    assert result["excluded_by_reason"] == {
        "global_cooldown": 1,
        "unsubscribed": 1,
        "no_email": 1,
        "not_in_audience": 1,
    }
    # The widget needs no email address: Dee is in for the widget channel.
    widget = admin_api.post(
        f"/api/v1/audiences/{pro['id']}/preview", json={"survey_id": survey["id"], "channel": "widget"}
    ).json()
    assert names(widget["included_sample"]) == ["dee"]
    # A segment: another audience used as a condition, negated.
    not_pro = preview(admin_api, [{"kind": "segment", "audience_id": pro["id"], "negate": True}])
    assert names(not_pro["included_sample"]) == ["ben"]


def test_audience_pages(admin_api: TestClient, people: dict[str, int], workspace: Workspace) -> None:
    created = admin_api.post(
        "/api/v1/audiences",
        json={"name": "Email", "filters": {"conditions": [{"kind": "field", "field": "email", "op": "is_set"}]}},
    ).json()
    browser = TestClient(admin_api.app)
    csrf = login(browser, workspace.user_email("analyst"))
    page = browser.get(f"/audiences/{created['id']}")
    assert page.status_code == 200
    assert "3</strong> included" in page.text and "No email address" not in page.text
    assert "dee" in page.text  # listed among the excluded, with the failed condition
    bad = browser.post("/audiences", data={"csrf_token": csrf, "name": "X", "filters": "{not json"})
    assert bad.status_code == 422 and "not valid JSON" in bad.text
    ok = browser.post(
        "/audiences",
        data={
            "csrf_token": csrf,
            "name": "Pro",
            "filters": '{"conditions":[{"kind":"attribute","key":"plan","op":"equals","value":"pro"}]}',
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303
    assert "Pro" in browser.get("/audiences").text


BAD_FILTERS = [
    ({"conditions": [{"kind": "attribute", "key": "plan", "op": "equals"}]}, 422, "needs a value"),
    ({"conditions": [{"kind": "attribute", "key": "seats", "op": "gte", "value": "ten"}]}, 422, "needs a number"),
    ({"conditions": [{"kind": "planet", "key": "x"}]}, 422, ""),
    ({"conditions": [{"kind": "segment", "audience_id": 999}]}, 422, "does not exist"),
    ({"conditions": [{"kind": "journey_stage", "journey": "buy", "stage": "nope"}]}, 422, "does not exist"),
    ({"conditions": [{"kind": "feedback", "op": "lte"}]}, 422, "both"),
    ({"match": "most", "conditions": []}, 422, ""),
]


@pytest.mark.parametrize(("filters", "status", "message"), BAD_FILTERS)
def test_bad_filters_are_refused_and_nothing_is_stored(
    admin_api: TestClient, people: dict[str, int], filters: dict[str, Any], status: int, message: str
) -> None:
    r = admin_api.post("/api/v1/audiences", json={"name": "Bad", "filters": filters})
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "detail", "status", "errors"}
    assert message in r.text
    assert admin_api.get("/api/v1/audiences").json() == []


def test_audience_crud_and_conflicts(admin_api: TestClient, api: Any) -> None:
    first = admin_api.post("/api/v1/audiences", json={"name": "A"})
    assert first.status_code == 201
    assert admin_api.post("/api/v1/audiences", json={"name": "A"}).status_code == 409
    aid = first.json()["id"]
    # An audience cannot contain itself.
    r = admin_api.patch(
        f"/api/v1/audiences/{aid}", json={"filters": {"conditions": [{"kind": "segment", "audience_id": aid}]}}
    )
    assert r.status_code == 422 and "deep" in r.json()["detail"]
    assert admin_api.get(f"/api/v1/audiences/{aid}").json()["filters"]["conditions"] == []
    assert admin_api.patch(f"/api/v1/audiences/{aid}", json={"name": "B"}).json()["name"] == "B"
    assert api("viewer").post("/api/v1/audiences", json={"name": "V"}).status_code == 403
    assert admin_api.delete(f"/api/v1/audiences/{aid}").status_code == 204
    assert admin_api.get(f"/api/v1/audiences/{aid}").status_code == 404
