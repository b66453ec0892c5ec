"""JSON API for a survey's responses: list them, add a whole one, read one against its version.

Reading needs data:read; sending a whole response needs data:write (the same as any other feedback ingest).
The paths stay under /surveys/{survey_id}/ and in the "surveys" tag; the survey itself is cem.surveys.api.
"""

from __future__ import annotations

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from cem.api.body import StrictJsonRoute
from cem.api.deps import DbSession, Reader, Writer
from cem.auth import audit
from cem.auth.principal import Principal
from cem.customers import service as customer_service
from cem.errors import BadRequest
from cem.responses import service
from cem.responses.schemas import ResponseDetail, ResponseIn, ResponsePage, ResponseRead
from cem.schemas import Id
from cem.surveys import service as survey_service
from cem.surveys.models import RESPONSE_STATUSES, Survey, SurveyResponse

router = APIRouter(tags=["surveys"], route_class=StrictJsonRoute)


def _survey(session: Session, actor: Principal, survey_id: Id) -> Survey:
    return survey_service.get_survey(session, workspace_id=actor.workspace_id, survey_id=survey_id)


def response_read(session: Session, response: SurveyResponse) -> ResponseRead:
    return ResponseRead(
        id=response.id,
        survey_id=response.survey_id,
        version=survey_service.version_number(session, response.version_id),
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
    rows = service.list_responses(session, survey, status=status, limit=limit + 1, before_id=before)
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
    response = service.add_response(
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
    response = service.get_response(session, workspace_id=actor.workspace_id, response_id=response_id)
    if response.survey_id != survey.id:
        response = service.get_response(session, workspace_id=-1, response_id=response_id)  # raises NotFound
    defn = survey_service.version_definition(session, response.version_id)
    items = service.answer_items(defn, response)
    return ResponseDetail(**response_read(session, response).model_dump(), items=items)
