"""Reading jobs and retrying dead ones (the dead-letter list)."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cem.admin import audit
from cem.admin.principal import Principal
from cem.db.base import utcnow
from cem.errors import Conflict, NotFound
from cem.jobs.models import Job


def list_jobs(session: Session, *, workspace_id: int, status: str | None, limit: int) -> list[Job]:
    stmt = select(Job).where(or_(Job.workspace_id == workspace_id, Job.workspace_id.is_(None)))
    if status:
        stmt = stmt.where(Job.status == status)
    return list(session.scalars(stmt.order_by(Job.id.desc()).limit(limit)))


def get_job(session: Session, *, workspace_id: int, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None or job.workspace_id not in (workspace_id, None):
        raise NotFound(f"Job {job_id} does not exist.")
    return job


def retry_dead(session: Session, *, actor: Principal, job_id: int) -> Job:
    """Requeue a dead job with a fresh attempt budget."""
    job = get_job(session, workspace_id=actor.workspace_id, job_id=job_id)
    if job.status != "dead":
        raise Conflict(f"Job {job_id} is {job.status}; only dead jobs can be retried.")
    job.status = "queued"
    job.attempts = 0
    job.run_at = utcnow()
    job.finished_at = None
    session.info["jobs_enqueued"] = True
    audit.record(session, actor, "job.retry", entity_type="job", entity_id=job.id)
    return job
