"""Background scoring of churn risk: every night, and on demand (POST /api/v1/churn/score, `cem churn score`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from cem.churn import service
from cem.clv import tasks as clv_tasks
from cem.clv.tasks import score_or_fan_out
from cem.jobs.registry import PRIORITY_BULK, TaskContext, task
from cem.jobs.schedule import periodic

SCORE = "churn.score"


@periodic(SCORE, cron="0 3 * * *", name="churn.nightly")
@task(SCORE, lease_seconds=1800, priority=PRIORITY_BULK)
def score(ctx: TaskContext) -> dict[str, Any]:
    """Retrain and rescore one workspace; from the nightly schedule (no workspace), queue one per workspace."""

    def run(workspace_id: int) -> dict[str, Any]:
        report = service.score_workspace(ctx.session, workspace_id, after_reading=ctx.session.rollback)
        return {"scored": report.scored, "fit_id": report.fit_id, "roc_auc": report.roc_auc}

    return score_or_fan_out(ctx, SCORE, service.workspaces_with_customers, run)


def queue_now(session: Session, workspace_id: int) -> int:
    """A scoring run someone asked for (API): ahead of bulk work; returns the job's id to follow."""
    return clv_tasks.queue_now(session, workspace_id, SCORE)
