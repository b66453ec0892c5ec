"""Survey interchange over HTTP: import a definition file (with optional Qualtrics response exports) and export a
survey as SurveyJS JSON or its responses as CSV/XLSX.

Importing builds a survey (surveys:manage); the definition export needs data:read; response exports hold personal
answers, so they need data:export like every other export.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import Response
from starlette.datastructures import UploadFile as StarletteUploadFile

from cem.api.body import StrictJsonRoute
from cem.api.deps import DbSession, Exporter, Importer, Reader, SurveyManager
from cem.api.downloads import attachment, download_route
from cem.api.files import CSV, XLSX
from cem.errors import BadRequest, UnsupportedMediaType
from cem.interchange.exporters.responses import responses_csv, responses_xlsx
from cem.interchange.exporters.surveyjs import to_surveyjs
from cem.interchange.importers import MAX_DEFINITION_BYTES
from cem.interchange.importers.store import add_responses, current_definition, import_survey
from cem.schemas import Id
from cem.surveys import service as survey_service
from cem.surveys.definition import SurveyDefinition
from cem.surveys.models import Survey

router = APIRouter(tags=["surveys"], route_class=StrictJsonRoute)
MAX_RESPONSE_FILE_BYTES = 50 * 1024 * 1024


def _read_upload(upload: StarletteUploadFile, limit: int) -> bytes:
    content = upload.file.read(limit + 1)
    if len(content) > limit:
        raise BadRequest(f"{upload.filename or 'The file'} is larger than {limit // (1024 * 1024)} MB.")
    return content


@router.post("/surveys/import", status_code=201, summary="Import a .qsf, .lss or SurveyJS .json survey definition")
def import_definition(
    session: DbSession,
    actor: SurveyManager,
    file: Annotated[UploadFile, File(description="Qualtrics .qsf, LimeSurvey .lss or SurveyJS .json")],
    responses: Annotated[list[UploadFile] | None, File(description="Qualtrics response CSV export(s)")] = None,
    name: Annotated[str | None, Form(max_length=200)] = None,
) -> dict[str, Any]:
    """201 with the new (draft) survey's id, its question count and every warning; responses are reported per file."""
    content = _read_upload(file, MAX_DEFINITION_BYTES)
    extra = [(r.filename or "responses.csv", _read_upload(r, MAX_RESPONSE_FILE_BYTES)) for r in responses or []]
    outcome = import_survey(
        session, actor, filename=file.filename or "upload", content=content, name=name or None, responses=extra
    )
    return outcome.as_dict()


@dataclass
class _Upload:
    multipart: bool
    file: StarletteUploadFile | None


async def _upload(request: Request) -> _Upload:
    """The multipart field `file`, read here rather than declared so that an unknown survey id is a 404 whatever
    the body (the id is checked first, in the handler)."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return _Upload(multipart=False, file=None)
    form = await request.form()
    value = form.get("file")
    return _Upload(multipart=True, file=value if isinstance(value, StarletteUploadFile) else None)


@router.post(
    "/surveys/{survey_id}/responses/import", summary="Add responses from a Qualtrics CSV export or SurveyJS results"
)
def import_survey_responses(
    session: DbSession,
    actor: Importer,
    survey_id: Id,
    upload: Annotated[_Upload, Depends(_upload)],
) -> dict[str, Any]:
    """Multipart field `file`: a Qualtrics response CSV (2 or 3 header rows) or SurveyJS results .json. Rows that
    fit are stored (idempotent on the source's response id); the others come back with their line."""
    survey = survey_service.get_survey(session, workspace_id=actor.workspace_id, survey_id=survey_id)
    if not upload.multipart:
        raise UnsupportedMediaType("Send the responses file as multipart/form-data in the field 'file'.")
    if upload.file is None:
        raise BadRequest("No file: send the responses file in the multipart field 'file'.")
    content = _read_upload(upload.file, MAX_RESPONSE_FILE_BYTES)
    return add_responses(session, actor, survey, upload.file.filename or "responses.csv", content).as_dict()


@router.get("/surveys/{survey_id}/export.surveyjs.json", summary="The survey's definition as SurveyJS JSON")
def export_surveyjs(session: DbSession, actor: Reader, survey_id: Id) -> Response:
    survey = survey_service.get_survey(session, workspace_id=actor.workspace_id, survey_id=survey_id)
    model = to_surveyjs(survey_service.working_definition(survey), name=survey.name)
    return attachment(json.dumps(model, ensure_ascii=False), "application/json", f"{survey.slug}.surveyjs.json")


def _export_definition(session: DbSession, survey_id: Id, workspace_id: Id) -> tuple[Survey, SurveyDefinition]:
    survey = survey_service.get_survey(session, workspace_id=workspace_id, survey_id=survey_id)
    return survey, current_definition(session, survey)


@download_route(
    router, "/surveys/{survey_id}/responses.csv", summary="The survey's responses as CSV", media_types=(CSV,)
)
def export_responses_csv(session: DbSession, actor: Exporter, survey_id: Id) -> Response:
    survey, defn = _export_definition(session, survey_id, actor.workspace_id)
    return attachment(responses_csv(session, survey, defn), "text/csv; charset=utf-8", f"{survey.slug}-responses.csv")


@download_route(
    router,
    "/surveys/{survey_id}/responses.xlsx",
    summary="The survey's responses as an Excel workbook",
    media_types=(XLSX,),
)
def export_responses_xlsx(session: DbSession, actor: Exporter, survey_id: Id) -> Response:
    survey, defn = _export_definition(session, survey_id, actor.workspace_id)
    return attachment(responses_xlsx(session, survey, defn), XLSX, f"{survey.slug}-responses.xlsx")
