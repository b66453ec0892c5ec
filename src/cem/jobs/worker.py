"""The worker: claims due jobs, runs them with retries and backoff, dead-letters the last failure.

A claim is a lease (`locked_until`). A worker killed mid-job never commits the job's writes, and once
the lease runs out another worker claims the job again. Because a task's writes and its
"done" mark commit in one transaction, a retried job's database side effects happen exactly once.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import socket
import threading
import traceback
from datetime import timedelta

from croniter import croniter
from sqlalchemy import or_, select, update

from cem.db.base import utcnow
from cem.db.session import Database
from cem.jobs.models import Job, JobSchedule
from cem.jobs.queue import enqueue
from cem.jobs.registry import TaskContext, get_task

log = logging.getLogger("cem.worker")

MAX_BACKOFF_SECONDS = 3600


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff with jitter: ~2, 4, 8 ... seconds, capped at an hour."""
    base = min(MAX_BACKOFF_SECONDS, 2**attempt)
    return base * (0.75 + random.random() / 2)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


class Worker:
    """Runs jobs from the database queue. Several workers (threads or processes) may share one queue."""

    def __init__(self, db: Database, *, worker_id: str | None = None, poll_seconds: float = 0.5) -> None:
        self.db = db
        self.worker_id = worker_id or default_worker_id()
        self.poll_seconds = poll_seconds
        self.wake = threading.Event()
        self.stopping = threading.Event()

    # -- claiming ---------------------------------------------------------------------------------
    def claim(self) -> int | None:
        """Atomically take the next due job (or one whose lease expired); returns its id."""
        now = utcnow()
        with self.db.unit_of_work() as session:
            due = or_(
                (Job.status == "queued") & (Job.run_at <= now),
                (Job.status == "running") & (Job.locked_until < now),
            )
            stmt = select(Job).where(due).order_by(Job.run_at, Job.id).limit(1)
            if self.db.dialect == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            job = session.scalars(stmt).first()
            if job is None:
                return None
            lease = get_task(job.name).lease_seconds if self._known(job.name) else 60
            job.status = "running"
            job.locked_by = self.worker_id
            job.locked_until = now + timedelta(seconds=lease)
            job.attempts += 1
            job.started_at = now
            return job.id

    @staticmethod
    def _known(name: str) -> bool:
        try:
            get_task(name)
        except Exception:
            return False
        return True

    # -- running ----------------------------------------------------------------------------------
    def run_job(self, job_id: int) -> bool:
        """Run one claimed job; True if it succeeded."""
        try:
            with self.db.unit_of_work() as session:
                job = session.get(Job, job_id)
                if job is None or job.status != "running" or job.locked_by != self.worker_id:
                    return False  # lost the lease to another worker
                task = get_task(job.name)
                ctx = TaskContext(
                    session=session,
                    job_id=job.id,
                    attempt=job.attempts,
                    progress=functools.partial(self.report_progress, job_id),
                    db=self.db,
                )
                result = task.fn(ctx, **job.args) or {}
                job.status = "done"
                job.result = result
                job.finished_at = utcnow()
                job.locked_until = None
                job.last_error = None
            return True
        except Exception as exc:
            log.warning("job %s failed: %s", job_id, exc)
            self._record_failure(job_id, exc)
            return False

    def _record_failure(self, job_id: int, exc: BaseException) -> None:
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()[:4000]
        with self.db.unit_of_work() as session:
            job = session.get(Job, job_id)
            if job is None:
                return
            job.last_error = error
            job.locked_by = None
            job.locked_until = None
            if job.attempts >= job.max_attempts:
                job.status = "dead"
                job.finished_at = utcnow()
            else:
                job.status = "queued"
                job.run_at = utcnow() + timedelta(seconds=backoff_seconds(job.attempts))

    def report_progress(self, job_id: int, current: int, total: int, message: str = "") -> None:
        """Record progress in its own short transaction so the UI sees it while the job runs."""
        with self.db.unit_of_work() as session:
            session.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(progress_current=current, progress_total=total, progress_message=message[:500])
            )

    # -- scheduling -------------------------------------------------------------------------------
    def fire_due_schedules(self) -> int:
        """Enqueue every cron schedule that is due; a compare-and-set on next_run_at fires each once."""
        now = utcnow()
        fired = 0
        with self.db.unit_of_work() as session:
            for sched in session.scalars(select(JobSchedule).where(JobSchedule.next_run_at <= now)).all():
                following = croniter(sched.cron, now).get_next(type(now))
                claimed = session.execute(
                    update(JobSchedule)
                    .where(JobSchedule.name == sched.name, JobSchedule.next_run_at == sched.next_run_at)
                    .values(next_run_at=following, last_run_at=now)
                    .execution_options(synchronize_session=False)
                )
                if claimed.rowcount == 1:  # type: ignore[attr-defined]
                    enqueue(session, sched.job_name, **sched.args)
                    fired += 1
        return fired

    # -- loop -------------------------------------------------------------------------------------
    def run_until_idle(self, max_jobs: int | None = None) -> int:
        """Run due jobs until none is left (used by tests and `cem worker --once`)."""
        ran = 0
        while max_jobs is None or ran < max_jobs:
            job_id = self.claim()
            if job_id is None:
                break
            self.run_job(job_id)
            ran += 1
        return ran

    def run_forever(self) -> None:
        """Loop until `stop()`: fire schedules, drain due jobs, then sleep until woken or polled."""
        while not self.stopping.is_set():
            try:
                self.fire_due_schedules()
                self.run_until_idle()
            except Exception:  # keep the loop alive; the failure is logged and the next poll retries
                log.exception("worker loop error")
            self.wake.wait(self.poll_seconds)
            self.wake.clear()

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name=f"cem-worker-{self.worker_id}", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
