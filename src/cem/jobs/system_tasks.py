"""Housekeeping tasks owned by the job system itself."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete

from cem.db.base import utcnow
from cem.jobs.models import Job
from cem.jobs.registry import PRIORITY_BULK, TaskContext, task
from cem.jobs.schedule import periodic


@periodic("jobs.purge_finished", cron="0 3 * * *")
@task("jobs.purge_finished", priority=PRIORITY_BULK)
def purge_finished(ctx: TaskContext, days: int = 30) -> dict[str, Any]:
    """Delete finished jobs older than `days` (dead ones stay until an admin acts)."""
    cutoff = utcnow() - timedelta(days=days)
    result = ctx.session.execute(delete(Job).where(Job.status == "done", Job.finished_at < cutoff))
    return {"deleted": result.rowcount}  # type: ignore[attr-defined]
