"""Sending email invitations: plan (audience x rules -> invitations and skips), deliver, remind, trigger.

Delivery is at most once per invitation and kind (invite, reminder n): before a batch is handed to SMTP,
its idempotency keys (`job_effect`, "survey-mail:<invitation>:<kind>") are claimed and the invitations
marked "sending" in one committed transaction. A job retried after a crash skips every claimed key, so a
message is never sent twice; one interrupted mid-batch stays "sending" (reported, not resent). Reminders
(see reminders.py) claim theirs the same way and follow the contact rules of the first send.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import ColumnElement, func, insert, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cem.customers.models import Customer
from cem.db.session import Database
from cem.distribution import audiences as audience_engine
from cem.distribution import clock, reminders
from cem.distribution import service as dist_service
from cem.distribution.emails import EmailContent, render
from cem.distribution.mailer import OutgoingEmail, SmtpMailer
from cem.distribution.models import Contact, ContactSkip, Distribution, Invitation, SurveyTrigger, Unsubscribe
from cem.distribution.rules import History, decide
from cem.jobs.models import JobEffect
from cem.jobs.queue import enqueue
from cem.responses.respondent import pick_language
from cem.surveys import service as survey_service
from cem.surveys.models import Survey, SurveyResponse

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
                invitations.append(_invitation_row(dist, v.person, due, now))
            if not v.included:
                detail = f"deferred {v.detail}" if v.reason == "quiet_hours" else v.detail
                skips.append(_skip_row(dist, v.person.customer_id, v.reason or "unknown", detail, now))
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


def _invitation_row(dist: Distribution, person: audience_engine.Person, due: datetime, now: datetime) -> dict[str, Any]:
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


def _skip_row(dist: Distribution, customer_id: int | None, reason: str, detail: str, now: datetime) -> dict[str, Any]:
    return {
        "workspace_id": dist.workspace_id,
        "survey_id": dist.survey_id,
        "distribution_id": dist.id,
        "customer_id": customer_id,
        "channel": "email",
        "reason": reason,
        "detail": detail[:300],
        "at": now,
    }


# -- delivery --------------------------------------------------------------------------------------


def _claim(session: Session, keys: list[str], job_id: int | None) -> set[str]:
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


def _content(session: Session, dist: Distribution, language: str | None, cache: ContentCache) -> EmailContent:
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


def _languages(session: Session, rows: list[Invitation]) -> dict[int, str | None]:
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
        opted_out = _unsubscribed(session, rows)
        languages = _languages(session, rows)
        claimed = _claim(
            session, [f"survey-mail:{r.id}:invite" for r in rows if r.customer_id not in opted_out], job_id
        )
        batch: list[tuple[int, OutgoingEmail]] = []
        for inv in rows:
            if inv.customer_id in opted_out:
                inv.status = "skipped"
                session.add(_skip(inv, "unsubscribed", "opted out before the email was sent", now))
                result.skipped += 1
                continue
            if f"survey-mail:{inv.id}:invite" not in claimed:
                inv.status = "sending"  # claimed by an earlier attempt that did not finish: never resend
                continue
            inv.status = "sending"
            dist = session.get_one(Distribution, inv.distribution_id)
            link, unsubscribe_link = links(db, inv.token)
            batch.append(
                (
                    inv.id,
                    render(
                        _content(session, dist, languages.get(inv.customer_id or 0), contents),
                        to=inv.email or "",
                        link=link,
                        unsubscribe_link=unsubscribe_link,
                    ),
                )
            )
        return batch


def _unsubscribed(session: Session, rows: list[Invitation]) -> set[int | None]:
    ids = {r.customer_id for r in rows if r.customer_id is not None}
    if not ids:
        return set()
    return set(session.scalars(select(Unsubscribe.customer_id).where(Unsubscribe.customer_id.in_(ids))))


def _skip(inv: Invitation, reason: str, detail: str, now: datetime, *, reminder: int | None = None) -> ContactSkip:
    return ContactSkip(
        workspace_id=inv.workspace_id,
        survey_id=inv.survey_id,
        distribution_id=inv.distribution_id,
        customer_id=inv.customer_id,
        channel=inv.channel,
        reason=reason,
        detail=detail[:300],
        reminder=reminder,
        at=now,
    )


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
            for step in reminders.schedule(dist):
                enqueue(
                    session,
                    "surveys.distribution.remind",
                    workspace_id=dist.workspace_id,
                    run_at=now + timedelta(days=step.after_days),
                    dedupe_key=reminders.job_key(dist.id, step.number),
                    distribution_id=dist.id,
                    step=step.number,
                )
    out: dict[str, Any] = {"sent": delivered.sent, "failed": delivered.failed, "skipped_at_send": delivered.skipped}
    if planned is not None:
        out.update(invited=planned.invited, deferred=planned.deferred, skipped=planned.skipped)
    return out


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
        reminder = reminders.step(dist, step) if dist is not None else None
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
                reminders.add_counts(locked, step, sent=sent, failed=failed)
            result.sent += sent
            result.failed += failed
    if result.deferred_until is not None:
        with db.unit_of_work() as session:
            enqueue(
                session,
                "surveys.distribution.remind",
                workspace_id=dist.workspace_id,
                run_at=result.deferred_until,
                dedupe_key=reminders.job_key(distribution_id, step, result.deferred_until),
                distribution_id=distribution_id,
                step=step,
            )
    return result.as_dict()


def _reminder_batch(
    db: Database,
    session: Session,
    dist: Distribution,
    reminder: reminders.ReminderStep,
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
    customer_ids = [r.customer_id for r in rows if r.customer_id is not None]
    histories = audience_engine.load_histories(
        session,
        workspace_id=dist.workspace_id,
        survey_id=dist.survey_id,
        now=now,
        period_days=rules.rules.period_days,
        customer_ids=customer_ids,
        other_surveys_only=True,
    )
    opted_out = _unsubscribed(session, rows)
    decisions = {
        inv.id: decide(
            now,
            rules.rules,
            rules.survey,
            histories.get(inv.customer_id or 0, History()),
            unsubscribed=inv.customer_id in opted_out,
            needs_email=True,
            has_email=bool(inv.email),
        )
        for inv in rows
    }
    claimed = _claim(session, [reminders.effect_key(i, n) for i, d in decisions.items() if d.allowed], job_id)
    deferred = {i: d.retry_at for i, d in decisions.items() if d.reason == "quiet_hours" and d.retry_at is not None}
    # A deferral is logged once per person and quiet window, even when the job is retried.
    first_deferrals = _claim(session, [reminders.deferral_key(i, n, until) for i, until in deferred.items()], job_id)
    languages = _languages(session, rows)
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
            if reminders.deferral_key(inv.id, n, retry_at) in first_deferrals:
                logged_deferrals += 1
                session.add(_skip(inv, "quiet_hours", f"reminder {n} deferred {decision.detail}", now, reminder=n))
            continue
        inv.reminders_sent = n  # done for this reminder: sent now, sent by an earlier attempt, or skipped
        if not decision.allowed:
            reason = decision.reason or "unknown"
            skipped[reason] = skipped.get(reason, 0) + 1
            detail = f"reminder {n}" + (f": {decision.detail}" if decision.detail else "")
            session.add(_skip(inv, reason, detail, now, reminder=n))
            continue
        if reminders.effect_key(inv.id, n) not in claimed:
            continue  # claimed by an earlier attempt that did not finish: never resend
        inv.reminded_at = now
        link, unsubscribe_link = links(db, inv.token)
        content = _content(session, dist, languages.get(inv.customer_id or 0), contents)
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
        reminders.add_counts(locked, n, skipped=sum(skipped.values()), deferred=logged_deferrals)
        for reason, count in skipped.items():
            result.skipped[reason] = result.skipped.get(reason, 0) + count
    return batch, rows[-1].id


# -- triggered surveys -----------------------------------------------------------------------------


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
        if _claim(session, [f"survey-trigger:{trigger_id}:{event_key}"[:300]], job_id):
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
    rules = dist_service.rules_context(session, survey=survey, channel="email")
    histories = audience_engine.load_histories(
        session,
        workspace_id=survey.workspace_id,
        survey_id=survey.id,
        now=now,
        period_days=rules.rules.period_days,
        customer_ids=[customer.id],
    )
    decision = decide(
        now,
        rules.rules,
        rules.survey,
        histories.get(customer.id, History()),
        unsubscribed=dist_service.is_unsubscribed(session, workspace_id=survey.workspace_id, customer_id=customer.id),
        needs_email=True,
        has_email=bool(customer.email),
    )
    if not decision.allowed and decision.reason != "quiet_hours":
        session.add(ContactSkip(**_skip_row(dist, customer.id, decision.reason or "unknown", decision.detail, now)))
        return {"status": "skipped", "reason": decision.reason}
    due = now
    if decision.reason == "quiet_hours" and decision.retry_at is not None:
        due = decision.retry_at
        session.add(ContactSkip(**_skip_row(dist, customer.id, "quiet_hours", f"deferred {decision.detail}", now)))
    person = audience_engine.Person(customer.id, customer.external_id, customer.email, customer.name)
    inv = Invitation(**_invitation_row(dist, person, due, now))
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


def deliver_one(
    db: Database, *, invitation_id: int, mailer_factory: MailerFactory, job_id: int | None = None
) -> dict[str, int]:
    result = deliver(db, where=Invitation.id == invitation_id, mailer_factory=mailer_factory, job_id=job_id)
    return {"sent": result.sent, "failed": result.failed, "skipped": result.skipped}
