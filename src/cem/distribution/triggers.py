"""Triggered surveys: ingested interaction events schedule a survey send after the trigger's delay.

`on_events` is called from cem.customers.service.ingest_events (the events_ingested hook) inside the ingest
transaction, so the scheduled job exists exactly when the event does. The job's dedupe key contains the
event's idempotency key: re-sending the same event never schedules a second survey. When the job runs,
`run_trigger` checks the contact rules for that one customer and delivers through sending.py; a send
deferred by quiet hours is delivered later by `sending.deliver_one`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cem.customers.models import Customer
from cem.db.session import Database
from cem.distribution import audiences as audience_engine
from cem.distribution import clock
from cem.distribution import service as dist_service
from cem.distribution.models import ContactSkip, Distribution, Invitation, SurveyTrigger
from cem.distribution.sending import MailerFactory, claim, deliver, invitation_row, skip_row
from cem.jobs.queue import enqueue
from cem.surveys import service as survey_service
from cem.surveys.models import Survey


def on_events(session: Session, workspace_id: int, rows: Sequence[dict[str, Any]]) -> None:
    types = {row["type"] for row in rows}
    triggers = list(
        session.scalars(
            select(SurveyTrigger).where(
                SurveyTrigger.workspace_id == workspace_id,
                SurveyTrigger.event_type.in_(types),
                SurveyTrigger.active.is_(True),
            )
        )
    )
    if not triggers:
        return
    for row in rows:
        for trigger in triggers:
            if trigger.event_type != row["type"]:
                continue
            enqueue(
                session,
                "surveys.trigger.send",
                workspace_id=workspace_id,
                delay=timedelta(minutes=trigger.delay_minutes),
                dedupe_key=f"survey-trigger:{trigger.id}:{row['external_id']}"[:200],
                trigger_id=trigger.id,
                customer_id=row["customer_id"],
                event_key=str(row["external_id"]),
            )


def trigger_distribution(session: Session, survey: Survey) -> Distribution:
    """The standing distribution that collects a survey's triggered invitations."""
    found = session.scalars(
        select(Distribution).where(Distribution.survey_id == survey.id, Distribution.channel == "trigger")
    ).first()
    if found is None:
        found = Distribution(
            workspace_id=survey.workspace_id,
            survey_id=survey.id,
            channel="trigger",
            name=f"{survey.name} (triggered)",
            status="sending",
        )
        session.add(found)
        session.flush()
    return found


def run_trigger(
    db: Database,
    *,
    trigger_id: int,
    customer_id: int,
    event_key: str,
    mailer_factory: MailerFactory,
    job_id: int | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Send a triggered survey to one customer, subject to the contact rules at send time."""
    now = now or clock.now()
    with db.unit_of_work() as session:
        trigger = session.get(SurveyTrigger, trigger_id)
        if trigger is None or not trigger.active:
            return {"status": "trigger_gone"}
        survey = session.get_one(Survey, trigger.survey_id)
        if survey_service.availability(survey, now):
            return {"status": "survey_unavailable"}
        customer = session.get(Customer, customer_id)
        if customer is None:
            return {"status": "customer_gone"}
        dist = trigger_distribution(session, survey)
        dist_id = dist.id
        # One send per (trigger, event): a re-sent event or a retried job finds the key already claimed.
        if claim(session, [f"survey-trigger:{trigger_id}:{event_key}"[:300]], job_id):
            outcome = _plan_triggered(session, dist, survey, customer, now)
            if outcome is not None:
                return outcome
    where = (Invitation.distribution_id == dist_id) & (Invitation.customer_id == customer_id)
    delivered = deliver(db, where=where, mailer_factory=mailer_factory, now=now, job_id=job_id)
    return {"status": "sent" if delivered.sent else "pending", "sent": delivered.sent}


def _plan_triggered(
    session: Session, dist: Distribution, survey: Survey, customer: Customer, now: datetime
) -> dict[str, Any] | None:
    """Check the rules for one customer and add their invitation; a dict (skip) when not sent."""
    decision, _rules = dist_service.decide_for_customer(
        session, survey=survey, customer=customer, channel="email", now=now
    )
    if not decision.allowed and decision.reason != "quiet_hours":
        session.add(ContactSkip(**skip_row(dist, customer.id, decision.reason or "unknown", decision.detail, now)))
        return {"status": "skipped", "reason": decision.reason}
    due = now
    if decision.reason == "quiet_hours" and decision.retry_at is not None:
        due = decision.retry_at
        session.add(ContactSkip(**skip_row(dist, customer.id, "quiet_hours", f"deferred {decision.detail}", now)))
    person = audience_engine.Person(customer.id, customer.external_id, customer.email, customer.name)
    inv = Invitation(**invitation_row(dist, person, due, now))
    session.add(inv)
    session.flush()
    if due > now:
        enqueue(
            session,
            "surveys.invitation.deliver",
            workspace_id=survey.workspace_id,
            run_at=due,
            dedupe_key=f"survey-inv-deliver:{inv.id}",
            invitation_id=inv.id,
        )
    return None
