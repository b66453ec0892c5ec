from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cem.db.session import Database
from cem.feedback.models import FeedbackRecord
from cem.surveys.models import SurveyResponse
from tests.conftest import Workspace
from tests.surveys.samples import sample_definition


def _create(client: TestClient, definition: dict[str, Any] | None = None, name: str = "CX pulse") -> dict[str, Any]:
    body: dict[str, Any] = {"name": name}
    if definition is not None:
        body["definition"] = definition
    r = client.post("/api/v1/surveys", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def test_create_defaults_to_a_starter_nps_draft(admin_api: TestClient) -> None:
    survey = _create(admin_api)
    assert survey["status"] == "draft" and survey["current_version"] is None
    assert survey["slug"] == "cx-pulse" and survey["url"] == "/s/cx-pulse"
    assert survey["definition"]["pages"][0]["questions"][0]["type"] == "nps"
    assert _create(admin_api)["slug"] == "cx-pulse-2"  # slugs are unique


def test_malformed_definition_is_422_with_location(admin_api: TestClient) -> None:
    bad = sample_definition()
    bad["pages"][0]["questions"][0]["type"] = "hologram"
    r = admin_api.post("/api/v1/surveys", json={"name": "x", "definition": bad})
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "invalid_input"
    assert any(e["loc"][:5] == ["definition", "pages", 0, "questions", 0] for e in body["errors"])
    assert admin_api.get("/api/v1/surveys").json() == []


def test_publish_refuses_logic_errors_with_their_paths(admin_api: TestClient) -> None:
    bad = sample_definition()
    bad["pages"][2]["jump_logic"][0]["target"] = "p1"  # back to an earlier page
    survey = _create(admin_api, bad)
    assert any(p["code"] == "jump_cycle" for p in survey["problems"])
    r = admin_api.post(f"/api/v1/surveys/{survey['id']}/publish")
    assert r.status_code == 400
    assert r.json()["errors"] == [
        {
            "loc": ["pages[2].jump_logic[0].target"],
            "msg": "Jump to 'p1' goes back to an earlier page (a cycle).",
            "code": "jump_cycle",
        }
    ]
    assert admin_api.get(f"/api/v1/surveys/{survey['id']}").json()["status"] == "draft"


def test_validate_reports_errors_and_warnings(admin_api: TestClient) -> None:
    defn = sample_definition()
    defn["languages"].append("fr")
    report = admin_api.post("/api/v1/surveys/validate", json={"definition": defn}).json()
    assert report["valid"] is True and report["errors"] == []
    assert any(w["path"] == "pages[0].questions[0].headline.fr" for w in report["warnings"])
    defn["pages"][1]["questions"][0]["choices"] = []
    report = admin_api.post("/api/v1/surveys/validate", json={"definition": defn}).json()
    assert report["valid"] is False
    assert [e["path"] for e in report["errors"]] == ["pages[1].questions[0].choices"]


def test_lifecycle_and_versions(admin_api: TestClient) -> None:
    survey = _create(admin_api, sample_definition())
    sid = survey["id"]
    live = admin_api.post(f"/api/v1/surveys/{sid}/publish").json()
    assert live["status"] == "live" and live["current_version"] == 1
    # Editing a live survey makes version 2 at once; an invalid edit is refused and changes nothing.
    edited = copy.deepcopy(live["definition"])
    edited["pages"][0]["questions"][0]["headline"]["en"] = "Would you recommend us?"
    assert admin_api.patch(f"/api/v1/surveys/{sid}", json={"definition": edited}).json()["current_version"] == 2
    broken = copy.deepcopy(edited)
    broken["pages"][1]["questions"][0]["choices"] = []
    r = admin_api.patch(f"/api/v1/surveys/{sid}", json={"definition": broken})
    assert r.status_code == 400
    assert admin_api.get(f"/api/v1/surveys/{sid}").json()["definition"] == edited
    assert [v["number"] for v in admin_api.get(f"/api/v1/surveys/{sid}/versions").json()] == [1, 2]
    v1 = admin_api.get(f"/api/v1/surveys/{sid}/versions/1").json()
    assert v1["definition"]["pages"][0]["questions"][0]["headline"]["en"] == "How likely are you to recommend us?"
    assert admin_api.get(f"/api/v1/surveys/{sid}/versions/9").status_code == 404
    assert admin_api.post(f"/api/v1/surveys/{sid}/pause").json()["status"] == "paused"
    assert admin_api.post(f"/api/v1/surveys/{sid}/publish").json()["status"] == "live"
    assert admin_api.post(f"/api/v1/surveys/{sid}/close").json()["status"] == "closed"
    # A published survey keeps its link.
    r = admin_api.patch(f"/api/v1/surveys/{sid}", json={"slug": "new-link"})
    assert r.status_code == 409


def test_responses_via_api_and_readable_against_their_version(
    admin_api: TestClient, api: Callable[[str], TestClient], db: Database
) -> None:
    sid = _create(admin_api, sample_definition())["id"]
    admin_api.post(f"/api/v1/surveys/{sid}/publish")
    agent = api("agent")
    body = {
        "answers": {"nps": 4, "issues": ["speed", "other"], "issues.other": "noise", "csat": 2},
        "customer": {"email": "ana@example.com"},
        "language": "de",
        "submission_id": "ext-1",
    }
    r = agent.post(f"/api/v1/surveys/{sid}/responses", json=body)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["status"] == "completed" and created["channel"] == "api" and created["version"] == 1
    # Bad answers: every problem listed, nothing stored.
    bad = {"answers": {"nps": 11, "issues": ["nope"], "ghost": 1}, "submission_id": "ext-2"}
    r = agent.post(f"/api/v1/surveys/{sid}/responses", json=bad)
    assert r.status_code == 422
    assert sorted(e["loc"][1] for e in r.json()["errors"]) == ["ghost", "issues", "nps"]
    with db.unit_of_work(readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(SurveyResponse)) == 1
        assert session.scalar(select(func.count()).select_from(FeedbackRecord)) == 4
    # Re-sending the same submission replaces it.
    body["answers"] = {"nps": 6}
    assert agent.post(f"/api/v1/surveys/{sid}/responses", json=body).status_code == 201
    with db.unit_of_work(readonly=True) as session:
        assert session.scalars(select(FeedbackRecord.field_id)).all() == ["nps"]
    # Edit the survey (version 2): the old response still reads against version 1.
    defn = admin_api.get(f"/api/v1/surveys/{sid}").json()["definition"]
    defn["pages"][0]["questions"][0]["headline"]["en"] = "Changed wording"
    admin_api.patch(f"/api/v1/surveys/{sid}", json={"definition": defn})
    page = admin_api.get(f"/api/v1/surveys/{sid}/responses").json()
    assert len(page["items"]) == 1 and page["next_cursor"] is None
    detail = admin_api.get(f"/api/v1/surveys/{sid}/responses/{created['id']}").json()
    assert detail["items"][0]["headline"] == "How likely are you to recommend us?"
    assert detail["items"][0]["display"] == "6"
    assert admin_api.get(f"/api/v1/surveys/{sid}/responses?status=weird").status_code == 400
    assert admin_api.delete(f"/api/v1/surveys/{sid}").status_code == 409


def test_viewer_reads_but_cannot_build(api: Callable[[str], TestClient], workspace: Workspace) -> None:
    viewer, analyst = api("viewer"), api("analyst")
    sid = _create(analyst)["id"]
    assert viewer.get(f"/api/v1/surveys/{sid}").status_code == 200
    assert viewer.post(f"/api/v1/surveys/{sid}/publish").status_code == 403
    assert analyst.delete(f"/api/v1/surveys/{sid}").status_code == 200
    assert viewer.get(f"/api/v1/surveys/{sid}").status_code == 404
