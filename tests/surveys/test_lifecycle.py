"""Lifecycle: draft, live, paused, closed; open/close dates; closing after N responses; versions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cem.db.session import Database
from cem.errors import BadRequest, Conflict
from cem.responses import service as response_service
from cem.surveys import service
from tests.conftest import Workspace
from tests.surveys.samples import sample_definition

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)


def test_states_and_dates_gate_answering(db: Database, workspace: Workspace) -> None:
    defn = sample_definition()
    defn["settings"].update(
        opens_at=(NOW + timedelta(days=1)).isoformat(), closes_at=(NOW + timedelta(days=8)).isoformat()
    )
    actor = workspace.principal()
    with db.unit_of_work() as session:
        survey = service.create_survey(session, actor, name="Dates", definition=defn)
        assert service.availability(survey, NOW) == "This survey is not published yet."
        with pytest.raises(Conflict):
            service.set_status(session, actor, survey, "paused")  # a draft cannot pause
        service.publish_survey(session, actor, survey)
        assert "opens on 2030-06-02" in (service.availability(survey, NOW) or "")
        with pytest.raises(response_service.SurveyUnavailable):
            response_service.start_response(session, survey, now=NOW)
        inside = NOW + timedelta(days=2)
        assert service.availability(survey, inside) is None
        response = response_service.start_response(session, survey, now=inside)
        service.set_status(session, actor, survey, "paused")
        assert "paused" in (service.availability(survey, inside) or "")
        with pytest.raises(response_service.SurveyUnavailable):
            response_service.submit_page(session, response, page_id="p1", answers={"nps": 5}, now=inside)
        service.set_status(session, actor, survey, "live")
        result = response_service.submit_page(session, response, page_id="p1", answers={"nps": 5}, now=inside)
        assert result.next_page_id == "p2"
        assert "closed" in (service.availability(survey, NOW + timedelta(days=9)) or "")
        service.set_status(session, actor, survey, "closed")
        with pytest.raises(response_service.SurveyUnavailable):
            response_service.start_response(session, survey, now=inside)


def test_publishing_needs_a_valid_definition_and_versions_only_on_change(db: Database, workspace: Workspace) -> None:
    actor = workspace.principal()
    broken = sample_definition()
    broken["pages"][0]["jump_logic"][0]["target"] = "nowhere"
    with db.unit_of_work() as session:
        survey = service.create_survey(session, actor, name="V", definition=broken)
        with pytest.raises(BadRequest) as info:
            service.publish_survey(session, actor, survey)
        assert info.value.errors[0]["loc"] == ["pages[0].jump_logic[0].target"]
        assert survey.status == "draft" and survey.current_version_id is None
        service.update_survey(session, actor, survey, definition=sample_definition())
        assert service.publish_survey(session, actor, survey).number == 1
        service.set_status(session, actor, survey, "paused")
        assert service.publish_survey(session, actor, survey).number == 1  # unchanged: same version
        service.update_survey(session, actor, survey, name="Renamed")
        assert [v.number for v in service.list_versions(session, survey)] == [1]


def test_close_after_n_completed_responses(db: Database, workspace: Workspace) -> None:
    defn = sample_definition()
    defn["settings"]["close_after_responses"] = 2
    actor = workspace.principal()
    with db.unit_of_work() as session:
        survey = service.create_survey(session, actor, name="N", definition=defn)
        service.publish_survey(session, actor, survey)
        partial = response_service.start_response(session, survey)
        for _ in range(2):
            response = response_service.start_response(session, survey, hidden={"plan": "pro"})
            response_service.submit_page(session, response, page_id="p1", answers={"nps": 10})
            response_service.submit_page(session, response, page_id="p3", answers={})
        assert survey.status == "closed" and survey.completed_count == 2
        with pytest.raises(response_service.SurveyUnavailable):
            response_service.submit_page(session, partial, page_id="p1", answers={"nps": 1})
