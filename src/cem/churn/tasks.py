"""Background scoring of churn risk: every night, and on demand (POST /api/v1/churn/score, `cem churn score`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from cem.churn import service
from cem.errors import InvalidInput
from cem.jobs.queue import enqueue
from cem.jobs.registry import PRIORITY_BULK, PRIORITY_INTERACTIVE, TaskContext, task
from cem.jobs.schedule import periodic

SCORE = "churn.score"


@periodic(SCORE, cron="0 3 * * *", name="churn.nightly")
@task(SCORE, lease_seconds=1800, priority=PRIORITY_BULK)
def score(ctx: TaskContext) -> dict[str, Any]:
    """Retrain and rescore one workspace; from the nightly schedule (no workspace), queue one per workspace."""
    if ctx.workspace_id is None:
        workspaces = service.workspaces_with_customers(ctx.session)
        for workspace_id in workspaces:
            enqueue(ctx.session, SCORE, workspace_id=workspace_id)
        return {"queued": len(workspaces)}
    try:
        report = service.score_workspace(ctx.session, ctx.workspace_id)
    except InvalidInput as exc:  # no labelled customers yet: a normal state, said in the result
        return {"scored": 0, "note": exc.detail}
    return {"scored": report.scored, "fit_id": report.fit_id, "roc_auc": report.roc_auc}


def queue_now(session: Session, workspace_id: int) -> int:
    """A scoring run someone asked for (API): ahead of bulk work; returns the job's id to follow."""
    job = enqueue(session, SCORE, workspace_id=workspace_id, priority=PRIORITY_INTERACTIVE)
    session.flush()
    return job.id
