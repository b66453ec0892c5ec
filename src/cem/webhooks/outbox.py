"""The outbox: events become delivery rows and attempt jobs in the caller's transaction; attempts' outcomes.

Why one job per attempt (not a sweep over due deliveries): the durable queue already gives each attempt what it
needs. The first attempt's job commits with the change that caused the event (or not at all); a worker killed
mid-request loses its lease and another worker makes the same attempt again, with the same webhook-id, since the
attempt's record and the job's "done" mark commit together; and a retry is just a job with a later `run_at`, so
the Standard Webhooks schedule needs no scheduler of its own. HTTP failures are outcomes, not job failures: the job
records them and queues the next attempt, and the queue's own retries only cover crashes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from cem.jobs.queue import enqueue, enqueue_many
from cem.sources import signing
from cem.webhooks import clock, events
from cem.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from cem.webhooks.sender import Outcome

DELIVER = "webhooks.deliver"  # the task cem.webhooks.tasks declares
# The Standard Webhooks retry schedule: the delay before attempt 1, 2, ... 8 (after the previous one failed).
RETRY_DELAYS = (
    timedelta(0),
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)


def subscribed_types(session: Session, workspace_id: int) -> frozenset[str]:
    """What the workspace's enabled subscriptions want; cached (cem.webhooks.events) so ingest stays cheap."""
    cached = events.cached_types(workspace_id)
    if cached is not None:
        return cached
    stmt = select(WebhookSubscription.event_types).where(
        WebhookSubscription.workspace_id == workspace_id, WebhookSubscription.enabled.is_(True)
    )
    types = frozenset(t for listed in session.scalars(stmt) for t in listed)
    events.remember_types(workspace_id, types)
    return types


def publish(
    session: Session, workspace_id: int, event_type: str, items: Sequence[dict[str, Any]], *, now: datetime
) -> int:
    """One message per item to every enabled subscription of `event_type`; returns how many deliveries."""
    if not items or event_type not in subscribed_types(session, workspace_id):
        return 0
    stmt = select(WebhookSubscription.id, WebhookSubscription.event_types).where(
        WebhookSubscription.workspace_id == workspace_id, WebhookSubscription.enabled.is_(True)
    )
    targets = [sub_id for sub_id, types in session.execute(stmt) if event_type in types]
    rows = [
        _delivery_row(workspace_id, sub_id, event_type, events.body(event_type, now, data), now)
        for sub_id in targets
        for data in items
    ]
    if not rows:
        return 0
    if len(rows) == 1:  # one event (a case change, a completed response): a plain INSERT, without ORM bulk work
        ids = [session.execute(insert(_DELIVERY).values(rows[0]).returning(_DELIVERY.c.id)).scalar_one()]
    else:
        ids = list(session.scalars(insert(WebhookDelivery).returning(WebhookDelivery.id), rows))
    enqueue_many(session, DELIVER, [{"delivery_id": i, "attempt": 1} for i in ids], workspace_id=workspace_id)
    return len(ids)


def _delivery_row(workspace_id: int, subscription_id: int, event_type: str, body: str, now: datetime) -> dict[str, Any]:
    return {
        "workspace_id": workspace_id,
        "subscription_id": subscription_id,
        "message_id": events.new_message_id(),
        "event_type": event_type,
        "body": body,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": "",
        "created_at": now,
    }


def enqueue_one(
    session: Session, subscription: WebhookSubscription, event_type: str, data: dict[str, Any], *, now: datetime
) -> WebhookDelivery:
    """One message to one subscription, whatever it subscribes to (the test event)."""
    row = _delivery_row(subscription.workspace_id, subscription.id, event_type, events.body(event_type, now, data), now)
    delivery = WebhookDelivery(**row)
    session.add(delivery)
    session.flush()
    queue_attempt(session, delivery, number=1, manual=False, now=now)
    return delivery


def queue_attempt(session: Session, delivery: WebhookDelivery, *, number: int, manual: bool, now: datetime) -> None:
    """Queue attempt `number` at its scheduled time (a manual one at once); a duplicate request queues nothing."""
    delay = timedelta(0) if manual else RETRY_DELAYS[number - 1]
    delivery.status = "pending"
    delivery.next_attempt_at = now + delay
    enqueue(
        session,
        DELIVER,
        workspace_id=delivery.workspace_id,
        run_at=now + delay,
        dedupe_key=f"webhook:{delivery.id}:{number}",
        delivery_id=delivery.id,
        attempt=number,
        manual=manual,
    )


@dataclass(frozen=True)
class Attempt:
    """What a worker needs to make an attempt, read before the request (no transaction is held during it)."""

    url: str
    secret: str
    message_id: str
    body: str
    failing: bool  # the subscription's last attempt failed (a success must reset its failure clock)


_d, _s = WebhookDelivery, WebhookSubscription
_DELIVERY = cast(Table, WebhookDelivery.__table__)
# One Core statement (the hot path: ORM loading of two rows cost more CPU than the HTTP request).
_PREPARE = (
    select(_d.status, _d.attempts, _d.message_id, _d.body, _s.url, _s.enabled, _s.secret_encrypted, _s.failing_since)
    .join(_s, _s.id == _d.subscription_id)
    .where(_d.id == bindparam("delivery_id"))
)


@lru_cache(maxsize=1024)
def _secret(encrypted: str, secret_key: str) -> str | None:
    """Decrypting (HKDF + Fernet) once per secret and process, not once per attempt."""
    return signing.decrypt_secret(encrypted, secret_key=secret_key)


def prepare(session: Session, *, delivery_id: int, number: int, secret_key: str) -> Attempt | str:
    """The attempt to make, or why none is (already made, cancelled, subscription gone or disabled)."""
    row = session.execute(_PREPARE, {"delivery_id": delivery_id}).one_or_none()
    if row is None:
        return "the delivery no longer exists"
    if row.status != "pending" or row.attempts >= number:
        return f"attempt {number} is not due (status {row.status}, {row.attempts} made)"
    if not row.enabled:
        return "disabled"
    secret = _secret(row.secret_encrypted, secret_key)
    if secret is None:
        return "unreadable secret"
    return Attempt(
        url=row.url, secret=secret, message_id=row.message_id, body=row.body, failing=row.failing_since is not None
    )


def record_success(session: Session, *, delivery_id: int, number: int, outcome: Outcome) -> bool:
    """The common case in two Core statements: log the attempt, mark the delivery delivered. False if the delivery
    changed meanwhile (the caller then takes the general path, `record`)."""
    now = clock.now()
    done = session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == "pending")
        .values(
            status="succeeded",
            attempts=number,
            last_status_code=outcome.status_code,
            last_error="",
            response_ms=outcome.response_ms,
            next_attempt_at=None,
            delivered_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        return False
    session.execute(insert(WebhookAttempt).values(_attempt_row(delivery_id, number, outcome, now)))
    return True


def _attempt_row(delivery_id: int, number: int, outcome: Outcome, now: datetime) -> dict[str, Any]:
    return {
        "delivery_id": delivery_id,
        "number": number,
        "at": now,
        "status_code": outcome.status_code,
        "error": outcome.error,
        "response_ms": outcome.response_ms,
        "response_excerpt": outcome.excerpt,
    }


def record(
    session: Session,
    *,
    delivery_id: int,
    number: int,
    manual: bool,
    outcome: Outcome,
    disable_after: timedelta,
) -> str:
    """Log the attempt and move the delivery on: delivered, retried on the schedule, failed, or the subscription
    disabled (410 Gone, or failing without a success for `disable_after`). Returns the delivery's status."""
    now = clock.now()
    delivery = session.get_one(WebhookDelivery, delivery_id)
    subscription = session.get_one(WebhookSubscription, delivery.subscription_id)
    session.add(WebhookAttempt(**_attempt_row(delivery.id, number, outcome, now)))
    delivery.attempts = number
    delivery.last_status_code = outcome.status_code
    delivery.last_error = outcome.error
    delivery.response_ms = outcome.response_ms
    delivery.next_attempt_at = None
    if outcome.succeeded:
        delivery.status, delivery.delivered_at = "succeeded", now
        subscription.failing_since = None
        return delivery.status
    subscription.failing_since = subscription.failing_since or now
    if outcome.status_code == 410:
        delivery.status = "failed"
        disable(session, subscription, reason=f"The endpoint answered 410 Gone on {now:%Y-%m-%d %H:%M} UTC.", now=now)
    elif now - subscription.failing_since >= disable_after:
        delivery.status = "failed"
        since = subscription.failing_since
        reason = f"Every attempt failed since {since:%Y-%m-%d %H:%M} UTC; the last: {outcome.error}"
        disable(session, subscription, reason=reason, now=now)
    elif manual or number >= len(RETRY_DELAYS):
        delivery.status = "failed"
    else:
        queue_attempt(session, delivery, number=number + 1, manual=False, now=now)
    return delivery.status


def cancel(session: Session, *, delivery_id: int, why: str) -> None:
    """A queued attempt that will not be made (subscription disabled, secret unreadable): say why in the log."""
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == "pending")
        .values(status="cancelled", next_attempt_at=None, last_error=why)
    )


def disable(session: Session, subscription: WebhookSubscription, *, reason: str, now: datetime) -> None:
    """Stop sending to a subscription (by hand: reason ""); its queued messages are cancelled, not lost from the log."""
    subscription.enabled = False
    subscription.disabled_reason = reason
    subscription.disabled_at = now
    session.flush()
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.subscription_id == subscription.id, WebhookDelivery.status == "pending")
        .values(status="cancelled", next_attempt_at=None, last_error="Not sent: the subscription was disabled.")
        .execution_options(synchronize_session=False)
    )
    events.forget_types(subscription.workspace_id)
