"""Survey interchange API: import (multipart), SurveyJS export, responses as CSV/XLSX, bad inputs."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import func, select

from cem.db.session import Database
from cem.surveys.models import Survey

DEFINITIONS = Path("/work/shared/data/survey-definitions")
MC = DEFINITIONS / "qualtrics/Single_Answer_Multiple_Choice_Questions"


def _surveys(db: Database) -> int:
    with db.unit_of_work(readonly=True) as session:
        return int(session.scalar(select(func.count()).select_from(Survey)) or 0)


def test_import_then_export_everything(admin_api: TestClient) -> None:
    files = [
        ("file", ("mc.qsf", (MC / "Single_Answer_MC_Questions.qsf").read_bytes(), "application/json")),
        ("responses", ("r.csv", (MC / "Single_Answer_MC_Questions.csv").read_bytes(), "text/csv")),
    ]
    r = admin_api.post("/api/v1/surveys/import", files=files, data={"name": "Imported MC"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["question_count"] == 5 and body["name"] == "Imported MC"
    assert body["warnings"] and {"location", "message"} == set(body["warnings"][0])
    assert body["responses"][0]["stored"] == 5 and body["responses"][0]["layout"] == "qualtrics-legacy-2-header"
    survey_id = body["survey_id"]

    # an imported survey is a valid draft: it can go live as it is
    assert admin_api.post(f"/api/v1/surveys/{survey_id}/publish").status_code in (200, 201)
    model = admin_api.get(f"/api/v1/surveys/{survey_id}/export.surveyjs.json")
    assert model.status_code == 200 and model.headers["content-type"].startswith("application/json")
    assert sum(len(p["elements"]) for p in model.json()["pages"]) == 5

    exported = admin_api.get(f"/api/v1/surveys/{survey_id}/responses.csv")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert len(rows) == 2 + 5 and "QID2" in rows[0]

    xlsx = admin_api.get(f"/api/v1/surveys/{survey_id}/responses.xlsx")
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.content), read_only=True)["Responses"]
    assert sum(1 for _ in sheet.iter_rows()) == 7


def test_surveyjs_export_re_imports_through_the_api(admin_api: TestClient) -> None:
    path = DEFINITIONS / "surveyjs/surveyjs-hr-demo_Add_Performance_Review.json"
    first = admin_api.post("/api/v1/surveys/import", files={"file": (path.name, path.read_bytes())}).json()
    model = admin_api.get(f"/api/v1/surveys/{first['survey_id']}/export.surveyjs.json").content
    second = admin_api.post("/api/v1/surveys/import", files={"file": ("again.json", model)})
    assert second.status_code == 201
    assert second.json()["question_count"] == first["question_count"] == 7


def test_bad_uploads_are_400_and_store_nothing(admin_api: TestClient, db: Database) -> None:
    cases = [
        ("survey.pdf", b"%PDF-1.4", "unknown file type"),
        ("survey.lss", b"<document>", "not valid XML"),
        ("survey.json", b"", "empty"),
        ("survey.qsf", b"\x00\x01\x02", "binary"),
    ]
    for name, content, reason in cases:
        r = admin_api.post("/api/v1/surveys/import", files={"file": (name, content)})
        assert r.status_code == 400, r.text
        body = r.json()
        assert body["error"] == "bad_request" and reason in body["detail"] and body["status"] == 400
    # A good definition with an unreadable response file: the whole import is refused, nothing half-stored.
    files = [
        ("file", ("mc.qsf", (MC / "Single_Answer_MC_Questions.qsf").read_bytes())),
        ("responses", ("r.csv", b"just,a,csv\n1,2,3\n")),
    ]
    r = admin_api.post("/api/v1/surveys/import", files=files)
    assert r.status_code == 400 and "not a Qualtrics response export" in r.json()["detail"]
    assert _surveys(db) == 0


def test_missing_file_is_422_and_json_body_415(admin_api: TestClient) -> None:
    r = admin_api.post("/api/v1/surveys/import", data={"name": "x"})
    assert r.status_code == 422 and r.json()["errors"]
    r = admin_api.post("/api/v1/surveys/import", json={"file": "x"})
    assert r.status_code == 415


def test_exports_of_unknown_survey_are_404_and_viewer_cannot_export_responses(
    admin_api: TestClient, api: Callable[..., TestClient]
) -> None:
    for suffix in ("export.surveyjs.json", "responses.csv", "responses.xlsx"):
        r = admin_api.get(f"/api/v1/surveys/987654/{suffix}")
        assert r.status_code == 404 and r.json()["error"] == "not_found"
    path = DEFINITIONS / "surveyjs/collecthor_text.json"
    survey_id = admin_api.post("/api/v1/surveys/import", files={"file": (path.name, path.read_bytes())}).json()[
        "survey_id"
    ]
    viewer = api("viewer")
    assert viewer.get(f"/api/v1/surveys/{survey_id}/export.surveyjs.json").status_code == 200
    assert viewer.get(f"/api/v1/surveys/{survey_id}/responses.csv").status_code == 403
    assert viewer.post("/api/v1/surveys/import", files={"file": (path.name, path.read_bytes())}).status_code == 403


def test_responses_import_route(admin_api: TestClient, api: Callable[..., TestClient]) -> None:
    definition = ("mc.qsf", (MC / "Single_Answer_MC_Questions.qsf").read_bytes())
    survey_id = admin_api.post("/api/v1/surveys/import", files={"file": definition}).json()["survey_id"]
    url = f"/api/v1/surveys/{survey_id}/responses/import"
    export = (MC / "Single_Answer_MC_Questions_Insights.csv").read_bytes()
    r = admin_api.post(url, files={"file": ("new.csv", export)})
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == 5 and r.json()["layout"] == "qualtrics-3-header"
    assert admin_api.post(url, files={"file": ("new.csv", export)}).json()["stored"] == 5  # replaces, no duplicates
    listed = admin_api.get(f"/api/v1/surveys/{survey_id}/responses")
    assert listed.status_code == 200
    # bad inputs: no file field, JSON instead of multipart, unreadable file, unknown survey
    assert admin_api.post(url, files={"other": ("x.csv", b"a")}).json()["error"] == "bad_request"
    assert admin_api.post(url, json={"file": "x"}).status_code == 415
    bad = admin_api.post(url, files={"file": ("x.csv", b"a,b\n1,2\n")})
    assert bad.status_code == 400 and "not a Qualtrics response export" in bad.json()["detail"]
    assert (
        admin_api.post("/api/v1/surveys/987654/responses/import", files={"file": ("x.csv", export)}).status_code == 404
    )
    assert api("viewer").post(url, files={"file": ("new.csv", export)}).status_code == 403
