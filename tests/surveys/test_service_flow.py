from __future__ import annotations

from sqlalchemy import select

from cem.db.session import Database
from cem.feedback.models import FeedbackRecord
from cem.responses import service as response_service
from cem.surveys import service
from tests.conftest import Workspace
from tests.surveys.samples import sample_definition


def test_detractor_flow_stores_typed_records(db: Database, workspace: Workspace) -> None:
    with db.unit_of_work() as session:
        survey = service.create_survey(session, workspace.principal(), name="CX", definition=sample_definition())
        service.publish_survey(session, workspace.principal(), survey)
        response = response_service.start_response(
            session, survey, channel="link", hidden={"plan": "pro"}, language="de"
        )
        first = response_service.submit_page(
            session, response, page_id="p1", answers={"nps": "3", "name": "Ana"}, nonce="n1"
        )
        assert first.next_page_id == "p2"
        again = response_service.submit_page(session, response, page_id="p1", answers={"nps": "3"}, nonce="n1")
        assert again.duplicate and again.next_page_id == "p2"
        bad = response_service.submit_page(session, response, page_id="p2", answers={"issues": ["other"], "email": "x"})
        assert set(bad.errors) == {"issues", "email"}
        done = response_service.submit_page(
            session,
            response,
            page_id="p2",
            answers={"issues": ["price", "other"], "issues.other": "rude", "email": "a@b.co"},
        )
        assert done.next_page_id == "p3"
        end = response_service.submit_page(session, response, page_id="p3", answers={"reason": "slow", "csat": 2})
        assert end.completed and end.ending_id == "thanks"
        assert response.variables == {"score": 103}
        records = {r.field_id: r for r in session.scalars(select(FeedbackRecord))}
    assert set(records) == {"nps", "name", "issues", "issues.other", "email", "reason", "csat"}
    assert records["nps"].field_type == "nps" and records["nps"].value_number == 3
    assert records["issues"].value_text == "Price; Other"
    assert records["issues"].meta["choice_ids"] == ["price", "other"]
    assert records["csat"].language == "de"
    assert all(r.source_name == survey.slug and r.source_type == "survey" for r in records.values())
