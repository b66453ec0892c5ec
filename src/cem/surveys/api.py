"""JSON API for surveys: CRUD, validation, lifecycle and versions (their responses: cem.responses.api).

Reading needs data:read; building and running surveys needs surveys:manage (admin, analyst).
"""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.orm import Session

from cem.api.body import StrictJsonRoute
from cem.api.deps import DbSession, Reader, SurveyManager
from cem.auth.principal import Principal
from cem.schemas import Id
from cem.surveys import service
from cem.surveys.models import Survey
from cem.surveys.schemas import (
    DefinitionIn,
    Problem,
    SurveyCreate,
    SurveyDetail,
    SurveyRead,
    SurveyUpdate,
    ValidationReport,
    VersionDetail,
    VersionRead,
)

router = APIRouter(tags=["surveys"], route_class=StrictJsonRoute)


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
        responses=service.response_counts(session, survey),
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
