"""The CX team's pages about answering a survey: the builder's preview and the response viewer.

The respondents' own pages are cem.responses.web; the builder around the preview is cem.surveys.web.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from cem.api.deps import get_db
from cem.responses import service
from cem.responses.views import preview_view
from cem.responses.web import render_view
from cem.surveys import service as survey_service
from cem.surveys.definition import SurveyDefinition, parse_definition
from cem.surveys.models import SurveyResponse
from cem.web.deps import PageReader, render

router = APIRouter()


@router.get("/surveys/{survey_id}/preview")
def survey_preview(request: Request, principal: PageReader, survey_id: int, page: str = "", lang: str = "") -> Response:
    """The working copy as respondents would see it (any page, logic off, nothing stored)."""
    with get_db(request).unit_of_work(readonly=True) as session:
        survey = survey_service.get_survey(session, workspace_id=principal.workspace_id, survey_id=survey_id)
        defn = parse_definition(survey.definition)
        view = preview_view(survey, defn, page or None, lang or None)
    response = render_view(request, view)
    response.headers["x-frame-options"] = "SAMEORIGIN"
    return response


@router.get("/surveys/{survey_id}/responses")
def response_list(
    request: Request, principal: PageReader, survey_id: int, status: str = "", before: int | None = None
) -> Response:
    with get_db(request).unit_of_work(readonly=True) as session:
        survey = survey_service.get_survey(session, workspace_id=principal.workspace_id, survey_id=survey_id)
        wanted = status if status in ("started", "completed") else None
        rows = service.list_responses(session, survey, status=wanted, limit=51, before_id=before)
        counts = survey_service.response_counts(session, survey)
        versions = {v.id: v.number for v in survey_service.list_versions(session, survey)}
        summaries = [_summary(session, r) for r in rows[:50]]
    return render(
        request,
        "surveys/responses.html",
        principal,
        survey=survey,
        rows=rows[:50],
        summaries=summaries,
        versions=versions,
        counts=counts,
        status=wanted or "",
        next_before=rows[49].id if len(rows) > 50 else None,
    )


def _summary(session: Session, response: SurveyResponse) -> str:
    defn: SurveyDefinition = survey_service.version_definition(session, response.version_id)
    items = service.answer_items(defn, response)
    return "; ".join(f"{i.question_id}: {i.display}" for i in items[:3])[:160]


@router.get("/surveys/{survey_id}/responses/{response_id}")
def response_detail(request: Request, principal: PageReader, survey_id: int, response_id: int) -> Response:
    with get_db(request).unit_of_work(readonly=True) as session:
        survey = survey_service.get_survey(session, workspace_id=principal.workspace_id, survey_id=survey_id)
        response = service.get_response(session, workspace_id=principal.workspace_id, response_id=response_id)
        if response.survey_id != survey.id:
            service.get_response(session, workspace_id=-1, response_id=response_id)  # raises NotFound
        defn = survey_service.version_definition(session, response.version_id)
        items = service.answer_items(defn, response)
        versions = {v.id: v.number for v in survey_service.list_versions(session, survey)}
    return render(
        request,
        "surveys/response.html",
        principal,
        survey=survey,
        response=response,
        items=items,
        version=versions.get(response.version_id),
        seconds=(response.meta or {}).get("seconds_per_question", {}),
    )
