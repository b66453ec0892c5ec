"""Sending email invitations: plan (audience x rules -> invitations and skips), then deliver.

Delivery is at most once per invitation and kind (invite, reminder n): before a batch is handed to SMTP,
its idempotency keys (`job_effect`, "survey-mail:<invitation>:<kind>") are claimed and the invitations
marked "sending" in one committed transaction. A job retried after a crash skips every claimed key, so a
message is never sent twice; one interrupted mid-batch stays "sending" (reported, not resent). Reminders
(reminders.py) and triggered sends (triggers.py) build on the delivery parts here: `claim`, `deliver`,
`email_content`, `languages`, `opted_out`, `skip_row`; they claim their keys the same way and follow the
contact rules of the first send.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import ColumnElement, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cem.customers.models import Customer
from cem.db.session import Database
from cem.distribution import audiences as audience_engine
from cem.distribution import clock, reminder_schedule
from cem.distribution import service as dist_service
from cem.distribution.emails import EmailContent, render
from cem.distribution.mailer import OutgoingEmail, SmtpMailer
from cem.distribution.models import Contact, ContactSkip, Distribution, Invitation, Unsubscribe
from cem.jobs.models import JobEffect
from cem.jobs.queue import enqueue
from cem.responses.respondent import pick_language
from cem.surveys import service as survey_service
from cem.surveys.models import Survey

BATCH = 500
Progress = Callable[[int, int, str], None]


class Mailer(Protocol):
    def send_many(self, mails: list[OutgoingEmail]) -> list[str | None]:
        """Send each message; per message None (accepted) or the server's refusal."""
        ...

    def __enter__(self) -> Mailer: ...

    def __exit__(self, *exc: Any) -> None: ...


MailerFactory = Callable[[], Mailer]


def smtp_factory(db: Database) -> MailerFactory:
    return lambda: SmtpMailer(db.settings)


def links(db: Database, token: str) -> tuple[str, str]:
    base = db.settings.resolved_public_url
    return f"{base}/i/{token}", f"{base}/u/{token}"


@dataclass
class PlanResult:
    invited: int = 0
    deferred: int = 0
    skipped: dict[str, int] = field(default_factory=dict)


def plan(db: Database, *, distribution_id: int, now: datetime | None = None) -> PlanResult | None:
    """Turn a queued distribution into invitations (included) and skip log rows (left out by a rule).

    Runs once: the status moves from "queued" to "sending" in the same transaction as the rows it adds.
    """
    now = now or clock.now()
    result = PlanResult()
    with db.unit_of_work() as session:
        dist = session.get(Distribution, distribution_id)
        if dist is None or dist.status != "queued":
            return None
        survey = session.get_one(Survey, dist.survey_id)
        audience = dist_service.get_audience(session, workspace_id=dist.workspace_id, audience_id=dist.audience_id or 0)
        rules = dist_service.rules_context(session, survey=survey, channel="email")
        verdicts = audience_engine.evaluate(
            session,
            workspace_id=dist.workspace_id,
            flt=dist_service.stored_filter(audience),
            now=now,
            rules=rules,
            explain=False,
        )
        invitations: list[dict[str, Any]] = []
        skips: list[dict[str, Any]] = []
        for v in verdicts:
            if v.reason == "not_in_audience":
                continue
            if v.included or v.reason == "quiet_hours":
                due = v.retry_at if v.reason == "quiet_hours" and v.retry_at else now
                invitations.append(invitation_row(dist, v.person, due, now))
            if not v.included:
                detail = f"deferred {v.detail}" if v.reason == "quiet_hours" else v.detail
                skips.append(skip_row(dist, v.person.customer_id, v.reason or "unknown", detail, now))
                result.skipped[v.reason or "unknown"] = result.skipped.get(v.reason or "unknown", 0) + 1
        for chunk in _chunks(invitations, 5000):
            session.execute(insert(Invitation), chunk)
        for chunk in _chunks(skips, 5000):
            session.execute(insert(ContactSkip), chunk)
        dist.status = "sending"
        result.invited = len(invitations)
        result.deferred = result.skipped.get("quiet_hours", 0)
    return result


def _chunks(rows: list[dict[str, Any]], size: int) -> Iterable[list[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def invitation_row(dist: Distribution, person: audience_engine.Person, due: datetime, now: datetime) -> dict[str, Any]:
    return {
        "workspace_id": dist.workspace_id,
        "survey_id": dist.survey_id,
        "distribution_id": dist.id,
        "customer_id": person.customer_id,
        "channel": "email",
        "token": dist_service.new_token(),
        "email": person.email,
        "status": "pending",
        "due_at": due,
        "reminders_sent": 0,
        "created_at": now,
    }


def skip_row(
    dist: Distribution,
    customer_id: int | None,
    reason: str,
    detail: str,
    now: datetime,
    *,
    reminder: int | None = None,
) -> dict[str, Any]:
    """A `ContactSkip` row: who an email of the distribution (or its reminder n) did not go to, and why."""
    return {
        "workspace_id": dist.workspace_id,
        "survey_id": dist.survey_id,
        "distribution_id": dist.id,
        "customer_id": customer_id,
        "channel": "email",
        "reason": reason,
        "detail": detail[:300],
        "reminder": reminder,
        "at": now,
    }


# -- delivery --------------------------------------------------------------------------------------


def claim(session: Session, keys: list[str], job_id: int | None) -> set[str]:
    """Insert the effect keys not yet present; returns the ones this call claimed."""
    if not keys:
        return set()
    dialect = session.get_bind().dialect.name
    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        dialect_insert(JobEffect)
        .values([{"key": k, "job_id": job_id} for k in keys])
        .on_conflict_do_nothing()
        .returning(JobEffect.key)
    )
    return set(session.scalars(stmt))


@dataclass
class DeliveryResult:
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    remaining_due_at: datetime | None = None


ContentCache = dict[tuple[int, str | None], EmailContent]


def email_content(session: Session, dist: Distribution, language: str | None, cache: ContentCache) -> EmailContent:
    """The email of a distribution in the customer's language (attribute `language`/`locale`) when the
    survey has it, else in its default language; built once per distribution and language."""
    key = (dist.id, language)
    if key not in cache:
        survey = session.get_one(Survey, dist.survey_id)
        assert survey.current_version_id is not None
        defn = survey_service.version_definition(session, survey.current_version_id)
        lang = pick_language(defn, None, language, None)
        cache[key] = EmailContent.for_definition(defn, survey_name=survey.name, subject=dist.subject, lang=lang)
    return cache[key]


def languages(session: Session, rows: list[Invitation]) -> dict[int, str | None]:
    """Customer id -> preferred language, for one batch in one query."""
    ids = {r.customer_id for r in rows if r.customer_id is not None}
    if not ids:
        return {}
    found = session.execute(select(Customer.id, Customer.attributes).where(Customer.id.in_(ids)))
    out: dict[int, str | None] = {}
    for cid, attributes in found:
        value = (attributes or {}).get("language") or (attributes or {}).get("locale")
        out[cid] = str(value)[:16] if value else None
    return out


def deliver(
    db: Database,
    *,
    where: ColumnElement[bool],
    mailer_factory: MailerFactory,
    now: datetime | None = None,
    job_id: int | None = None,
    progress: Progress | None = None,
    total: int = 0,
) -> DeliveryResult:
    """Send every due pending invitation matching `where`, in claimed batches over one SMTP connection."""
    now = now or clock.now()
    result = DeliveryResult()
    contents: ContentCache = {}
    with mailer_factory() as mailer:
        while True:
            batch = _claim_batch(db, where=where, now=now, job_id=job_id, contents=contents, result=result)
            if not batch:
                break
            errors = mailer.send_many([mail for _, mail in batch])
            outcomes = [(invitation_id, error) for (invitation_id, _), error in zip(batch, errors, strict=True)]
            _record_outcomes(db, outcomes, now=now, result=result)
            if progress:
                done = result.sent + result.failed + result.skipped
                progress(done, max(total, done), f"{result.sent} sent, {result.failed} failed")
    with db.unit_of_work(readonly=True) as session:
        result.remaining_due_at = session.scalar(
            select(Invitation.due_at).where(where, Invitation.status == "pending").order_by(Invitation.due_at).limit(1)
        )
    return result


def _claim_batch(
    db: Database,
    *,
    where: ColumnElement[bool],
    now: datetime,
    job_id: int | None,
    contents: ContentCache,
    result: DeliveryResult,
) -> list[tuple[int, OutgoingEmail]]:
    with db.unit_of_work() as session:
        rows = list(
            session.scalars(
                select(Invitation)
                .where(where, Invitation.status == "pending", Invitation.due_at <= now)
                .order_by(Invitation.id)
                .limit(BATCH)
            )
        )
        if not rows:
            return []
        unsubscribed = opted_out(session, rows)
        preferred = languages(session, rows)
        claimed = claim(
            session, [f"survey-mail:{r.id}:invite" for r in rows if r.customer_id not in unsubscribed], job_id
        )
        batch: list[tuple[int, OutgoingEmail]] = []
        for inv in rows:
            dist = session.get_one(Distribution, inv.distribution_id)
            if inv.customer_id in unsubscribed:
                inv.status = "skipped"
                detail = "opted out before the email was sent"
                session.add(ContactSkip(**skip_row(dist, inv.customer_id, "unsubscribed", detail, now)))
                result.skipped += 1
                continue
            if f"survey-mail:{inv.id}:invite" not in claimed:
                inv.status = "sending"  # claimed by an earlier attempt that did not finish: never resend
                continue
            inv.status = "sending"
            link, unsubscribe_link = links(db, inv.token)
            batch.append(
                (
                    inv.id,
                    render(
                        email_content(session, dist, preferred.get(inv.customer_id or 0), contents),
                        to=inv.email or "",
                        link=link,
                        unsubscribe_link=unsubscribe_link,
                    ),
                )
            )
        return batch


def opted_out(session: Session, rows: list[Invitation]) -> set[int | None]:
    """The customers of these invitations who have unsubscribed, in one query."""
    ids = {r.customer_id for r in rows if r.customer_id is not None}
    if not ids:
        return set()
    return set(session.scalars(select(Unsubscribe.customer_id).where(Unsubscribe.customer_id.in_(ids))))


def _record_outcomes(
    db: Database, outcomes: list[tuple[int, str | None]], *, now: datetime, result: DeliveryResult
) -> None:
    with db.unit_of_work() as session:
        invitations = {
            inv.id: inv
            for inv in session.scalars(select(Invitation).where(Invitation.id.in_([i for i, _ in outcomes])))
        }
        counts_by_survey: dict[int, bool] = {}
        for invitation_id, error in outcomes:
            inv = invitations[invitation_id]
            if error is None:
                inv.status = "sent"
                inv.sent_at = now
                result.sent += 1
                if inv.customer_id is not None:
                    if inv.survey_id not in counts_by_survey:
                        survey = session.get_one(Survey, inv.survey_id)
                        counts_by_survey[inv.survey_id] = dist_service.survey_rules(
                            dist_service.channel_settings(session, survey=survey)
                        ).respects_cooldown
                    session.add(
                        Contact(
                            workspace_id=inv.workspace_id,
                            customer_id=inv.customer_id,
                            survey_id=inv.survey_id,
                            channel=inv.channel,
                            counts=counts_by_survey[inv.survey_id],
                            at=now,
                        )
                    )
            else:
                inv.status = "failed"
                inv.error = error
                result.failed += 1


# -- a distribution's job --------------------------------------------------------------------------


def run_distribution(
    db: Database,
    *,
    distribution_id: int,
    mailer_factory: MailerFactory,
    job_id: int | None = None,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Plan (first run), deliver what is due, then schedule the rest (quiet hours) and the reminders."""
    now = now or clock.now()
    planned = plan(db, distribution_id=distribution_id, now=now)
    with db.unit_of_work(readonly=True) as session:
        dist = session.get(Distribution, distribution_id)
        if dist is None:
            return {"status": "missing"}
        pending = session.scalar(
            select(func.count()).where(Invitation.distribution_id == distribution_id, Invitation.status == "pending")
        )
    where = Invitation.distribution_id == distribution_id
    delivered = deliver(
        db,
        where=where,
        mailer_factory=mailer_factory,
        now=now,
        job_id=job_id,
        progress=progress,
        total=int(pending or 0),
    )
    with db.unit_of_work() as session:
        dist = session.get_one(Distribution, distribution_id)
        if delivered.remaining_due_at is not None:
            enqueue(
                session,
                "surveys.distribution.send",
                workspace_id=dist.workspace_id,
                run_at=delivered.remaining_due_at,
                dedupe_key=f"survey-dist-send:{dist.id}:{delivered.remaining_due_at:%Y%m%dT%H%M%S}",
                distribution_id=dist.id,
            )
        elif dist.status == "sending":
            dist.status = "sent"
            dist.sent_at = now
            for step in reminder_schedule.schedule(dist):
                enqueue(
                    session,
                    "surveys.distribution.remind",
                    workspace_id=dist.workspace_id,
                    run_at=now + timedelta(days=step.after_days),
                    dedupe_key=reminder_schedule.job_key(dist.id, step.number),
                    distribution_id=dist.id,
                    step=step.number,
                )
    out: dict[str, Any] = {"sent": delivered.sent, "failed": delivered.failed, "skipped_at_send": delivered.skipped}
    if planned is not None:
        out.update(invited=planned.invited, deferred=planned.deferred, skipped=planned.skipped)
    return out


def deliver_one(
    db: Database, *, invitation_id: int, mailer_factory: MailerFactory, job_id: int | None = None
) -> dict[str, int]:
    result = deliver(db, where=Invitation.id == invitation_id, mailer_factory=mailer_factory, job_id=job_id)
    return {"sent": result.sent, "failed": result.failed, "skipped": result.skipped}
