"""Distribution pages: audiences with their preview, a survey's distribution page (report, sending,
channels, triggers), contact rules; and the public invitation and unsubscribe links (no login).

Forms post and redirect (work without JavaScript); an error re-renders the page with the reason.
"""

from __future__ import annotations

import json
from itertools import zip_longest
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from cem.api.deps import get_db, get_settings
from cem.auth.permissions import Permission
from cem.auth.principal import Principal
from cem.distribution import report as report_service
from cem.distribution import service
from cem.distribution.reminder_schedule import MAX_REMINDERS
from cem.distribution.rules import REASON_LABELS
from cem.distribution.schemas import (
    AudienceFilter,
    AudienceIn,
    AudienceUpdate,
    ContactSettingsIn,
    DistributionIn,
    PreviewIn,
    ReminderIn,
    SurveyChannelSettingsIn,
    TriggerIn,
)
from cem.errors import CEMError, NotFound
from cem.json_input import parse_json
from cem.surveys import service as survey_service
from cem.web.deps import PageReader, page_permission, render
from cem.web.forms import blank_to_none, see_other
from cem.web.refusals import refusal_message, refused
from cem.web.templating import templates

router = APIRouter()
PageSurveys = Annotated[Principal, Depends(page_permission(Permission.surveys))]
Text = Annotated[str, Form(max_length=20000)]
TextList = Annotated[list[str] | None, Form(max_length=20)]

EXAMPLE_FILTERS = json.dumps(
    {
        "match": "all",
        "conditions": [
            {"kind": "field", "field": "email", "op": "is_set"},
            {"kind": "attribute", "key": "plan", "op": "equals", "value": "pro"},
            {"kind": "feedback", "field_type": "nps", "within_days": 90, "negate": True},
        ],
    },
    indent=2,
)


def _page(request: Request, principal: Principal, template: str, context: dict[str, Any]) -> Response:
    """A distribution page; its forms are shown to those who may manage surveys."""
    return render(request, template, principal, can_edit=principal.can(Permission.surveys), **context)


def _filters(raw: str) -> AudienceFilter:
    try:
        data = parse_json(raw or "{}")
    except ValueError as exc:
        raise ValueError(f"The filters are not valid JSON: {exc}") from None
    return AudienceFilter.model_validate(data)


# -- audiences -------------------------------------------------------------------------------------


def _audiences_page(request: Request, principal: Principal, **extra: Any) -> Response:
    with get_db(request).unit_of_work(readonly=True) as session:
        audiences = service.list_audiences(session, workspace_id=principal.workspace_id)
    context: dict[str, Any] = {"audiences": audiences, "error": None, "form": {"filters": EXAMPLE_FILTERS}, **extra}
    return _page(request, principal, "distribution/audiences.html", context)


@router.get("/audiences")
def audience_list(request: Request, principal: PageReader) -> Response:
    """Saved audiences and, for survey managers, a form to add one."""
    return _audiences_page(request, principal)


@router.post("/audiences")
def audience_create(
    request: Request, principal: PageSurveys, name: Text = "", description: Text = "", filters: Text = ""
) -> Response:
    form = {"name": name, "description": description, "filters": filters}
    try:
        data = AudienceIn(name=name, description=description.strip(), filters=_filters(filters))
        with get_db(request).unit_of_work() as session:
            audience_id = service.create_audience(session, actor=principal, data=data).id
    except (CEMError, ValidationError, ValueError) as exc:
        return refused(_audiences_page(request, principal, error=refusal_message(exc), form=form), exc)
    return see_other(f"/audiences/{audience_id}")


def _audience_page(
    request: Request, principal: Principal, audience_id: int, survey_id: int | None, channel: str, **extra: Any
) -> Response:
    with get_db(request).unit_of_work(readonly=True) as session:
        audience = service.get_audience(session, workspace_id=principal.workspace_id, audience_id=audience_id)
        surveys = survey_service.list_surveys(session, workspace_id=principal.workspace_id)
        preview_error = None
        try:
            preview = service.preview(
                session,
                workspace_id=principal.workspace_id,
                audience_id=audience_id,
                data=PreviewIn(survey_id=survey_id, channel="widget" if channel == "widget" else "email", sample=50),
            )
        except CEMError as exc:
            preview, preview_error = None, exc.detail
    context: dict[str, Any] = {
        "audience": audience,
        "filters_json": json.dumps(audience.filters, indent=2),
        "preview": preview,
        "preview_error": preview_error,
        "surveys": surveys,
        "survey_id": survey_id,
        "channel": channel,
        "reason_labels": REASON_LABELS,
        "error": None,
        **extra,
    }
    return _page(request, principal, "distribution/audience.html", context)


@router.get("/audiences/{audience_id}")
def audience_detail(
    request: Request, principal: PageReader, audience_id: int, survey_id: str = "", channel: str = "email"
) -> Response:
    """The audience's filters and a preview: who is in, who is left out and why (optionally with a survey's rules)."""
    sid = int(survey_id) if survey_id.isdigit() else None
    return _audience_page(request, principal, audience_id, sid, channel)


@router.post("/audiences/{audience_id}/edit")
def audience_edit(
    request: Request,
    principal: PageSurveys,
    audience_id: int,
    name: Text = "",
    description: Text = "",
    filters: Text = "",
) -> Response:
    try:
        data = AudienceUpdate(
            name=blank_to_none(name), description=description.strip(), filters=_filters(filters) if filters else None
        )
        with get_db(request).unit_of_work() as session:
            service.update_audience(session, actor=principal, audience_id=audience_id, data=data)
    except NotFound:
        raise
    except (CEMError, ValidationError, ValueError) as exc:
        return refused(_audience_page(request, principal, audience_id, None, "email", error=refusal_message(exc)), exc)
    return see_other(f"/audiences/{audience_id}")


@router.post("/audiences/{audience_id}/delete")
def audience_delete(request: Request, principal: PageSurveys, audience_id: int) -> Response:
    with get_db(request).unit_of_work() as session:
        service.delete_audience(session, actor=principal, audience_id=audience_id)
    return see_other("/audiences")


# -- contact rules ---------------------------------------------------------------------------------


def _rules_page(request: Request, principal: Principal, **extra: Any) -> Response:
    with get_db(request).unit_of_work(readonly=True) as session:
        cs = service.contact_settings(session, workspace_id=principal.workspace_id)
    form = {
        "global_cooldown_days": cs.global_cooldown_days,
        "max_per_period": cs.max_per_period or "",
        "period_days": cs.period_days,
        "quiet_start": cs.quiet_start or "",
        "quiet_end": cs.quiet_end or "",
        "timezone": cs.timezone,
        "allowed_origins": "\n".join(cs.allowed_origins or []),
    }
    context: dict[str, Any] = {"form": form, "error": None, "saved": request.query_params.get("saved"), **extra}
    return _page(request, principal, "distribution/contact_rules.html", context)


@router.get("/contact-rules")
def contact_rules_page(request: Request, principal: PageReader) -> Response:
    """The workspace's contact-frequency rules."""
    return _rules_page(request, principal)


@router.post("/contact-rules")
def contact_rules_save(
    request: Request,
    principal: PageSurveys,
    global_cooldown_days: Text = "0",
    max_per_period: Text = "",
    period_days: Text = "30",
    quiet_start: Text = "",
    quiet_end: Text = "",
    timezone: Text = "UTC",
    allowed_origins: Text = "",
) -> Response:
    form = {
        "global_cooldown_days": global_cooldown_days,
        "max_per_period": max_per_period,
        "period_days": period_days,
        "quiet_start": quiet_start,
        "quiet_end": quiet_end,
        "timezone": timezone,
        "allowed_origins": allowed_origins,
    }
    try:
        data = ContactSettingsIn.model_validate(
            {
                "global_cooldown_days": global_cooldown_days or 0,
                "max_per_period": blank_to_none(max_per_period),
                "period_days": period_days or 30,
                "quiet_start": blank_to_none(quiet_start),
                "quiet_end": blank_to_none(quiet_end),
                "timezone": timezone.strip() or "UTC",
                "allowed_origins": [o.strip() for o in allowed_origins.splitlines() if o.strip()],
            }
        )
        with get_db(request).unit_of_work() as session:
            service.update_contact_settings(session, actor=principal, data=data)
    except (CEMError, ValidationError) as exc:
        return refused(_rules_page(request, principal, error=refusal_message(exc), form=form), exc)
    return see_other("/contact-rules?saved=1")


# -- a survey's distribution page -------------------------------------------------------------------


def _survey_page(request: Request, principal: Principal, survey_id: int, **extra: Any) -> Response:
    settings = get_settings(request)
    with get_db(request).unit_of_work(readonly=True) as session:
        survey = service.get_survey(session, workspace_id=principal.workspace_id, survey_id=survey_id)
        report = report_service.build(session, workspace_id=principal.workspace_id, survey_id=survey_id)
        channels = service.channel_settings(session, survey=survey)
        triggers = service.list_triggers(session, workspace_id=principal.workspace_id, survey_id=survey_id)
        audiences = service.list_audiences(session, workspace_id=principal.workspace_id)
    base = settings.resolved_public_url
    snippet = (
        f'<script src="{base}/static/js/widget.js" data-survey="{survey.slug}" async></script>\n'
        "<script>window.cem=window.cem||function(){(cem.q=cem.q||[]).push(arguments)};\n"
        'cem("identify", "CUSTOMER-ID"); // optional: your id of the signed-in customer</script>'
    )
    context: dict[str, Any] = {
        "survey": survey,
        "report": report,
        "channels": channels,
        "triggers": triggers,
        "audiences": audiences,
        "smtp_configured": bool(settings.smtp_host),
        "snippet": snippet,
        "max_reminders": MAX_REMINDERS,
        "reason_labels": REASON_LABELS,
        "error": None,
        **extra,
    }
    return _page(request, principal, "distribution/survey.html", context)


@router.get("/surveys/{survey_id}/distribution")
def survey_distribution(request: Request, principal: PageReader, survey_id: int) -> Response:
    """Report (funnel, drop-off, skips), email sending, widget and trigger settings of one survey."""
    return _survey_page(request, principal, survey_id)


def _survey_form(request: Request, principal: Principal, survey_id: int, action: Any) -> Response:
    try:
        with get_db(request).unit_of_work() as session:
            action(session)
    except NotFound:
        raise
    except (CEMError, ValidationError, ValueError) as exc:
        return refused(_survey_page(request, principal, survey_id, error=refusal_message(exc)), exc)
    return see_other(f"/surveys/{survey_id}/distribution")


def _reminder_rows(days: list[str], subjects: list[str]) -> list[ReminderIn]:
    """The form's reminder rows (days, subject); blank rows are left out."""
    out: list[ReminderIn] = []
    for number, (raw_days, raw_subject) in enumerate(zip_longest(days, subjects, fillvalue=""), start=1):
        raw_days, raw_subject = raw_days.strip(), raw_subject.strip()
        if not raw_days and not raw_subject:
            continue
        if not raw_days:
            raise ValueError(f"Reminder {number}: enter after how many days to send it (or clear its subject).")
        try:
            after_days = float(raw_days.replace(",", "."))
        except ValueError:
            raise ValueError(f"Reminder {number}: {raw_days!r} is not a number of days.") from None
        out.append(ReminderIn(after_days=after_days, subject=raw_subject))
    return out


@router.post("/surveys/{survey_id}/distribution/send")
def survey_send(
    request: Request,
    principal: PageSurveys,
    survey_id: int,
    audience_id: Text = "",
    subject: Text = "",
    reminder_days: TextList = None,
    reminder_subject: TextList = None,
) -> Response:
    configured = bool(get_settings(request).smtp_host)

    def action(session: Any) -> None:
        if not audience_id.isdigit():
            raise ValueError("Choose an audience to send to.")
        data = DistributionIn(
            audience_id=int(audience_id),
            subject=subject,
            reminders=_reminder_rows(reminder_days or [], reminder_subject or []),
        )
        service.create_distribution(
            session, actor=principal, survey_id=survey_id, data=data, smtp_configured=configured
        )

    return _survey_form(request, principal, survey_id, action)


@router.post("/surveys/{survey_id}/distribution/channels")
def survey_channels(
    request: Request,
    principal: PageSurveys,
    survey_id: int,
    recontact_days: Text = "",
    respects_cooldown: Text = "",
    email_subject: Text = "",
    widget_enabled: Text = "",
    widget_url_pattern: Text = "*",
    widget_delay_seconds: Text = "0",
    widget_event: Text = "",
    widget_display_percent: Text = "100",
    allowed_origins: Text = "",
) -> Response:
    def action(session: Any) -> None:
        data = SurveyChannelSettingsIn.model_validate(
            {
                "recontact_days": blank_to_none(recontact_days),
                "respects_cooldown": respects_cooldown == "1",
                "email_subject": email_subject.strip(),
                "widget_enabled": widget_enabled == "1",
                "widget_url_pattern": widget_url_pattern.strip() or "*",
                "widget_delay_seconds": widget_delay_seconds or 0,
                "widget_event": blank_to_none(widget_event),
                "widget_display_percent": widget_display_percent or 100,
                "allowed_origins": [o.strip() for o in allowed_origins.splitlines() if o.strip()],
            }
        )
        service.update_channel_settings(session, actor=principal, survey_id=survey_id, data=data)

    return _survey_form(request, principal, survey_id, action)


@router.post("/surveys/{survey_id}/distribution/triggers")
def survey_trigger(
    request: Request, principal: PageSurveys, survey_id: int, event_type: Text = "", delay_minutes: Text = "0"
) -> Response:
    def action(session: Any) -> None:
        data = TriggerIn.model_validate({"event_type": event_type.strip(), "delay_minutes": delay_minutes or 0})
        service.put_trigger(session, actor=principal, survey_id=survey_id, data=data)

    return _survey_form(request, principal, survey_id, action)


# -- public links ----------------------------------------------------------------------------------


def _public(request: Request, title: str, message: str, status: int = 200, **extra: Any) -> Response:
    return templates.TemplateResponse(
        request,
        "distribution/public.html",
        {"principal": None, "title": title, "message": message, **extra},
        status_code=status,
    )


@router.get("/i/{token}")
def open_invitation(request: Request, token: str, a: str = "", embed: str = "") -> Response:
    """A personal survey link (email or widget): opens, or resumes, its one response; `a` = clicked score."""
    try:
        with get_db(request).unit_of_work() as session:
            opened = service.open_invitation(session, token=token, answer=blank_to_none(a))
    except service.LinkGone as exc:
        return _public(request, "Thank you", exc.detail, status=410)
    except NotFound as exc:
        return _public(request, "Link not valid", exc.detail, status=404)
    except CEMError as exc:  # the survey is closed, paused, full
        return _public(request, "Survey unavailable", exc.detail, status=exc.status_code)
    query = f"r={opened.resume_key}" + "".join(f"&q_{k}={v}" for k, v in opened.prefill.items())
    if embed == "1":
        query += "&embed=1"
    return RedirectResponse(f"/s/{opened.slug}?{query}", status_code=303)


@router.get("/u/{token}")
def unsubscribe_link(request: Request, token: str) -> Response:
    """One click, no login: the person is opted out of every survey on every channel."""
    try:
        with get_db(request).unit_of_work() as session:
            service.unsubscribe(session, token=token)
    except NotFound as exc:
        return _public(request, "Link not valid", exc.detail, status=404)
    return _public(
        request,
        "You are unsubscribed",
        "You will not receive or be shown any more surveys from us.",
        resubscribe_token=token,
    )


@router.post("/u/{token}")
def unsubscribe_one_click(request: Request, token: str) -> Response:
    """RFC 8058 one-click unsubscribe (mail clients POST "List-Unsubscribe=One-Click")."""
    return unsubscribe_link(request, token)


@router.post("/u/{token}/resubscribe")
def resubscribe_link(request: Request, token: str) -> Response:
    try:
        with get_db(request).unit_of_work() as session:
            service.resubscribe(session, token=token)
    except NotFound as exc:
        return _public(request, "Link not valid", exc.detail, status=404)
    return _public(request, "Subscribed again", "Thank you: we may invite you to surveys again.")
