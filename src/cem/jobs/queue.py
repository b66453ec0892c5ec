"""Durable background jobs stored in the operational database.

Why hand-written: the issue requires jobs to be enqueued *inside the transaction that caused them*
on both SQLite and PostgreSQL. The well-kept queue libraries either need a broker (Celery, Dramatiq,
RQ), are PostgreSQL-only (procrastinate, pgqueuer), or keep their own connection (huey's SQL storage),
so none can join our unit of work on SQLite. A jobs table written through the caller's session gives
that for free: the row becomes visible to workers only when the caller commits and vanishes on rollback.

How the rest fits together (see worker.py): workers claim due rows in batches (FOR UPDATE SKIP LOCKED on
PostgreSQL; BEGIN IMMEDIATE serialises claims on SQLite) and take a lease (`locked_until`) that a heartbeat
renews while the job runs. A job's own writes and its "done" mark commit in one transaction, and the mark
only succeeds while the worker still holds the lease, so a job whose worker died is retried after the lease
expires and its database side effects still happen exactly once. External side effects use `ctx.once(key)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cem.db.base import utcnow
from cem.jobs.models import Job
from cem.jobs.registry import JobArgsError, check_json_args, check_priority, get_task

MAX_DEDUPE_KEY = 200


def enqueue(
    session: Session,
    name: str,
    *,
    workspace_id: int | None = None,
    delay: timedelta | None = None,
    run_at: datetime | None = None,
    dedupe_key: str | None = None,
    max_attempts: int = 5,
    priority: int | None = None,
    **args: Any,
) -> Job:
    """Add a job to the caller's transaction. Arguments must be ids and JSON values, never objects.

    The job runs at its task's registered priority unless `priority` overrides it (lower runs first).

    With a `dedupe_key` that an existing job already carries, that job is returned and nothing is added
    (the caller's transaction stays usable). Dedupe keys are global: include the workspace in them.
    """
    row = _job_row(
        name, args, workspace_id=workspace_id, delay=delay, run_at=run_at, max_attempts=max_attempts, priority=priority
    )
    session.info["jobs_enqueued"] = True
    if dedupe_key is None:
        job = Job(**row)
        session.add(job)
        session.flush()
        return job
    if not 0 < len(dedupe_key) <= MAX_DEDUPE_KEY:
        raise JobArgsError(f"A dedupe key must be 1-{MAX_DEDUPE_KEY} characters, got {len(dedupe_key)}.")
    dialect = session.get_bind().dialect.name
    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = dialect_insert(Job).values(**row, dedupe_key=dedupe_key).on_conflict_do_nothing().returning(Job.id)
    new_id = session.execute(stmt).scalar_one_or_none()
    if new_id is not None:
        return session.get_one(Job, new_id)
    return session.scalars(select(Job).where(Job.dedupe_key == dedupe_key)).one()


def enqueue_many(
    session: Session, name: str, args_list: Sequence[dict[str, Any]], *, workspace_id: int | None = None
) -> int:
    """Add many jobs of one task in a single INSERT (bulk work such as backfills); returns how many."""
    rows = [_job_row(name, args, workspace_id=workspace_id) for args in args_list]
    if rows:
        session.execute(insert(Job), rows)
        session.info["jobs_enqueued"] = True
    return len(rows)


def _job_row(
    name: str,
    args: dict[str, Any],
    *,
    workspace_id: int | None,
    delay: timedelta | None = None,
    run_at: datetime | None = None,
    max_attempts: int = 5,
    priority: int | None = None,
) -> dict[str, Any]:
    """Validate a job at enqueue time (unknown task, non-JSON or ill-fitting args) and build its row."""
    task = get_task(name)  # fail at enqueue time for an unknown task name, not in the worker
    check_json_args(name, args)
    if problem := task.args_problem(args):
        raise JobArgsError(problem)
    if max_attempts < 1:
        raise JobArgsError(f"max_attempts must be at least 1, got {max_attempts}.")
    if priority is not None:
        check_priority(priority)
    now = utcnow()
    return {
        "name": name,
        "args": args,
        "workspace_id": workspace_id,
        "run_at": run_at or now + (delay or timedelta(0)),
        "max_attempts": max_attempts,
        "priority": task.priority if priority is None else priority,
        "status": "queued",
        "created_at": now,
    }
