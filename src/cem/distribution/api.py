"""Distribution JSON API: contact rules, audiences + preview, survey channels, triggers, distributions,
the distribution report, and the website widget's public endpoints (CORS per allowed origin)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from cem.api.body import StrictJsonRoute
from cem.api.deps import DbSession, Reader, SurveyManager, get_settings
from cem.distribution import report as report_service
from cem.distribution import service, widget
from cem.distribution.schemas import (
    AudienceIn,
    AudiencePreview,
    AudienceRead,
    AudienceUpdate,
    ContactSettingsIn,
    ContactSettingsRead,
    DistributionIn,
    DistributionRead,
    DistributionReport,
    PreviewIn,
    SurveyChannelSettingsIn,
    SurveyChannelSettingsRead,
    TriggerIn,
    TriggerRead,
)
from cem.errors import BadRequest, CEMError, error_body
from cem.json_input import parse_json
from cem.schemas import Id

router = APIRouter(tags=["survey distribution"], route_class=StrictJsonRoute)
MAX_WIDGET_BODY = 8 * 1024


# -- contact rules ---------------------------------------------------------------------------------


@router.get("/contact-rules", response_model=ContactSettingsRead, summary="The workspace's contact-frequency rules")
def get_contact_rules(session: DbSession, actor: Reader) -> ContactSettingsRead:
    return ContactSettingsRead.model_validate(service.contact_settings(session, workspace_id=actor.workspace_id))


@router.put("/contact-rules", response_model=ContactSettingsRead, summary="Set the contact-frequency rules")
def put_contact_rules(session: DbSession, actor: SurveyManager, data: ContactSettingsIn) -> ContactSettingsRead:
    """Global cooldown, maximum surveys per period, quiet hours (workspace time zone), widget origins."""
    return ContactSettingsRead.model_validate(service.update_contact_settings(session, actor=actor, data=data))


# -- audiences -------------------------------------------------------------------------------------


@router.get("/audiences", response_model=list[AudienceRead], summary="List audiences")
def list_audiences(session: DbSession, actor: Reader) -> list[AudienceRead]:
    return [AudienceRead.model_validate(a) for a in service.list_audiences(session, workspace_id=actor.workspace_id)]


@router.post("/audiences", response_model=AudienceRead, status_code=201, summary="Save an audience")
def create_audience(session: DbSession, actor: SurveyManager, data: AudienceIn) -> AudienceRead:
    return AudienceRead.model_validate(service.create_audience(session, actor=actor, data=data))


@router.post("/audiences/preview", response_model=AudiencePreview, summary="Preview unsaved audience filters")
def preview_filters(session: DbSession, actor: Reader, data: PreviewIn) -> AudiencePreview:
    """Who the filters include now and who they leave out and why (with `survey_id`: the contact rules too)."""
    return service.preview(session, workspace_id=actor.workspace_id, audience_id=None, data=data)


@router.get("/audiences/{audience_id}", response_model=AudienceRead, summary="Get an audience")
def get_audience(session: DbSession, actor: Reader, audience_id: Id) -> AudienceRead:
    return AudienceRead.model_validate(
        service.get_audience(session, workspace_id=actor.workspace_id, audience_id=audience_id)
    )


@router.patch("/audiences/{audience_id}", response_model=AudienceRead, summary="Update an audience")
def update_audience(session: DbSession, actor: SurveyManager, audience_id: Id, data: AudienceUpdate) -> AudienceRead:
    return AudienceRead.model_validate(
        service.update_audience(session, actor=actor, audience_id=audience_id, data=data)
    )


@router.delete("/audiences/{audience_id}", status_code=204, summary="Delete an audience")
def delete_audience(session: DbSession, actor: SurveyManager, audience_id: Id) -> Response:
    service.delete_audience(session, actor=actor, audience_id=audience_id)
    return Response(status_code=204)


@router.post("/audiences/{audience_id}/preview", response_model=AudiencePreview, summary="Preview an audience")
def preview_audience(session: DbSession, actor: Reader, audience_id: Id, data: PreviewIn) -> AudiencePreview:
    return service.preview(session, workspace_id=actor.workspace_id, audience_id=audience_id, data=data)


# -- per survey ------------------------------------------------------------------------------------


@router.get(
    "/surveys/{survey_id}/channels", response_model=SurveyChannelSettingsRead, summary="A survey's channel settings"
)
def get_channels(session: DbSession, actor: Reader, survey_id: Id) -> SurveyChannelSettingsRead:
    survey = service.get_survey(session, workspace_id=actor.workspace_id, survey_id=survey_id)
    return SurveyChannelSettingsRead.model_validate(service.channel_settings(session, survey=survey))


@router.put(
    "/surveys/{survey_id}/channels", response_model=SurveyChannelSettingsRead, summary="Set a survey's channel settings"
)
def put_channels(
    session: DbSession, actor: SurveyManager, survey_id: Id, data: SurveyChannelSettingsIn
) -> SurveyChannelSettingsRead:
    """Recontact rule, cooldown opt-out, email subject, and the website widget's targeting."""
    row = service.update_channel_settings(session, actor=actor, survey_id=survey_id, data=data)
    return SurveyChannelSettingsRead.model_validate(row)


@router.get("/surveys/{survey_id}/triggers", response_model=list[TriggerRead], summary="A survey's event triggers")
def list_triggers(session: DbSession, actor: Reader, survey_id: Id) -> list[TriggerRead]:
    rows = service.list_triggers(session, workspace_id=actor.workspace_id, survey_id=survey_id)
    return [TriggerRead.model_validate(t) for t in rows]


@router.post("/surveys/{survey_id}/triggers", response_model=TriggerRead, summary="Create or update an event trigger")
def put_trigger(session: DbSession, actor: SurveyManager, survey_id: Id, data: TriggerIn) -> TriggerRead:
    """An event of `event_type` (POST /events) sends the survey to its customer after `delay_minutes`."""
    return TriggerRead.model_validate(service.put_trigger(session, actor=actor, survey_id=survey_id, data=data))


@router.delete("/surveys/{survey_id}/triggers/{trigger_id}", status_code=204, summary="Delete an event trigger")
def delete_trigger(session: DbSession, actor: SurveyManager, survey_id: Id, trigger_id: Id) -> Response:
    service.delete_trigger(session, actor=actor, survey_id=survey_id, trigger_id=trigger_id)
    return Response(status_code=204)


@router.get(
    "/surveys/{survey_id}/distributions", response_model=list[DistributionRead], summary="A survey's distributions"
)
def list_distributions(session: DbSession, actor: Reader, survey_id: Id) -> list[DistributionRead]:
    rows = service.list_distributions(session, workspace_id=actor.workspace_id, survey_id=survey_id)
    return [DistributionRead.model_validate(d) for d in rows]


@router.post(
    "/surveys/{survey_id}/distributions",
    response_model=DistributionRead,
    status_code=202,
    summary="Email the survey to an audience",
)
def create_distribution(
    request: Request, session: DbSession, actor: SurveyManager, survey_id: Id, data: DistributionIn
) -> DistributionRead:
    """Queued: a background job applies the contact rules and sends (see the job's progress via job_id)."""
    dist = service.create_distribution(
        session, actor=actor, survey_id=survey_id, data=data, smtp_configured=bool(get_settings(request).smtp_host)
    )
    return DistributionRead.model_validate(dist)


@router.get("/distributions/{distribution_id}", response_model=DistributionRead, summary="Get a distribution")
def get_distribution(session: DbSession, actor: Reader, distribution_id: Id) -> DistributionRead:
    dist = service.get_distribution(session, workspace_id=actor.workspace_id, distribution_id=distribution_id)
    return DistributionRead.model_validate(dist)


@router.get(
    "/surveys/{survey_id}/distribution-report", response_model=DistributionReport, summary="Distribution report"
)
def distribution_report(session: DbSession, actor: Reader, survey_id: Id) -> DistributionReport:
    """Invited, delivered, opened, started, completed per channel; rates; drop-off per question; skips."""
    return report_service.build(session, workspace_id=actor.workspace_id, survey_id=survey_id)


# -- website widget (public) -----------------------------------------------------------------------


def _cors(origin: str | None) -> dict[str, str]:
    if not origin:
        return {}
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


def _widget_error(exc: CEMError, origin: str | None, allowed: bool) -> JSONResponse:
    body = error_body(exc.code, exc.detail, exc.status_code, exc.errors)
    return JSONResponse(body, status_code=exc.status_code, headers=_cors(origin) if allowed else {})


def _widget_config(request: Request, survey_slug: str) -> dict[str, Any]:
    with request.app.state.db.unit_of_work(readonly=True) as session:
        w = widget.load(session, survey_slug)
        widget.check_origin(w, request.headers.get("origin"))
        return widget.config(w)


@router.get("/widget/{survey_slug}", summary="Website widget: targeting config (public, CORS)")
async def widget_config(request: Request, survey_slug: str) -> JSONResponse:
    """Public: the widget script reads when and where to show the survey."""
    origin = request.headers.get("origin")
    try:
        data = await run_in_threadpool(_widget_config, request, survey_slug)
    except CEMError as exc:
        return _widget_error(exc, origin, allowed=exc.status_code == 404)
    return JSONResponse(data, headers=_cors(origin))


def _widget_display(request: Request, survey_slug: str, raw: bytes) -> dict[str, Any]:
    settings = get_settings(request)
    with request.app.state.db.unit_of_work() as session:
        w = widget.load(session, survey_slug)
        widget.check_origin(w, request.headers.get("origin"))
        try:
            body = parse_json(raw or b"null")
        except (ValueError, UnicodeDecodeError):
            raise BadRequest("The body is not valid JSON.") from None
        display = widget.DisplayRequest.parse(body)
        return widget.display(session, w, display, base_url=settings.resolved_public_url)


@router.post("/widget/{survey_slug}/display", summary="Website widget: ask to show the survey (public, CORS)")
async def widget_display(request: Request, survey_slug: str) -> JSONResponse:
    """Public. Body (JSON, sent as text/plain to avoid a CORS preflight): {"url": ..., "customer": "<id>"}.

    Applies the contact-frequency rules to the identified customer; answers {"show": true, "url": ...} with
    a personal survey link, or {"show": false, "reason": ...}.
    """
    origin = request.headers.get("origin")
    raw = await request.body()
    if len(raw) > MAX_WIDGET_BODY:
        return _widget_error(BadRequest("The display request is too large."), origin, allowed=True)
    try:
        data = await run_in_threadpool(_widget_display, request, survey_slug, raw)
    except CEMError as exc:
        return _widget_error(exc, origin, allowed=exc.status_code != 403)
    return JSONResponse(data, headers=_cors(origin))
