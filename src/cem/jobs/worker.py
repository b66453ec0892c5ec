"""The worker: claims due jobs in batches, runs them with retries and backoff, dead-letters the last failure.

A claim is a lease (`locked_until`) that the worker's heartbeat renews while the job runs. A worker killed
mid-job never commits the job's writes, and once the lease runs out another worker claims the job again.
A task's writes and its "done" mark commit in one transaction, and the mark is a compare-and-set on
"still running and still mine", so a job that lost its lease rolls back instead of committing twice:
a retried job's database side effects happen exactly once.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import random
import socket
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, bindparam, exists, select, update
from sqlalchemy.orm import Session

from cem.db.base import utcnow
from cem.db.session import Database
from cem.jobs import schedule
from cem.jobs.heartbeat import Heartbeat
from cem.jobs.models import Job
from cem.jobs.registry import PRIORITY_INTERACTIVE, TaskContext, find_task, json_problem

log = logging.getLogger("cem.worker")

MAX_BACKOFF_SECONDS = 3600
UNKNOWN_TASK_LEASE = 60
_ids = itertools.count(1)

# Built once: the per-job "done" update is the hot path, and a prepared Core statement skips the ORM.
_job = cast(Table, Job.__table__)
_MARK_DONE = (
    update(_job)
    .where(_job.c.id == bindparam("job_id"), _job.c.status == "running", _job.c.locked_by == bindparam("worker"))
    .values(
        status="done",
        result=bindparam("result"),
        finished_at=bindparam("finished_at"),
        locked_until=None,
        last_error=None,
    )
)
_MARK_DONE_WITH_PROGRESS = _MARK_DONE.values(
    progress_current=bindparam("progress_current"),
    progress_total=bindparam("progress_total"),
    progress_message=bindparam("progress_message"),
)


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff with jitter: ~2, 4, 8 ... seconds after attempt 1, 2, 3 ..., capped at an hour."""
    base = min(MAX_BACKOFF_SECONDS, 2**attempt)
    return float(base * (0.75 + random.random() / 2))


def default_worker_id() -> str:
    """host:pid:n, unique per Worker object (several may share a thread in tests)."""
    return f"{socket.gethostname()}:{os.getpid()}:{next(_ids)}"


def describe_error(exc: BaseException) -> str:
    """The exception line first (what admins read in the dead-letter list), then the traceback tail."""
    headline = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    trace = "".join(traceback.format_exception(exc))
    return f"{headline}\n\n{trace[-3000:]}"[:4000]


@dataclass(frozen=True)
class ClaimedJob:
    """What a worker needs to run a claimed job; read once at claim time."""

    id: int
    name: str
    args: dict[str, Any]
    attempt: int
    max_attempts: int
    workspace_id: int | None


class LeaseLost(Exception):
    """The job's lease went to another worker while it ran; its transaction must roll back."""


class Worker:
    """Runs jobs from the database queue. Several workers (threads or processes) may share one queue."""

    def __init__(
        self,
        db: Database,
        *,
        worker_id: str | None = None,
        poll_seconds: float = 0.5,
        batch_size: int = 20,
        batch_hold_seconds: float = 1.0,
        clock: Callable[[], datetime] = utcnow,
        max_priority: int | None = None,
    ) -> None:
        self.db = db
        # Reserved capacity: a worker with max_priority=PRIORITY_NORMAL never takes bulk jobs, so an import
        # starts at once even while every other slot is busy with a long enrichment backfill.
        self.max_priority = max_priority
        self.worker_id = worker_id or default_worker_id()
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        # Jobs claimed in a batch but not started go back to the queue after this long, so one slow job
        # does not keep the rest of its batch from idle workers.
        self.batch_hold_seconds = batch_hold_seconds
        self.clock = clock
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.heartbeat = Heartbeat(db, self.worker_id, clock)

    # -- claiming ---------------------------------------------------------------------------------
    def claim_batch(self, limit: int | None = None) -> list[ClaimedJob]:
        """Atomically take up to `limit` due jobs (or ones whose lease expired) and lease them to this worker."""
        now = self.clock()
        limit = limit or self.batch_size
        with self.db.unit_of_work() as session:
            self._bury_lost(session, now)
            rows = self._select(session, self._expired(now), limit)
            rows += self._select(session, self._queued(now), limit - len(rows)) if len(rows) < limit else []
            jobs = [ClaimedJob(r.id, r.name, r.args, r.attempts + 1, r.max_attempts, r.workspace_id) for r in rows]
            leases = {job.id: self._lease(job.name) for job in jobs}
            self._lease_rows(session, leases, now)
        if leases:
            self.heartbeat.hold(leases)
        return jobs

    def _mine(self, due: ColumnElement[bool]) -> ColumnElement[bool]:
        """`due` limited to the priorities this worker takes."""
        return due if self.max_priority is None else due & (Job.priority <= self.max_priority)

    def _queued(self, now: datetime) -> ColumnElement[bool]:
        return self._mine((Job.status == "queued") & (Job.run_at <= now))

    def _expired(self, now: datetime) -> ColumnElement[bool]:
        return self._mine((Job.status == "running") & (Job.locked_until < now))

    def claim_statement(self, now: datetime, limit: int) -> Select[Any]:
        """The query that picks queued due jobs: most urgent first, then oldest.

        ix_job_claim (status, priority, run_at, id) serves it: the scan walks the index in order and stops at LIMIT.
        """
        return self._claim(self._queued(now), limit)

    def _claim(self, due: ColumnElement[bool], limit: int) -> Select[Any]:
        cols = (Job.id, Job.name, Job.args, Job.attempts, Job.max_attempts, Job.workspace_id)
        stmt = select(*cols).where(due).order_by(Job.priority, Job.run_at, Job.id).limit(limit)
        if self.db.dialect == "postgresql":
            # Rows another worker is claiming (or leasing) right now are skipped, not waited for.
            stmt = stmt.with_for_update(skip_locked=True)
        return stmt

    def _select(self, session: Session, due: ColumnElement[bool], limit: int) -> list[Any]:
        return list(session.execute(self._claim(due, limit)).all())

    @staticmethod
    def _lease(name: str) -> int:
        task = find_task(name)
        return task.lease_seconds if task else UNKNOWN_TASK_LEASE

    def _lease_rows(self, session: Session, leases: dict[int, int], now: datetime) -> None:
        for lease in set(leases.values()):
            ids = [job_id for job_id, seconds in leases.items() if seconds == lease]
            session.execute(
                update(Job)
                .where(Job.id.in_(ids))
                .values(
                    status="running",
                    locked_by=self.worker_id,
                    locked_until=now + timedelta(seconds=lease),
                    attempts=Job.attempts + 1,
                    started_at=now,
                )
                .execution_options(synchronize_session=False)
            )

    def _bury_lost(self, session: Session, now: datetime) -> None:
        """A job whose worker died on its last attempt goes dead instead of crashing workers forever."""
        lost = select(Job.id).where(Job.status == "running", Job.locked_until < now, Job.attempts >= Job.max_attempts)
        if self.db.dialect == "postgresql":  # skip rows another worker holds, rather than deadlock on them
            lost = lost.with_for_update(skip_locked=True)
        session.execute(
            update(Job)
            .where(Job.id.in_(lost))
            .values(
                status="dead",
                finished_at=now,
                locked_until=None,
                last_error="The worker running the last attempt stopped (crash or kill) before it finished.",
            )
            .execution_options(synchronize_session=False)
        )

    def has_due_jobs(self) -> bool:
        """A cheap read-only check, so idle workers poll without taking the SQLite write lock."""
        now = self.clock()
        due = self._queued(now) | self._expired(now)
        with self.db.unit_of_work(readonly=True) as session:
            return bool(session.scalar(select(exists().where(due))))

    # -- running ----------------------------------------------------------------------------------
    def run_job(self, job: ClaimedJob) -> bool:
        """Run one claimed job; True if it succeeded and was marked done."""
        task = find_task(job.name)
        problem = f"No background task is registered as {job.name!r}." if task is None else task.args_problem(job.args)
        if task is None or problem:
            self._record_failure(job, problem or "", permanent=True)  # retrying cannot fix these
            return False
        try:
            with self.db.unit_of_work() as session:
                ctx = TaskContext(
                    session=session,
                    job_id=job.id,
                    attempt=job.attempt,
                    progress=functools.partial(self.heartbeat.report, job.id),
                    db=self.db,
                    workspace_id=job.workspace_id,
                )
                result = task.fn(ctx, **job.args)
                self._mark_done(session, job, result)
        except LeaseLost:
            log.warning("job %s lost its lease to another worker; its work was rolled back", job.id)
            return False
        except Exception as exc:
            log.warning("job %s (%s) attempt %s failed: %s", job.id, job.name, job.attempt, exc)
            self._record_failure(job, describe_error(exc))
            return False
        return True

    def _mark_done(self, session: Session, job: ClaimedJob, result: Any) -> None:
        """Mark done in the task's own transaction, only if this worker still holds the lease."""
        result = {} if result is None else result
        if not isinstance(result, dict):
            raise TypeError(f"Task {job.name} must return None or a dict, got {type(result).__name__}.")
        if problem := json_problem(result, "result"):
            raise TypeError(f"Task {job.name} returned a non-JSON value: {problem}.")
        params: dict[str, Any] = {"job_id": job.id, "worker": self.worker_id, "result": result}
        params["finished_at"] = self.clock()
        progress = self.heartbeat.release(job.id)
        if progress is None:
            marked = session.execute(_MARK_DONE, params)
        else:
            params.update(zip(("progress_current", "progress_total", "progress_message"), progress, strict=True))
            marked = session.execute(_MARK_DONE_WITH_PROGRESS, params)
        if marked.rowcount != 1:  # type: ignore[attr-defined]
            raise LeaseLost(job.id)

    def _record_failure(self, job: ClaimedJob, error: str, *, permanent: bool = False) -> None:
        """Requeue with backoff, or dead-letter after the last attempt (or at once for a permanent failure)."""
        self.heartbeat.release(job.id)
        now = self.clock()
        values: dict[str, Any] = {"last_error": error[:4000], "locked_until": None}
        if permanent or job.attempt >= job.max_attempts:
            values.update(status="dead", finished_at=now)
        else:
            values.update(status="queued", locked_by=None, run_at=now + timedelta(seconds=backoff_seconds(job.attempt)))
        with self.db.unit_of_work() as session:
            session.execute(
                update(Job)
                .where(Job.id == job.id, Job.status == "running", Job.locked_by == self.worker_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )

    def _unclaim(self, jobs: Sequence[ClaimedJob]) -> None:
        """Give claimed but unstarted jobs back to the queue without spending an attempt."""
        for job in jobs:
            self.heartbeat.release(job.id)
        with self.db.unit_of_work() as session:
            session.execute(
                update(Job)
                .where(Job.id.in_([j.id for j in jobs]), Job.status == "running", Job.locked_by == self.worker_id)
                .values(status="queued", locked_by=None, locked_until=None, attempts=Job.attempts - 1)
                .execution_options(synchronize_session=False)
            )

    def report_progress(self, job_id: int, current: int, total: int, message: str = "") -> None:
        """Record progress; the heartbeat writes it in its own short transaction so other sessions see it."""
        self.heartbeat.report(job_id, current, total, message)

    # -- scheduling -------------------------------------------------------------------------------
    def sync_schedules(self) -> None:
        """Write the schedules declared in code into `job_schedule`."""
        with self.db.unit_of_work() as session:
            schedule.sync_schedules(session, now=self.clock())

    def fire_due_schedules(self) -> int:
        """Enqueue every due schedule exactly once, even with several workers; returns how many fired."""
        now = self.clock()
        with self.db.unit_of_work(readonly=True) as session:
            if not schedule.due_schedule_names(session, now=now):
                return 0
        with self.db.unit_of_work() as session:
            return schedule.fire_due_schedules(session, now=now)

    # -- loop -------------------------------------------------------------------------------------
    def run_until_idle(self, max_jobs: int | None = None) -> int:
        """Run due jobs until none is left (used by tests and `cem worker --once`); returns how many ran."""
        started = self.heartbeat.start()
        try:
            ran = 0
            while (max_jobs is None or ran < max_jobs) and not self.stopping.is_set():
                batch = self.claim_batch(self.batch_size if max_jobs is None else min(self.batch_size, max_jobs - ran))
                if not batch:
                    break
                ran += self._run_batch(batch)
            return ran
        finally:
            if started:
                self.heartbeat.stop()

    def _run_batch(self, batch: Sequence[ClaimedJob]) -> int:
        began = time.monotonic()
        for index, job in enumerate(batch):
            if index and (self.stopping.is_set() or time.monotonic() - began > self.batch_hold_seconds):
                self._unclaim(batch[index:])
                return index
            self.run_job(job)
        return len(batch)

    def tick(self) -> int:
        """One polling round: fire due schedules, then run every due job."""
        self.fire_due_schedules()
        return self.run_until_idle() if self.has_due_jobs() else 0

    def run_forever(self) -> None:
        """Loop until `stop()`: sync schedules once, then tick and sleep until woken or polled."""
        self.heartbeat.start()
        try:
            try:
                self.sync_schedules()
            except Exception:  # schedules are re-synced at the next start; jobs must still run
                log.exception("could not sync schedules")
            while not self.stopping.is_set():
                try:
                    self.tick()
                except Exception:  # keep the loop alive; the failure is logged and the next poll retries
                    log.exception("worker loop error")
                self.wake.wait(self.poll_seconds)
                self.wake.clear()
        finally:
            self.heartbeat.stop()

    def start_thread(self) -> threading.Thread:
        """Run `run_forever` in a daemon thread (the in-process worker of the embedded default)."""
        thread = threading.Thread(target=self.run_forever, name=f"cem-worker-{self.worker_id}", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        """Ask the loop to finish its current job and return."""
        self.stopping.set()
        self.wake.set()


def worker_pool(
    db: Database, *, general: int, interactive: int, poll_seconds: float = 0.5, batch_size: int = 20
) -> list[Worker]:
    """`general` workers that take any job (most urgent first) plus `interactive` ones that never take
    non-interactive work: the reserved capacity that lets an import start while a backfill holds every general slot."""
    workers = [Worker(db, poll_seconds=poll_seconds, batch_size=batch_size) for _ in range(general)]
    workers += [
        Worker(db, poll_seconds=poll_seconds, batch_size=batch_size, max_priority=PRIORITY_INTERACTIVE)
        for _ in range(interactive)
    ]
    return workers


def wake_all(workers: Sequence[Worker]) -> Callable[[], None]:
    """One callback that wakes every worker of a pool (after a commit that enqueued jobs)."""

    def wake() -> None:
        for worker in workers:
            worker.wake.set()

    return wake
