"""Erasing a person removes which topics their texts carried; other people's assignments stay."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cem.db.session import Database
from cem.text.topics import editing
from cem.text.topics.models import RecordTopic
from tests.conftest import Workspace


def test_erasure_deletes_the_persons_topic_assignments(
    admin_api: TestClient, db: Database, workspace: Workspace
) -> None:
    for n, email in enumerate(("ann@example.com", "bob@example.com")):
        body = {
            "source_type": "review",
            "source_name": "shop",
            "submission_id": f"s{n}",
            "customer": {"email": email},
            "field_id": "comment",
            "field_type": "text",
            "value": "I want a refund for the broken blender",
        }
        assert admin_api.post("/api/v1/feedback", json=body).status_code == 200
    with db.unit_of_work() as session:
        rule = editing.create_rule(session, workspace.principal(), "Refunds", "refund")
        rule_id = rule.id
    exported = admin_api.post("/api/v1/privacy/export", json={"email": "ann@example.com"}).json()
    assert len(exported["tables"]["record_topic"]) == 1
    r = admin_api.post("/api/v1/privacy/erase", json={"email": "ann@example.com", "confirm": True})
    assert r.status_code == 200 and r.json()["deleted"]["record_topic"] == 1
    with db.unit_of_work(readonly=True) as session:
        assert session.scalar(select(func.count()).where(RecordTopic.topic_id == rule_id)) == 1
