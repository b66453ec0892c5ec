"""Reading jobs and schedules, and retrying dead jobs (the dead-letter list)."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cem.auth import audit
from cem.auth.principal import Principal, system_principal
from cem.db.base import utcnow
from cem.errors import BadRequest, Conflict, NotFound
from cem.jobs.models import Job, JobSchedule

STATUSES = ("queued", "running", "done", "dead")


def list_jobs(session: Session, *, workspace_id: int | None, status: str | None, limit: int) -> list[Job]:
    """Newest jobs first: a workspace's own plus system jobs, or every job when `workspace_id` is None."""
    stmt = select(Job)
    if workspace_id is not None:
        stmt = stmt.where(or_(Job.workspace_id == workspace_id, Job.workspace_id.is_(None)))
    if status:
        if status not in STATUSES:
            raise BadRequest(f"Unknown job status {status!r}; use one of {', '.join(STATUSES)}.")
        stmt = stmt.where(Job.status == status)
    return list(session.scalars(stmt.order_by(Job.id.desc()).limit(limit)))


def get_job(session: Session, *, workspace_id: int | None, job_id: int) -> Job:
    """One job visible to the workspace (any job when `workspace_id` is None)."""
    job = session.get(Job, job_id)
    if job is None or (workspace_id is not None and job.workspace_id not in (workspace_id, None)):
        raise NotFound(f"Job {job_id} does not exist.")
    return job


def retry_dead(session: Session, *, actor: Principal, job_id: int) -> Job:
    """Requeue a dead job of the actor's workspace with a fresh attempt budget."""
    job = _requeue(get_job(session, workspace_id=actor.workspace_id, job_id=job_id))
    audit.record(session, actor, "job.retry", entity_type="job", entity_id=job.id)
    session.info["jobs_enqueued"] = True
    return job


def retry_dead_any(session: Session, *, job_id: int) -> Job:
    """Operator (CLI) retry of any dead job; audited in the job's workspace when it has one."""
    job = _requeue(get_job(session, workspace_id=None, job_id=job_id))
    if job.workspace_id is not None:
        audit.record(session, system_principal(job.workspace_id), "job.retry", entity_type="job", entity_id=job.id)
    session.info["jobs_enqueued"] = True
    return job


def _requeue(job: Job) -> Job:
    if job.status != "dead":
        raise Conflict(f"Job {job.id} is {job.status}; only dead jobs can be retried.")
    job.status = "queued"
    job.attempts = 0
    job.run_at = utcnow()
    job.finished_at = None
    job.locked_by = None
    job.locked_until = None
    return job


def list_schedules(session: Session) -> list[JobSchedule]:
    """Every synced cron schedule, by name."""
    return list(session.scalars(select(JobSchedule).order_by(JobSchedule.name)))
