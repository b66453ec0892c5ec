"""The webhook delivery task: one attempt of one message (cem.webhooks.outbox says why one job per attempt)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from cem.jobs.registry import TaskContext, task
from cem.webhooks import outbox, sender

# An attempt takes at most the timeout (60 s at the most, cem.config) plus a DNS look-up; a worker that dies
# mid-attempt hands the attempt to another worker this long after its last heartbeat.
LEASE_SECONDS = 90


@task(outbox.DELIVER, lease_seconds=LEASE_SECONDS)
def deliver(ctx: TaskContext, delivery_id: int, attempt: int, manual: bool = False) -> dict[str, Any]:
    """Make attempt `attempt` of a delivery and record it (with the next attempt queued when it failed).

    The request is made outside any transaction: reading goes through a read-only unit of work, and the job's
    own session (the SQLite write lock) is touched only afterwards, to record what happened.
    """
    settings = ctx.db.settings
    with ctx.db.unit_of_work(readonly=True) as read:
        prepared = outbox.prepare(read, delivery_id=delivery_id, number=attempt, secret_key=settings.secret_key)
    if isinstance(prepared, str):
        if prepared == "disabled":
            outbox.cancel(ctx.session, delivery_id=delivery_id, why="Not sent: the subscription was disabled.")
        elif prepared == "unreadable secret":
            why = "Not sent: the signing secret cannot be read (CEM_SECRET_KEY changed); rotate the secret."
            outbox.cancel(ctx.session, delivery_id=delivery_id, why=why)
        return {"skipped": prepared}
    outcome = sender.send(
        prepared.url,
        secret=prepared.secret,
        message_id=prepared.message_id,
        body=prepared.body,
        timeout=settings.webhooks_timeout_seconds,
        allow_private=settings.webhooks_allow_private,
    )
    if outcome.succeeded and not prepared.failing:
        if outbox.record_success(ctx.session, delivery_id=delivery_id, number=attempt, outcome=outcome):
            return {"status": "succeeded", "status_code": outcome.status_code}
    status = outbox.record(
        ctx.session,
        delivery_id=delivery_id,
        number=attempt,
        manual=manual,
        outcome=outcome,
        disable_after=timedelta(days=settings.webhooks_disable_after_days),
    )
    return {"status": status, "status_code": outcome.status_code}
