"""Durable background jobs stored in the operational database.

Why hand-written: the issue requires jobs to be enqueued *inside the transaction that caused them*
on both SQLite and PostgreSQL. The well-kept queue libraries either need a broker (Celery, Dramatiq,
RQ), are PostgreSQL-only (procrastinate, pgqueuer), or keep their own connection (huey's SQL storage),
so none can join our unit of work on SQLite. A jobs table written through the caller's session gives
that for free: the row becomes visible to workers only when the caller commits and vanishes on rollback.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from cem.db.base import utcnow
from cem.jobs.models import Job


def enqueue(
    session: Session,
    name: str,
    *,
    workspace_id: int | None = None,
    delay: timedelta | None = None,
    run_at: datetime | None = None,
    dedupe_key: str | None = None,
    max_attempts: int = 5,
    **args: Any,
) -> Job:
    """Add a job to the caller's transaction. Arguments must be ids and JSON values, never objects."""
    from cem.jobs.registry import get_task

    get_task(name)  # fail at enqueue time for an unknown task name, not in the worker
    when = run_at or utcnow() + (delay or timedelta(0))
    job = Job(
        name=name,
        args=args,
        workspace_id=workspace_id,
        run_at=when,
        dedupe_key=dedupe_key,
        max_attempts=max_attempts,
        status="queued",
    )
    session.add(job)
    session.flush()
    session.info["jobs_enqueued"] = True
    return job
