"""Sending a distribution's reminders: reminder n to everyone invited who has not completed the survey.

The schedule itself (how many reminders, after how many days, their counters and idempotency keys) is in
reminder_schedule.py; `sending.run_distribution` queues one "surveys.distribution.remind" job per step once
the first send is done. Each reminder claims its keys before SMTP like the first send (sending.py), so a
retried job never reminds anyone twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cem.db.session import Database
from cem.distribution import audiences as audience_engine
from cem.distribution import clock, reminder_schedule
from cem.distribution import service as dist_service
from cem.distribution.emails import render
from cem.distribution.mailer import OutgoingEmail
from cem.distribution.models import ContactSkip, Distribution, Invitation
from cem.distribution.reminder_schedule import ReminderStep
from cem.distribution.rules import History
from cem.distribution.sending import (
    BATCH,
    ContentCache,
    MailerFactory,
    claim,
    email_content,
    languages,
    links,
    opted_out,
    skip_row,
)
from cem.jobs.queue import enqueue
from cem.surveys.models import Survey, SurveyResponse


@dataclass
class ReminderResult:
    sent: int = 0
    failed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    deferred: int = 0
    deferred_until: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"reminded": self.sent, "failed": self.failed, "skipped": self.skipped}
        if self.deferred:
            out.update(deferred=self.deferred, deferred_until=f"{self.deferred_until:%Y-%m-%dT%H:%M:%SZ}")
        return out


def remind(
    db: Database,
    *,
    distribution_id: int,
    mailer_factory: MailerFactory,
    step: int = 1,
    job_id: int | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Reminder `step` to everyone invited who has not completed the survey, subject to the contact rules.

    The rules are those of the first send (`rules.decide`), over the person's contacts with *other*
    surveys (their own invitation is what the reminder follows up). A rule that blocks skips this reminder
    for that person (logged); quiet hours defer it: the job runs again when the quiet window ends.
    """
    now = now or clock.now()
    result = ReminderResult()
    contents: ContentCache = {}
    with db.unit_of_work(readonly=True) as session:
        dist = session.get(Distribution, distribution_id)
        reminder = reminder_schedule.step(dist, step) if dist is not None else None
        if dist is None or reminder is None:
            return {"status": "no_such_reminder"}
        survey = session.get_one(Survey, dist.survey_id)
        rules = dist_service.rules_context(session, survey=survey, channel="email")
    after_id = 0
    with mailer_factory() as mailer:
        while True:
            with db.unit_of_work() as session:
                batch, after_id = _reminder_batch(
                    db,
                    session,
                    dist,
                    reminder,
                    rules,
                    after_id=after_id,
                    now=now,
                    job_id=job_id,
                    result=result,
                    contents=contents,
                )
            if after_id == 0:
                break
            if not batch:
                continue
            sent = failed = 0
            for error in mailer.send_many([mail for _, mail in batch]):
                if error is None:
                    sent += 1
                else:
                    failed += 1
            with db.unit_of_work() as session:
                locked = session.get_one(Distribution, distribution_id, with_for_update=True)
                reminder_schedule.add_counts(locked, step, sent=sent, failed=failed)
            result.sent += sent
            result.failed += failed
    if result.deferred_until is not None:
        with db.unit_of_work() as session:
            enqueue(
                session,
                "surveys.distribution.remind",
                workspace_id=dist.workspace_id,
                run_at=result.deferred_until,
                dedupe_key=reminder_schedule.job_key(distribution_id, step, result.deferred_until),
                distribution_id=distribution_id,
                step=step,
            )
    return result.as_dict()


def _reminder_batch(
    db: Database,
    session: Session,
    dist: Distribution,
    reminder: ReminderStep,
    rules: audience_engine.RulesContext,
    *,
    after_id: int,
    now: datetime,
    job_id: int | None,
    result: ReminderResult,
    contents: ContentCache,
) -> tuple[list[tuple[int, OutgoingEmail]], int]:
    """Decide, log and claim one batch of non-responders; (emails to send, last invitation id or 0 at the end).

    Sent, skipped and already-claimed invitations are marked done for this reminder (`reminders_sent`);
    deferred ones stay due, so the batches walk by id instead of re-reading until nothing is left.
    """
    n = reminder.number
    rows = list(
        session.scalars(
            select(Invitation)
            .outerjoin(SurveyResponse, SurveyResponse.id == Invitation.response_id)
            .where(
                Invitation.distribution_id == dist.id,
                Invitation.id > after_id,
                Invitation.status == "sent",
                Invitation.reminders_sent < n,
                or_(SurveyResponse.id.is_(None), SurveyResponse.status != "completed"),
            )
            .order_by(Invitation.id)
            .limit(BATCH)
        )
    )
    if not rows:
        return [], 0
    histories = rules.histories(
        session,
        workspace_id=dist.workspace_id,
        now=now,
        customer_ids=[r.customer_id for r in rows if r.customer_id is not None],
        other_surveys_only=True,
    )
    unsubscribed = opted_out(session, rows)
    decisions = {
        inv.id: rules.decide(
            now,
            histories.get(inv.customer_id or 0, History()),
            unsubscribed=inv.customer_id in unsubscribed,
            has_email=bool(inv.email),
        )
        for inv in rows
    }
    claimed = claim(session, [reminder_schedule.effect_key(i, n) for i, d in decisions.items() if d.allowed], job_id)
    deferred = {i: d.retry_at for i, d in decisions.items() if d.reason == "quiet_hours" and d.retry_at is not None}
    # A deferral is logged once per person and quiet window, even when the job is retried.
    first_deferrals = claim(
        session, [reminder_schedule.deferral_key(i, n, until) for i, until in deferred.items()], job_id
    )
    preferred = languages(session, rows)
    batch: list[tuple[int, OutgoingEmail]] = []
    skipped: dict[str, int] = {}
    logged_deferrals = 0
    for inv in rows:
        decision = decisions[inv.id]
        if inv.id in deferred:
            retry_at = deferred[inv.id]
            result.deferred += 1
            if result.deferred_until is None or retry_at < result.deferred_until:
                result.deferred_until = retry_at
            if reminder_schedule.deferral_key(inv.id, n, retry_at) in first_deferrals:
                logged_deferrals += 1
                detail = f"reminder {n} deferred {decision.detail}"
                session.add(ContactSkip(**skip_row(dist, inv.customer_id, "quiet_hours", detail, now, reminder=n)))
            continue
        inv.reminders_sent = n  # done for this reminder: sent now, sent by an earlier attempt, or skipped
        if not decision.allowed:
            reason = decision.reason or "unknown"
            skipped[reason] = skipped.get(reason, 0) + 1
            detail = f"reminder {n}" + (f": {decision.detail}" if decision.detail else "")
            session.add(ContactSkip(**skip_row(dist, inv.customer_id, reason, detail, now, reminder=n)))
            continue
        if reminder_schedule.effect_key(inv.id, n) not in claimed:
            continue  # claimed by an earlier attempt that did not finish: never resend
        inv.reminded_at = now
        link, unsubscribe_link = links(db, inv.token)
        content = email_content(session, dist, preferred.get(inv.customer_id or 0), contents)
        batch.append(
            (
                inv.id,
                render(
                    content,
                    to=inv.email or "",
                    link=link,
                    unsubscribe_link=unsubscribe_link,
                    reminder=True,
                    subject=reminder.subject,
                ),
            )
        )
    if skipped or logged_deferrals:
        locked = session.get_one(Distribution, dist.id, with_for_update=True)
        reminder_schedule.add_counts(locked, n, skipped=sum(skipped.values()), deferred=logged_deferrals)
        for reason, count in skipped.items():
            result.skipped[reason] = result.skipped.get(reason, 0) + count
    return batch, rows[-1].id
