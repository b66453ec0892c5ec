"""A small closed-loop world for the case pages (also used by the browser test): two teams, a round-the-clock SLA
calendar with an urgent and a standard policy, a case opened by a rule from a detractor's answer, and cases
opened by hand in each team and for the agent alone. Stored strings are hostile where a page shows them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from cem.db.session import Database
from cem.jobs.worker import Worker
from tests.cases.conftest import add_users, nps_detractor_rule
from tests.conftest import Workspace

HOSTILE_NAME = "<script>alert('name')</script> Ada"
HOSTILE_TITLE = '<img src=x onerror="alert(1)"> Refund never arrived'
COMMENT = "The courier left my parcel in the rain and nobody answered my three emails about it since Monday."
HASH_ID = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
ALL_DAYS = {day: [["00:00", "23:59"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


@dataclass
class World:
    users: dict[str, int]
    teams: dict[str, int]
    cases: dict[str, int]


def _ok(r: Any, status: int = 201) -> dict[str, Any]:
    assert r.status_code == status, r.text
    result: dict[str, Any] = r.json()
    return result


def build_world(db: Database, workspace: Workspace, admin_api: TestClient) -> World:
    users = add_users(db, workspace)
    care = _ok(
        admin_api.post(
            "/api/v1/teams", json={"name": "Care", "lead_user_id": users["analyst"], "member_ids": [users["agent"]]}
        )
    )
    billing = _ok(admin_api.post("/api/v1/teams", json={"name": "Billing", "member_ids": [users["agent2"]]}))
    calendar = _ok(
        admin_api.post("/api/v1/business-calendars", json={"name": "Always", "timezone": "UTC", "hours": ALL_DAYS})
    )
    urgent = {
        "name": "Urgent",
        "position": 0,
        "conditions": {"priorities": ["urgent"]},
        "calendar_id": calendar["id"],
        "first_response_minutes": 30,
        "resolution_minutes": 240,
    }
    standard = {**urgent, "name": "Standard", "position": 1, "conditions": {}, "first_response_minutes": 600}
    standard["resolution_minutes"] = 2400
    for policy in (urgent, standard):
        _ok(admin_api.post("/api/v1/slas", json=policy))
    rule = nps_detractor_rule(actions={"open_case": {"priority": "high", "team_id": care["id"]}})
    _ok(admin_api.post("/api/v1/alert-rules", json=rule))
    customer = {"external_id": "ada-1", "email": "ada@example.org", "name": HOSTILE_NAME}
    answers = [
        {"field_id": "nps", "field_type": "nps", "field_label": "How likely are you to recommend us?", "value": 3},
        {"field_id": "why", "field_type": "text", "field_label": "Why?", "value": COMMENT},
    ]
    batch = [
        {"source_type": "survey", "source_name": "relationship", "submission_id": "s-ada", "customer": customer, **a}
        for a in answers
    ]
    _ok(admin_api.post("/api/v1/feedback/bulk", json=batch), 200)
    Worker(db, poll_seconds=0.01).run_until_idle()
    [triggered] = admin_api.get("/api/v1/cases").json()["items"]
    hashed = _ok(admin_api.post("/api/v1/customers", json={"external_id": HASH_ID}), 200)
    cases = {
        "triggered": triggered["id"],
        "urgent": _ok(
            admin_api.post(
                "/api/v1/cases",
                json={
                    "title": "Parcel lost twice",
                    "priority": "urgent",
                    "team_id": care["id"],
                    "customer_id": hashed["id"],
                },
            )
        )["id"],
        "billing": _ok(admin_api.post("/api/v1/cases", json={"title": HOSTILE_TITLE, "team_id": billing["id"]}))["id"],
        "agents_own": _ok(
            admin_api.post("/api/v1/cases", json={"title": "Call back about the invoice", "owner_id": users["agent"]})
        )["id"],
    }
    return World(users=users, teams={"care": care["id"], "billing": billing["id"]}, cases=cases)
