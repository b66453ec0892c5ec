"""Distribution service: contact settings, audiences and their preview, distributions, triggers,
invitation links (open, unsubscribe) and the per-survey distribution report.

Sending itself runs in background jobs (`tasks.py`): planning who gets an email and SMTP delivery in
`sending.py`, reminders in `reminders.py` (their schedule in `reminder_schedule.py`), triggered sends in
`triggers.py`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from cem.auth import audit
from cem.auth.principal import Principal
from cem.customers.models import Customer
from cem.db.unique import flush_unique
from cem.distribution import audiences as audience_engine
from cem.distribution import clock
from cem.distribution.models import (
    Audience,
    ContactSettings,
    ContactSkip,
    Distribution,
    Invitation,
    SurveyChannelSettings,
    SurveyTrigger,
    Unsubscribe,
)
from cem.distribution.reminder_schedule import validate as validate_reminders
from cem.distribution.rules import Decision, History, SurveyRules, WorkspaceRules
from cem.distribution.schemas import (
    AudienceFilter,
    AudienceIn,
    AudiencePreview,
    AudienceUpdate,
    ContactSettingsIn,
    DistributionIn,
    PreviewIn,
    PreviewPerson,
    SurveyChannelSettingsIn,
    TriggerIn,
)
from cem.errors import Conflict, InvalidInput, NotFound
from cem.jobs.queue import enqueue
from cem.responses import service as response_service
from cem.surveys import service as survey_service
from cem.surveys.models import Survey

TOKEN_BYTES = 24


def new_token() -> str:
    """An unguessable link credential (192 random bits)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


# -- settings --------------------------------------------------------------------------------------


def contact_settings(session: Session, *, workspace_id: int) -> ContactSettings:
    """The workspace's rules, or the defaults (no cooldown, no maximum, no quiet hours) when never set."""
    found = session.get(ContactSettings, workspace_id)
    if found is not None:
        return found
    return ContactSettings(
        workspace_id=workspace_id,
        global_cooldown_days=0.0,
        max_per_period=None,
        period_days=30,
        quiet_start=None,
        quiet_end=None,
        timezone="UTC",
        allowed_origins=[],
    )


def _hhmm(value: str | None) -> time | None:
    return time.fromisoformat(value) if value else None


def workspace_rules(cs: ContactSettings) -> WorkspaceRules:
    return WorkspaceRules(
        global_cooldown_days=cs.global_cooldown_days or 0.0,
        max_per_period=cs.max_per_period,
        period_days=cs.period_days or 30,
        quiet_start=_hhmm(cs.quiet_start),
        quiet_end=_hhmm(cs.quiet_end),
        timezone=cs.timezone or "UTC",
    )


def update_contact_settings(session: Session, *, actor: Principal, data: ContactSettingsIn) -> ContactSettings:
    values = data.model_dump()
    # Validates the time zone and the quiet window before anything is stored.
    WorkspaceRules(
        global_cooldown_days=data.global_cooldown_days,
        max_per_period=data.max_per_period,
        period_days=data.period_days,
        quiet_start=_hhmm(data.quiet_start),
        quiet_end=_hhmm(data.quiet_end),
        timezone=data.timezone,
    )
    row = session.get(ContactSettings, actor.workspace_id)
    if row is None:
        row = ContactSettings(workspace_id=actor.workspace_id, **values)
        session.add(row)
    else:
        for key, value in values.items():
            setattr(row, key, value)
    session.flush()
    audit.record(session, actor, "contact_rules.update", entity_type="workspace", details=values)
    return row


def get_survey(session: Session, *, workspace_id: int, survey_id: int) -> Survey:
    return survey_service.get_survey(session, workspace_id=workspace_id, survey_id=survey_id)


def channel_settings(session: Session, *, survey: Survey) -> SurveyChannelSettings:
    found = session.get(SurveyChannelSettings, survey.id)
    if found is not None:
        return found
    return SurveyChannelSettings(
        survey_id=survey.id,
        workspace_id=survey.workspace_id,
        recontact_days=None,
        respects_cooldown=True,
        email_subject="",
        widget_enabled=False,
        widget_url_pattern="*",
        widget_delay_seconds=0,
        widget_event=None,
        widget_display_percent=100.0,
        allowed_origins=[],
    )


def update_channel_settings(
    session: Session, *, actor: Principal, survey_id: int, data: SurveyChannelSettingsIn
) -> SurveyChannelSettings:
    survey = get_survey(session, workspace_id=actor.workspace_id, survey_id=survey_id)
    values = data.model_dump()
    row = session.get(SurveyChannelSettings, survey.id)
    if row is None:
        row = SurveyChannelSettings(survey_id=survey.id, workspace_id=survey.workspace_id, **values)
        session.add(row)
    else:
        for key, value in values.items():
            setattr(row, key, value)
    session.flush()
    audit.record(session, actor, "survey.channels.update", entity_type="survey", entity_id=survey.id, details=values)
    return row


def survey_rules(chs: SurveyChannelSettings) -> SurveyRules:
    return SurveyRules(
        survey_id=chs.survey_id,
        recontact_days=chs.recontact_days,
        respects_cooldown=True if chs.respects_cooldown is None else chs.respects_cooldown,
    )


def rules_context(session: Session, *, survey: Survey, channel: str) -> audience_engine.RulesContext:
    return audience_engine.RulesContext(
        rules=workspace_rules(contact_settings(session, workspace_id=survey.workspace_id)),
        survey=survey_rules(channel_settings(session, survey=survey)),
        channel=channel,
    )


def decide_for_customer(
    session: Session, *, survey: Survey, customer: Customer, channel: str, now: datetime
) -> tuple[Decision, audience_engine.RulesContext]:
    """The contact rules' verdict on sending `survey` to one customer now (a triggered send, a widget display),
    with the rules it applied."""
    rules = rules_context(session, survey=survey, channel=channel)
    histories = rules.histories(session, workspace_id=survey.workspace_id, now=now, customer_ids=[customer.id])
    decision = rules.decide(
        now,
        histories.get(customer.id, History()),
        unsubscribed=is_unsubscribed(session, workspace_id=survey.workspace_id, customer_id=customer.id),
        has_email=bool(customer.email),
    )
    return decision, rules


# -- audiences -------------------------------------------------------------------------------------


def list_audiences(session: Session, *, workspace_id: int) -> list[Audience]:
    return list(session.scalars(select(Audience).where(Audience.workspace_id == workspace_id).order_by(Audience.name)))


def get_audience(session: Session, *, workspace_id: int, audience_id: int) -> Audience:
    return audience_engine.get_audience(session, workspace_id=workspace_id, audience_id=audience_id)


def _check_filters(session: Session, *, workspace_id: int, flt: AudienceFilter) -> None:
    """Compile the filters once so unknown stages, audiences or cycles fail before anything is saved."""
    list(audience_engine.evaluate(session, workspace_id=workspace_id, flt=flt, now=clock.now(), customer_ids=[]))


def create_audience(session: Session, *, actor: Principal, data: AudienceIn) -> Audience:
    _check_filters(session, workspace_id=actor.workspace_id, flt=data.filters)
    audience = Audience(
        workspace_id=actor.workspace_id,
        name=data.name,
        description=data.description,
        filters=data.filters.model_dump(mode="json"),
    )
    session.add(audience)
    flush_unique(session, f"An audience named {data.name!r}")
    audit.record(session, actor, "audience.create", entity_type="audience", entity_id=audience.id)
    return audience


def update_audience(session: Session, *, actor: Principal, audience_id: int, data: AudienceUpdate) -> Audience:
    audience = get_audience(session, workspace_id=actor.workspace_id, audience_id=audience_id)
    if data.filters is not None:
        old = audience.filters
        audience.filters = data.filters.model_dump(mode="json")
        session.flush()
        try:
            # Re-check with the new filters in place, so an audience that now refers to itself is caught.
            _check_filters(session, workspace_id=actor.workspace_id, flt=data.filters)
        except Exception:
            audience.filters = old
            raise
    if data.name is not None:
        audience.name = data.name
    if data.description is not None:
        audience.description = data.description
    flush_unique(session, f"An audience named {audience.name!r}")
    audit.record(session, actor, "audience.update", entity_type="audience", entity_id=audience.id)
    return audience


def delete_audience(session: Session, *, actor: Principal, audience_id: int) -> None:
    audience = get_audience(session, workspace_id=actor.workspace_id, audience_id=audience_id)
    session.delete(audience)
    audit.record(session, actor, "audience.delete", entity_type="audience", entity_id=audience_id)


def stored_filter(audience: Audience) -> AudienceFilter:
    try:
        return AudienceFilter.model_validate(audience.filters)
    except ValidationError as exc:  # written by an older version of cem
        raise InvalidInput(f"Audience {audience.id} has filters cem cannot read: {exc.errors()[0]['msg']}") from None


def preview(
    session: Session, *, workspace_id: int, audience_id: int | None, data: PreviewIn, now: datetime | None = None
) -> AudiencePreview:
    """Who is in the audience now and who is left out, each with the reason (filters or contact rules)."""
    now = now or clock.now()
    if data.filters is not None:
        flt = data.filters
    elif audience_id is not None:
        flt = stored_filter(get_audience(session, workspace_id=workspace_id, audience_id=audience_id))
    else:
        flt = AudienceFilter()
    rules = None
    if data.survey_id is not None:
        survey = get_survey(session, workspace_id=workspace_id, survey_id=data.survey_id)
        rules = rules_context(session, survey=survey, channel=data.channel)
    verdicts = audience_engine.evaluate(session, workspace_id=workspace_id, flt=flt, now=now, rules=rules)
    summary, included, excluded = audience_engine.summarise(verdicts, sample=data.sample)

    def person(v: audience_engine.Verdict) -> PreviewPerson:
        p = v.person
        return PreviewPerson(
            customer_id=p.customer_id,
            external_id=p.external_id,
            email=p.email,
            name=p.name,
            reason=v.reason,
            detail=v.detail,
        )

    return AudiencePreview(
        total_customers=summary.total,
        matched=summary.matched,
        included=summary.included,
        excluded=summary.total - summary.included,
        excluded_by_reason=dict(summary.excluded_by_reason.most_common()),
        included_sample=[person(v) for v in included],
        excluded_sample=[person(v) for v in excluded],
        survey_id=data.survey_id,
        channel=data.channel,
    )


# -- distributions ---------------------------------------------------------------------------------


def _require_sendable(survey: Survey) -> None:
    reason = survey_service.availability(survey, clock.now())
    if reason:
        raise Conflict(f"Survey {survey.id} cannot be sent: {reason}")


def create_distribution(
    session: Session, *, actor: Principal, survey_id: int, data: DistributionIn, smtp_configured: bool
) -> Distribution:
    """Queue an email distribution to a saved audience; a background job plans and sends it."""
    schedule = reminder_schedule(data)  # a bad payload is refused before anything is looked up
    survey = get_survey(session, workspace_id=actor.workspace_id, survey_id=survey_id)
    audience = get_audience(session, workspace_id=actor.workspace_id, audience_id=data.audience_id)
    if not smtp_configured:
        raise Conflict("Email is not configured: set CEM_SMTP_HOST (and CEM_SMTP_PORT, CEM_SMTP_FROM) first.")
    _require_sendable(survey)
    stored_filter(audience)
    chs = channel_settings(session, survey=survey)
    distribution = Distribution(
        workspace_id=actor.workspace_id,
        survey_id=survey.id,
        audience_id=audience.id,
        channel="email",
        name=data.name or f"{survey.name} → {audience.name}",
        subject=data.subject or chs.email_subject or "",
        status="queued",
        reminders=schedule,
        reminder_after_days=schedule[0]["after_days"] if schedule else None,
    )
    session.add(distribution)
    session.flush()
    job = enqueue(
        session,
        "surveys.distribution.send",
        workspace_id=actor.workspace_id,
        dedupe_key=f"survey-dist-send:{distribution.id}",
        distribution_id=distribution.id,
    )
    distribution.job_id = job.id
    audit.record(
        session,
        actor,
        "distribution.create",
        entity_type="distribution",
        entity_id=distribution.id,
        details={"survey_id": survey.id, "audience_id": audience.id},
    )
    return distribution


def reminder_schedule(data: DistributionIn) -> list[dict[str, Any]]:
    """The reminders to store: `reminders`, or the single `reminder_after_days` of earlier versions."""
    if data.reminders is not None and data.reminder_after_days is not None:
        raise InvalidInput(
            "Give either reminders or reminder_after_days (the single reminder of earlier versions), not both.",
            errors=[{"loc": ["reminder_after_days"], "msg": "not together with reminders"}],
        )
    if data.reminder_after_days is not None:
        return validate_reminders([(data.reminder_after_days, "")])
    return validate_reminders([(r.after_days, r.subject) for r in data.reminders or []])


def list_distributions(session: Session, *, workspace_id: int, survey_id: int) -> list[Distribution]:
    get_survey(session, workspace_id=workspace_id, survey_id=survey_id)
    return list(
        session.scalars(
            select(Distribution)
            .where(Distribution.workspace_id == workspace_id, Distribution.survey_id == survey_id)
            .order_by(Distribution.id.desc())
        )
    )


def get_distribution(session: Session, *, workspace_id: int, distribution_id: int) -> Distribution:
    found = session.get(Distribution, distribution_id)
    if found is None or found.workspace_id != workspace_id:
        raise NotFound(f"Distribution {distribution_id} does not exist.")
    return found


# -- triggers --------------------------------------------------------------------------------------


def list_triggers(session: Session, *, workspace_id: int, survey_id: int) -> list[SurveyTrigger]:
    get_survey(session, workspace_id=workspace_id, survey_id=survey_id)
    return list(
        session.scalars(
            select(SurveyTrigger).where(SurveyTrigger.survey_id == survey_id).order_by(SurveyTrigger.event_type)
        )
    )


def put_trigger(session: Session, *, actor: Principal, survey_id: int, data: TriggerIn) -> SurveyTrigger:
    """Create or update the trigger of `data.event_type` for this survey."""
    survey = get_survey(session, workspace_id=actor.workspace_id, survey_id=survey_id)
    trigger = session.scalars(
        select(SurveyTrigger).where(SurveyTrigger.survey_id == survey.id, SurveyTrigger.event_type == data.event_type)
    ).first()
    if trigger is None:
        trigger = SurveyTrigger(workspace_id=survey.workspace_id, survey_id=survey.id, event_type=data.event_type)
        session.add(trigger)
    trigger.delay_minutes = data.delay_minutes
    trigger.active = data.active
    session.flush()
    audit.record(
        session, actor, "survey.trigger.put", entity_type="survey", entity_id=survey.id, details=data.model_dump()
    )
    return trigger


def delete_trigger(session: Session, *, actor: Principal, survey_id: int, trigger_id: int) -> None:
    get_survey(session, workspace_id=actor.workspace_id, survey_id=survey_id)
    trigger = session.get(SurveyTrigger, trigger_id)
    if trigger is None or trigger.survey_id != survey_id:
        raise NotFound(f"Trigger {trigger_id} does not exist.")
    session.delete(trigger)
    audit.record(session, actor, "survey.trigger.delete", entity_type="survey", entity_id=survey_id)


# -- links: open and unsubscribe ---------------------------------------------------------------------


class LinkGone(Conflict, status_code=410, code="gone"): ...


def invitation_by_token(session: Session, token: str) -> Invitation:
    if not token or len(token) > 64:
        raise NotFound("This survey link is not valid.")
    found = session.scalars(select(Invitation).where(Invitation.token == token)).first()
    if found is None:
        raise NotFound("This survey link is not valid. Please use the link from your email.")
    return found


@dataclass(frozen=True)
class Opened:
    slug: str
    resume_key: str
    prefill: dict[str, Any]


def open_invitation(session: Session, *, token: str, answer: str | None, now: datetime | None = None) -> Opened:
    """Open (or resume) the one response of an invitation; a completed response cannot be started again.

    The response is bound to the invitation's customer: whoever holds the link answers as that person,
    and the link can never start a second response.
    """
    now = now or clock.now()
    invitation = invitation_by_token(session, token)
    survey = session.get_one(Survey, invitation.survey_id)
    if invitation.opened_at is None:
        invitation.opened_at = now
    response = (
        response_service.get_response(session, workspace_id=survey.workspace_id, response_id=invitation.response_id)
        if invitation.response_id
        else None
    )
    if response is not None and response.status == "completed":
        raise LinkGone("You have already answered this survey with this link. Thank you!")
    prefill: dict[str, Any] = {}
    if response is None:
        defn = (
            survey_service.version_definition(session, survey.current_version_id) if survey.current_version_id else None
        )
        first = next((q for _, _, q in defn.answerable_questions()), None) if defn else None
        if first is not None and answer is not None and answer.strip().lstrip("-").isdigit():
            prefill[first.id] = int(answer)
        response = response_service.start_response(
            session,
            survey,
            channel=invitation.channel,
            customer_id=invitation.customer_id,
            invitation_id=invitation.id,
            prefill=prefill or None,
            now=now,
        )
        invitation.response_id = response.id
    session.flush()
    return Opened(slug=survey.slug, resume_key=response.resume_key, prefill=prefill)


def unsubscribe(session: Session, *, token: str, via: str = "email_link", now: datetime | None = None) -> Invitation:
    """Opt the invitation's customer out of every survey, on every channel (idempotent)."""
    invitation = invitation_by_token(session, token)
    if invitation.customer_id is not None:
        add_unsubscribe(
            session, workspace_id=invitation.workspace_id, customer_id=invitation.customer_id, via=via, now=now
        )
    return invitation


def add_unsubscribe(
    session: Session, *, workspace_id: int, customer_id: int, via: str, now: datetime | None = None
) -> None:
    exists_already = session.scalars(
        select(Unsubscribe.id).where(Unsubscribe.workspace_id == workspace_id, Unsubscribe.customer_id == customer_id)
    ).first()
    if exists_already is None:
        session.add(Unsubscribe(workspace_id=workspace_id, customer_id=customer_id, via=via, at=now or clock.now()))
        session.flush()


def resubscribe(session: Session, *, token: str) -> Invitation:
    invitation = invitation_by_token(session, token)
    if invitation.customer_id is not None:
        session.execute(
            delete(Unsubscribe).where(
                Unsubscribe.workspace_id == invitation.workspace_id, Unsubscribe.customer_id == invitation.customer_id
            )
        )
    return invitation


def is_unsubscribed(session: Session, *, workspace_id: int, customer_id: int) -> bool:
    return (
        session.scalars(
            select(Unsubscribe.id).where(
                Unsubscribe.workspace_id == workspace_id, Unsubscribe.customer_id == customer_id
            )
        ).first()
        is not None
    )


def skip_counts(session: Session, *, survey_id: int) -> dict[str, int]:
    """People the survey's invitations skipped, by reason (reminder skips are counted per reminder)."""
    rows = session.execute(
        select(ContactSkip.reason, func.count())
        .where(ContactSkip.survey_id == survey_id, ContactSkip.reminder.is_(None))
        .group_by(ContactSkip.reason)
    )
    return {reason: int(n) for reason, n in sorted(rows, key=lambda r: -r[1])}


def customer_label(session: Session, customer_id: int | None) -> str:
    if customer_id is None:
        return ""
    c = session.get(Customer, customer_id)
    return (c.name or c.email or c.external_id or f"#{c.id}") if c else ""
