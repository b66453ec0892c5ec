"""Survey responses are personal data: exported and erased with the person. API writes are audited."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cem.auth.models import AuditLog
from cem.customers.models import Customer
from cem.db.session import Database
from cem.feedback.models import FeedbackRecord
from cem.privacy import service as privacy
from cem.responses import service as response_service
from cem.surveys import service
from cem.surveys.models import SurveyResponse
from tests.conftest import Workspace
from tests.surveys.samples import sample_definition


def test_erasure_removes_the_persons_responses_and_records(db: Database, workspace: Workspace) -> None:
    actor = workspace.principal()
    with db.unit_of_work() as session:
        ana = Customer(workspace_id=workspace.id, email="ana@example.com", attributes={})
        bob = Customer(workspace_id=workspace.id, email="bob@example.com", attributes={})
        session.add_all([ana, bob])
        session.flush()
        survey = service.create_survey(session, actor, name="P", definition=sample_definition())
        service.publish_survey(session, actor, survey)
        for customer in (ana, bob):
            response = response_service.start_response(session, survey, channel="email", customer_id=customer.id)
            response_service.submit_page(session, response, page_id="p1", answers={"nps": 4, "name": customer.email})
        ana_id = ana.id
    with db.unit_of_work() as session:
        exported = privacy.export_person(session, email="ana@example.com", workspace_id=workspace.id)
        assert len(exported["tables"]["survey_response"]) == 1
        privacy.erase_person(session, email="ana@example.com", workspace_id=workspace.id, actor=actor)
    with db.unit_of_work(readonly=True) as session:
        left = session.scalars(select(SurveyResponse.customer_id)).all()
        assert ana_id not in left and len(left) == 1
        texts = session.scalars(select(FeedbackRecord.value_text).where(FeedbackRecord.value_text.is_not(None))).all()
        assert "ana@example.com" not in texts and "bob@example.com" in texts


def test_api_writes_are_audited(admin_api: TestClient, db: Database) -> None:
    sid = admin_api.post("/api/v1/surveys", json={"name": "Audited", "definition": sample_definition()}).json()["id"]
    admin_api.post(f"/api/v1/surveys/{sid}/publish")
    admin_api.post(f"/api/v1/surveys/{sid}/responses", json={"answers": {"nps": 9}})
    admin_api.post(f"/api/v1/surveys/{sid}/close")
    with db.unit_of_work(readonly=True) as session:
        actions = session.scalars(select(AuditLog.action).where(AuditLog.actor_type == "token")).all()
        assert session.scalar(select(func.count()).select_from(SurveyResponse)) == 1
    assert {"survey.create", "survey.publish", "survey.response.add", "survey.closed"} <= set(actions)
