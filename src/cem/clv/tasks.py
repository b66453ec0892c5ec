"""Background scoring of lifetime value: after purchases arrive (debounced) and every night."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cem.clv import service
from cem.errors import InvalidInput
from cem.jobs.models import Job
from cem.jobs.queue import enqueue
from cem.jobs.registry import PRIORITY_BULK, PRIORITY_INTERACTIVE, TaskContext, task
from cem.jobs.schedule import periodic

SCORE = "clv.score"
# New purchases wait this long before a rescore, so one import or a burst of events makes one run, not hundreds.
DEBOUNCE = timedelta(minutes=10)


@periodic(SCORE, cron="30 2 * * *", name="clv.nightly")
@task(SCORE, lease_seconds=1800, priority=PRIORITY_BULK)
def score(ctx: TaskContext) -> dict[str, Any]:
    """Refit and rescore one workspace; from the nightly schedule (no workspace), queue one per workspace."""

    def run(workspace_id: int) -> dict[str, Any]:
        report = service.score_workspace(ctx.session, workspace_id, after_reading=ctx.session.rollback)
        return {"scored": report.customers, "fit_id": report.fit_id, "note": report.note}

    return score_or_fan_out(ctx, SCORE, service.workspaces_with_purchases, run)


def score_or_fan_out(
    ctx: TaskContext, name: str, workspaces: Callable[[Session], list[int]], run: Callable[[int], dict[str, Any]]
) -> dict[str, Any]:
    """A scoring task's two ways of running (lifetime value, churn): for one workspace, or, started by its nightly
    schedule without one, by queueing one job per workspace that `workspaces` names."""
    if ctx.workspace_id is None:
        found = workspaces(ctx.session)
        for workspace_id in found:
            enqueue(ctx.session, name, workspace_id=workspace_id)
        return {"queued": len(found)}
    try:
        return run(ctx.workspace_id)
    except InvalidInput as exc:  # not enough data yet: a normal state, said in the job's result, not a failure
        return {"scored": 0, "note": exc.detail}


def queue_rescore(session: Session, workspace_id: int) -> None:
    """A rescore DEBOUNCE from now, unless one is already waiting: purchases arriving meanwhile join that one.
    (Two writers racing past the check queue two rescores: harmless, each replaces the scores whole.)"""
    waiting = select(Job.id).where(Job.name == SCORE, Job.workspace_id == workspace_id, Job.status == "queued")
    if session.scalar(waiting.limit(1)) is None:
        enqueue(session, SCORE, workspace_id=workspace_id, delay=DEBOUNCE)


def queue_now(session: Session, workspace_id: int, name: str = SCORE) -> int:
    """A scoring run someone asked for (API): ahead of bulk work; returns the job's id to follow."""
    job = enqueue(session, name, workspace_id=workspace_id, priority=PRIORITY_INTERACTIVE)
    session.flush()
    return job.id
