"""Background tasks of survey distribution (contributed by cem.distribution.plugin through the job_tasks hook)."""

from __future__ import annotations

from typing import Any

from cem.distribution import reminders, sending, triggers
from cem.jobs.registry import PRIORITY_INTERACTIVE, TaskContext, task


def _release(ctx: TaskContext) -> None:
    # The job's own transaction holds SQLite's write lock from its first read; these tasks commit in
    # batches through their own units of work, so end it first (as imports.run does).
    ctx.session.rollback()


# Sends are interactive: a person pressed "send" (or a customer event triggered one) and expects mail now.
@task("surveys.distribution.send", lease_seconds=3600, priority=PRIORITY_INTERACTIVE)
def send_distribution(ctx: TaskContext, distribution_id: int) -> dict[str, Any]:
    """Plan the distribution (audience x contact rules) on the first run, then email every due invitation."""
    _release(ctx)
    return sending.run_distribution(
        ctx.db,
        distribution_id=distribution_id,
        mailer_factory=sending.smtp_factory(ctx.db),
        job_id=ctx.job_id,
        progress=ctx.progress,
    )


@task("surveys.distribution.remind", lease_seconds=3600)
def remind_distribution(ctx: TaskContext, distribution_id: int, step: int = 1) -> dict[str, Any]:
    """Send reminder `step` to everyone of the distribution who has not completed the survey (jobs queued
    before several reminders existed carry no `step`: they are reminder 1)."""
    _release(ctx)
    return reminders.remind(
        ctx.db,
        distribution_id=distribution_id,
        step=step,
        mailer_factory=sending.smtp_factory(ctx.db),
        job_id=ctx.job_id,
    )


@task("surveys.trigger.send", lease_seconds=600, priority=PRIORITY_INTERACTIVE)
def send_triggered(ctx: TaskContext, trigger_id: int, customer_id: int, event_key: str) -> dict[str, Any]:
    """Send a triggered survey to one customer after the trigger's delay, if the contact rules allow."""
    _release(ctx)
    return triggers.run_trigger(
        ctx.db,
        trigger_id=trigger_id,
        customer_id=customer_id,
        event_key=event_key,
        mailer_factory=sending.smtp_factory(ctx.db),
        job_id=ctx.job_id,
    )


@task("surveys.invitation.deliver", lease_seconds=600, priority=PRIORITY_INTERACTIVE)
def deliver_invitation(ctx: TaskContext, invitation_id: int) -> dict[str, Any]:
    """Deliver one invitation whose send was deferred (quiet hours)."""
    _release(ctx)
    return sending.deliver_one(
        ctx.db, invitation_id=invitation_id, mailer_factory=sending.smtp_factory(ctx.db), job_id=ctx.job_id
    )
