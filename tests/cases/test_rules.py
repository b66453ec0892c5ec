"""Alert rules over the API: create, read, replace, delete, preview; every bad input a located error with
nothing stored; a rule that would fire on nearly everything warns on save."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cem.cases.models import AlertRule
from cem.db.session import Database
from tests.cases.conftest import nps_detractor_rule, nps_record


def _rules(db: Database) -> int:
    with db.unit_of_work(readonly=True) as session:
        return int(session.scalar(select(func.count()).select_from(AlertRule)) or 0)


def test_create_read_replace_delete(admin_api: TestClient, db: Database) -> None:
    rule = nps_detractor_rule(
        condition={
            "op": "and",
            "conditions": [
                {"field": "score", "field_type": "nps", "op": "<=", "value": 6},
                {
                    "op": "or",
                    "conditions": [
                        {"field": "text", "op": "matches", "value": r"refund|charge ?back"},
                        {"field": "customer_attribute", "key": "plan", "value": "enterprise"},
                    ],
                },
            ],
        }
    )
    r = admin_api.post("/api/v1/alert-rules", json=rule)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["needs_enrichment"] is False and created["warnings"] == []
    assert created["condition"]["conditions"][1]["conditions"][1]["key"] == "plan"
    rule_id = created["id"]
    assert admin_api.get(f"/api/v1/alert-rules/{rule_id}").json()["name"] == "Detractors"
    replaced = {**rule, "condition": {"conditions": [{"field": "sentiment_label", "value": "negative"}]}}
    r = admin_api.put(f"/api/v1/alert-rules/{rule_id}", json=replaced)
    assert r.status_code == 200 and r.json()["needs_enrichment"] is True
    assert [x["id"] for x in admin_api.get("/api/v1/alert-rules").json()] == [rule_id]
    assert admin_api.delete(f"/api/v1/alert-rules/{rule_id}").status_code == 204
    assert admin_api.get(f"/api/v1/alert-rules/{rule_id}").status_code == 404


@pytest.mark.parametrize(
    ("body", "loc_tail"),
    [
        ({**nps_detractor_rule(), "colour": "red"}, ["colour"]),
        (nps_detractor_rule(dedupe_window_hours="soon"), ["dedupe_window_hours"]),
        (
            nps_detractor_rule(
                condition={"conditions": [{"field": "score", "field_type": "nps", "op": "<=", "value": "six"}]}
            ),
            ["value"],
        ),
        (nps_detractor_rule(condition={"conditions": [{"field": "mood", "value": "sad"}]}), ["leaf"]),
        (
            nps_detractor_rule(condition={"conditions": [{"field": "text", "op": "matches", "value": "(unclosed"}]}),
            ["text"],
        ),
        (
            nps_detractor_rule(condition={"conditions": [{"field": "text", "op": "matches", "value": "(a|aa)+$"}]}),
            ["text"],
        ),
        (
            nps_detractor_rule(condition={"conditions": [{"field": "text", "op": "matches", "value": "x" * 301}]}),
            ["value"],
        ),
        (nps_detractor_rule(condition={"conditions": []}), ["conditions"]),
        (nps_detractor_rule(actions={"open_case": {"priority": "asap"}}), ["priority"]),
        (nps_detractor_rule(actions={"email": ["not-an-address"]}), ["email", 0]),
    ],
)
def test_bad_rules_are_located_and_store_nothing(
    admin_api: TestClient, db: Database, body: dict[str, Any], loc_tail: list[Any]
) -> None:
    r = admin_api.post("/api/v1/alert-rules", json=body)
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert any(e["loc"][: len(loc_tail)] == loc_tail or e["loc"][-len(loc_tail) :] == loc_tail for e in errors), errors
    assert _rules(db) == 0


def test_regex_errors_say_why(admin_api: TestClient) -> None:
    bad = nps_detractor_rule(condition={"conditions": [{"field": "text", "op": "matches", "value": "(unclosed"}]})
    r = admin_api.post("/api/v1/alert-rules", json=bad)
    assert r.status_code == 422, r.text
    msg = " ".join(e["msg"] for e in r.json()["errors"])
    assert "does not compile" in msg
    slow = nps_detractor_rule(condition={"conditions": [{"field": "text", "op": "matches", "value": "(x|xx)+y"}]})
    started = time.monotonic()
    msg = " ".join(e["msg"] for e in admin_api.post("/api/v1/alert-rules", json=slow).json()["errors"])
    assert "catastrophically slow" in msg
    assert time.monotonic() - started < 2  # the probe is bounded, not the pattern's full run


def test_assignment_outside_the_workspace_or_team(admin_api: TestClient, db: Database, users: dict[str, int]) -> None:
    team = admin_api.post("/api/v1/teams", json={"name": "Care", "lead_user_id": users["agent"]}).json()
    r = admin_api.post("/api/v1/alert-rules", json=nps_detractor_rule(actions={"open_case": {"owner_id": 999_999}}))
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["actions", "open_case", "owner_id"]
    outsider = nps_detractor_rule(actions={"open_case": {"team_id": team["id"], "owner_id": users["agent2"]}})
    r = admin_api.post("/api/v1/alert-rules", json=outsider)
    assert r.status_code == 422 and "not a member of team" in r.json()["detail"]
    assert _rules(db) == 0


def test_preview_and_the_noisy_rule_warning(admin_api: TestClient) -> None:
    records = [nps_record(f"s{i}", score, customer=f"c{i}") for i, score in enumerate([0, 3, 6, 7, 9, 10] * 3)]
    assert admin_api.post("/api/v1/feedback/bulk", json=records).status_code == 200
    r = admin_api.post(
        "/api/v1/alert-rules/preview",
        json={
            "condition": {"conditions": [{"field": "score", "field_type": "nps", "op": "<=", "value": 6}]},
            "limit": 2,
        },
    )
    assert r.status_code == 200, r.text
    preview = r.json()
    assert (preview["submissions"], preview["matched"], len(preview["first"])) == (18, 9, 2)
    assert preview["first"][0]["reason"][0]["condition"] == "nps <= 6"
    assert preview["warnings"] == []
    everything = nps_detractor_rule(
        condition={"conditions": [{"field": "score", "field_type": "nps", "op": "<=", "value": 10}]}
    )
    saved = admin_api.post("/api/v1/alert-rules", json=everything)
    assert saved.status_code == 201
    assert "18 of 18 submissions" in saved.json()["warnings"][0]


def test_viewers_read_rules_but_only_managers_change_them(api: Callable[[str], TestClient]) -> None:
    assert api("viewer").get("/api/v1/alert-rules").status_code == 200
    assert api("agent").post("/api/v1/alert-rules", json=nps_detractor_rule()).status_code == 403
    assert api("analyst").post("/api/v1/alert-rules", json=nps_detractor_rule()).status_code == 201
