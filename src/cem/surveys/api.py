"""JSON API for surveys: CRUD, validation, lifecycle, versions and responses.

Reading needs data:read; building and running surveys needs surveys:manage (admin, analyst);
sending a whole response needs data:write (the same as any other feedback ingest).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from cem.api.body import StrictJsonRoute
from cem.api.deps import DbSession, Reader, Writer, require
from cem.auth import audit
from cem.auth.permissions import Permission
from cem.auth.principal import Principal
from cem.customers import service as customer_service
from cem.errors import BadRequest
from cem.responses import service as response_service
from cem.schemas import Id
from cem.surveys import service
from cem.surveys.models import RESPONSE_STATUSES, Survey, SurveyResponse
from cem.surveys.schemas import (
    AnswerView,
    DefinitionIn,
    Problem,
    ResponseDetail,
    ResponseIn,
    ResponsePage,
    ResponseRead,
    SurveyCreate,
    SurveyDetail,
    SurveyRead,
    SurveyUpdate,
    ValidationReport,
    VersionDetail,
    VersionRead,
)

router = APIRouter(tags=["surveys"], route_class=StrictJsonRoute)
SurveyManager = Annotated[Principal, Depends(require(Permission.surveys))]


def _version_number(session: Session, survey: Survey) -> int | None:
    if survey.current_version_id is None:
        return None
    return service.version_number(session, survey.current_version_id)


def survey_read(session: Session, survey: Survey) -> SurveyRead:
    return SurveyRead(
        id=survey.id,
        slug=survey.slug,
        name=survey.name,
        status=survey.status,
        url=f"/s/{survey.slug}",
        current_version=_version_number(session, survey),
        opens_at=survey.opens_at,
        closes_at=survey.closes_at,
        close_after_responses=survey.close_after_responses,
        completed_count=survey.completed_count,
        created_by=survey.created_by,
        created_at=survey.created_at,
        updated_at=survey.updated_at,
    )


def survey_detail(session: Session, survey: Survey) -> SurveyDetail:
    _, problems = service.definition_errors(survey.definition)
    return SurveyDetail(
        **survey_read(session, survey).model_dump(),
        definition=survey.definition,
        problems=[Problem(**p.as_dict()) for p in problems],
        responses=response_service.response_counts(session, survey),
    )


def _survey(session: Session, actor: Principal, survey_id: Id) -> Survey:
    return service.get_survey(session, workspace_id=actor.workspace_id, survey_id=survey_id)


@router.get("/surveys", response_model=list[SurveyRead], summary="List surveys")
def list_surveys(session: DbSession, actor: Reader) -> list[SurveyRead]:
    return [survey_read(session, s) for s in service.list_surveys(session, workspace_id=actor.workspace_id)]


@router.post("/surveys", response_model=SurveyDetail, status_code=201, summary="Create a survey (draft)")
def create_survey(session: DbSession, actor: SurveyManager, body: SurveyCreate) -> SurveyDetail:
    """Without a definition the survey starts with one NPS question."""
    survey = service.create_survey(session, actor, name=body.name, slug=body.slug, definition=body.definition)
    return survey_detail(session, survey)


@router.post("/surveys/validate", response_model=ValidationReport, summary="Check a definition without saving")
def validate_definition(actor: SurveyManager, body: DefinitionIn) -> ValidationReport:  # noqa: ARG001
    _, problems = service.definition_errors(body.definition)
    errors = [Problem(**p.as_dict()) for p in problems if p.severity == "error"]
    warnings = [Problem(**p.as_dict()) for p in problems if p.severity == "warning"]
    return ValidationReport(valid=not errors, errors=errors, warnings=warnings)


@router.get("/surveys/{survey_id}", response_model=SurveyDetail, summary="Get a survey with its working copy")
def get_survey(session: DbSession, actor: Reader, survey_id: Id) -> SurveyDetail:
    return survey_detail(session, _survey(session, actor, survey_id))


@router.patch("/surveys/{survey_id}", response_model=SurveyDetail, summary="Edit a survey")
def update_survey(session: DbSession, actor: SurveyManager, survey_id: Id, body: SurveyUpdate) -> SurveyDetail:
    """On a live or paused survey a definition change must be valid and becomes a new version."""
    survey = _survey(session, actor, survey_id)
    service.update_survey(session, actor, survey, name=body.name, slug=body.slug, definition=body.definition)
    return survey_detail(session, survey)


@router.delete("/surveys/{survey_id}", response_model=SurveyRead, summary="Delete a survey nobody answered")
def delete_survey(session: DbSession, actor: SurveyManager, survey_id: Id) -> SurveyRead:
    survey = _survey(session, actor, survey_id)
    read = survey_read(session, survey)
    service.delete_survey(session, actor, survey)
    return read


@router.post("/surveys/{survey_id}/publish", response_model=SurveyDetail, summary="Validate and go live")
def publish_survey(session: DbSession, actor: SurveyManager, survey_id: Id) -> SurveyDetail:
    survey = _survey(session, actor, survey_id)
    service.publish_survey(session, actor, survey)
    return survey_detail(session, survey)


@router.post("/surveys/{survey_id}/pause", response_model=SurveyDetail, summary="Stop taking answers for now")
def pause_survey(session: DbSession, actor: SurveyManager, survey_id: Id) -> SurveyDetail:
    survey = _survey(session, actor, survey_id)
    service.set_status(session, actor, survey, "paused")
    return survey_detail(session, survey)


@router.post("/surveys/{survey_id}/close", response_model=SurveyDetail, summary="Close the survey")
def close_survey(session: DbSession, actor: SurveyManager, survey_id: Id) -> SurveyDetail:
    survey = _survey(session, actor, survey_id)
    service.set_status(session, actor, survey, "closed")
    return survey_detail(session, survey)


@router.get("/surveys/{survey_id}/versions", response_model=list[VersionRead], summary="Published versions")
def list_versions(session: DbSession, actor: Reader, survey_id: Id) -> list[VersionRead]:
    survey = _survey(session, actor, survey_id)
    return [VersionRead.model_validate(v) for v in service.list_versions(session, survey)]


@router.get("/surveys/{survey_id}/versions/{number}", response_model=VersionDetail, summary="One version")
def get_version(session: DbSession, actor: Reader, survey_id: Id, number: Id) -> VersionDetail:
    survey = _survey(session, actor, survey_id)
    return VersionDetail.model_validate(service.get_version(session, survey, number))


def response_read(session: Session, response: SurveyResponse) -> ResponseRead:
    return ResponseRead(
        id=response.id,
        survey_id=response.survey_id,
        version=service.version_number(session, response.version_id),
        customer_id=response.customer_id,
        submission_id=response.submission_id,
        language=response.language,
        channel=response.channel,
        invitation_id=response.invitation_id,
        status=response.status,
        current_page_id=response.current_page_id,
        ending_id=response.ending_id,
        hidden=response.hidden or {},
        variables=response.variables or {},
        answers=response.answers or {},
        metadata={k: v for k, v in (response.meta or {}).items() if k != "prefill"},
        started_at=response.started_at,
        completed_at=response.completed_at,
    )


@router.get("/surveys/{survey_id}/responses", response_model=ResponsePage, summary="Responses, newest first")
def list_responses(
    session: DbSession,
    actor: Reader,
    survey_id: Id,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = Query(default=50, ge=1, le=500),
) -> ResponsePage:
    survey = _survey(session, actor, survey_id)
    if status is not None and status not in RESPONSE_STATUSES:
        raise BadRequest(f"Unknown status {status!r}; use one of: {', '.join(RESPONSE_STATUSES)}.")
    before = None
    if cursor:
        if not cursor.isdigit():
            raise BadRequest("The cursor is not one this API returned.")
        before = int(cursor)
    rows = response_service.list_responses(session, survey, status=status, limit=limit + 1, before_id=before)
    more = len(rows) > limit
    rows = rows[:limit]
    return ResponsePage(
        items=[response_read(session, r) for r in rows], next_cursor=str(rows[-1].id) if more and rows else None
    )


@router.post("/surveys/{survey_id}/responses", response_model=ResponseRead, status_code=201, summary="Add a response")
def add_response(session: DbSession, actor: Writer, survey_id: Id, body: ResponseIn) -> ResponseRead:
    """A complete response at once (channel "api"); re-sending the same submission_id replaces it."""
    survey = _survey(session, actor, survey_id)
    customer_id = None
    if body.customer is not None:
        customer_id = customer_service.resolve_customers(
            session, workspace_id=actor.workspace_id, refs=[body.customer]
        )[0]
    response = response_service.add_response(
        session,
        survey,
        answers=body.answers,
        submission_id=body.submission_id,
        channel="api",
        customer_id=customer_id,
        language=body.language,
        hidden=body.hidden,
        started_at=body.started_at,
        completed_at=body.completed_at,
    )
    audit.record(
        session,
        actor,
        "survey.response.add",
        entity_type="survey_response",
        entity_id=response.id,
        details={"survey_id": survey.id},
    )
    return response_read(session, response)


@router.get(
    "/surveys/{survey_id}/responses/{response_id}", response_model=ResponseDetail, summary="One response, readable"
)
def get_response(session: DbSession, actor: Reader, survey_id: Id, response_id: Id) -> ResponseDetail:
    """Answers are shown against the version the response was given on, even after later edits."""
    survey = _survey(session, actor, survey_id)
    response = response_service.get_response(session, workspace_id=actor.workspace_id, response_id=response_id)
    if response.survey_id != survey.id:
        response = response_service.get_response(session, workspace_id=-1, response_id=response_id)  # raises NotFound
    defn = service.version_definition(session, response.version_id)
    items = [AnswerView(**vars(item)) for item in response_service.answer_items(defn, response)]
    return ResponseDetail(**response_read(session, response).model_dump(), items=items)
