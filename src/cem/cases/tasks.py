"""Background tasks of the closed loop: rule evaluation, emails (replies, alerts, notices) and the SLA sweep.

Emails claim an idempotency key (`ctx.once`) in the job's transaction before sending, so a retried job never
sends twice what it already handed to the server and recorded.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from cem.auth.models import User
from cem.cases import clock, facts, firing, mails, sweep
from cem.cases.models import AlertFiring, AlertRule, Case, CaseActivity
from cem.distribution.mailer import DeliveryError, MailNotConfigured, OutgoingEmail, SmtpMailer
from cem.jobs.registry import PRIORITY_INTERACTIVE, TaskContext, task
from cem.jobs.schedule import periodic

EVALUATE = "cases.evaluate"


@task(EVALUATE, priority=PRIORITY_INTERACTIVE)
def evaluate(
    ctx: TaskContext,
    submissions: list[list[str]] | None = None,
    record_ids: list[int] | None = None,
    phase: str = "stored",
) -> dict[str, Any]:
    """Evaluate the active rules on stored submissions, or (phase "enriched") on the submissions of enriched records."""
    assert ctx.workspace_id is not None
    keys: list[facts.SubmissionKey] = [(a, b, c) for a, b, c in (submissions or [])]
    if record_ids:
        keys += facts.submissions_of_records(ctx.session, workspace_id=ctx.workspace_id, record_ids=record_ids)
    fired = firing.evaluate(
        ctx.session, workspace_id=ctx.workspace_id, keys=keys, phase="enriched" if phase == "enriched" else "stored"
    )
    return {"submissions": len(keys), "fired": fired}


def _send(ctx: TaskContext, key: str, mail: OutgoingEmail) -> str:
    """'sent', 'already sent', or why it failed (a refused recipient or missing mail settings are not retried)."""
    if not ctx.once(key):
        return "already sent"
    try:
        with SmtpMailer(ctx.db.settings) as mailer:
            mailer.send(mail)
    except (DeliveryError, MailNotConfigured) as exc:
        return f"failed: {exc}"[:500]
    return "sent"


@task("cases.send_reply")
def send_reply(ctx: TaskContext, activity_id: int) -> dict[str, Any]:
    activity = ctx.session.get(CaseActivity, activity_id)
    if activity is None or activity.kind != "reply":
        return {"skipped": "the reply no longer exists"}
    mail = mails.reply(activity.data["to"], activity.data["subject"], activity.body or "", case_id=activity.case_id)
    outcome = _send(ctx, f"case-reply:{activity_id}", mail)
    if outcome != "already sent":
        activity.data = {**activity.data, "delivery": outcome, "delivered_at": clock.now().isoformat()}
    return {"delivery": outcome}


def _link(ctx: TaskContext, case_id: int | None) -> str:
    base = ctx.db.settings.resolved_public_url
    return f"{base}/cases/{case_id}" if case_id is not None else f"{base}/"


@task("cases.notify")
def notify(ctx: TaskContext, case_id: int, kind: str, user_ids: list[int], at: str) -> dict[str, Any]:
    case = ctx.session.get(Case, case_id)
    if case is None:
        return {"skipped": "the case no longer exists"}
    emails = ctx.session.scalars(select(User.email).where(User.id.in_(user_ids), User.is_active.is_(True))).all()
    results = {
        email: _send(
            ctx,
            f"case-notice:{case_id}:{kind}:{at}:{email}",
            mails.notice(email, kind, case_id=case_id, title=case.title, link=_link(ctx, case_id)),
        )
        for email in emails
    }
    return {"sent": results}


@task(firing.EMAIL_ALERT)
def email_alert(ctx: TaskContext, firing_id: int) -> dict[str, Any]:
    found = ctx.session.get(AlertFiring, firing_id)
    rule = ctx.session.get(AlertRule, found.rule_id) if found is not None else None
    if found is None or rule is None:
        return {"skipped": "the firing or its rule no longer exists"}
    reasons = [f"{r['condition']} ({r['value']})" for r in found.reason]
    results = {
        to: _send(
            ctx,
            f"alert-email:{firing_id}:{to}",
            mails.alert(to, rule_name=rule.name, reasons=reasons, link=_link(ctx, found.case_id)),
        )
        for to in rule.actions.get("email", [])
    }
    return {"sent": results}


@periodic("cases.sla_sweep", cron="* * * * *")
@task("cases.sla_sweep", priority=PRIORITY_INTERACTIVE, lease_seconds=120)
def sla_sweep(ctx: TaskContext) -> dict[str, Any]:
    """Warn before and escalate at SLA breaches (cem.cases.sweep)."""
    return sweep.run(ctx.session, now=clock.now())
