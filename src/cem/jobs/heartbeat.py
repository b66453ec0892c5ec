"""A worker's heartbeat thread: renews the leases of the jobs it holds and writes their progress.

Why a thread: a live long job must not lose its lease to another worker, and its progress must be visible
to other sessions while it runs. Writing both from a side thread in short transactions means a task never
blocks on them — on SQLite a task that already writes through its own session holds the single write
lock, and a progress write from the task's thread would wait on itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import update

from cem.db.session import Database
from cem.jobs.models import Job

log = logging.getLogger("cem.worker")

Progress = tuple[int, int, str]
# Progress is written at most this often per worker, however often a task reports it.
PROGRESS_INTERVAL_SECONDS = 0.2


class Heartbeat:
    """Tracks the jobs one worker holds; its thread keeps their leases alive and flushes progress."""

    def __init__(self, db: Database, worker_id: str, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.worker_id = worker_id
        self.clock = clock
        self._held: dict[int, int] = {}  # job id -> lease seconds
        self._progress: dict[int, Progress] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._renewed_at = clock()

    # -- called from the worker thread ------------------------------------------------------------
    def hold(self, leases: dict[int, int]) -> None:
        """Start renewing these jobs' leases (job id -> lease seconds)."""
        with self._lock:
            was_idle = not self._held
            self._held.update(leases)
            if was_idle:  # the claim just set these leases; the first renewal is due one interval later
                self._renewed_at = self.clock()
        if was_idle:  # switch the thread from waiting forever to beating at the lease interval
            self._wake.set()

    def release(self, job_id: int) -> Progress | None:
        """Stop renewing a finished job; returns its unwritten progress, which the caller stores instead."""
        with self._lock:
            self._held.pop(job_id, None)
            return self._progress.pop(job_id, None)

    def report(self, job_id: int, current: int, total: int, message: str = "") -> None:
        """Record progress; the thread writes it shortly after in its own transaction."""
        with self._lock:
            self._progress[job_id] = (int(current), int(total), str(message)[:500])
        self._wake.set()

    # -- the thread -------------------------------------------------------------------------------
    def start(self) -> bool:
        """Start the thread unless it runs already; True if this call started it."""
        if self._thread is not None and self._thread.is_alive():
            return False
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=f"cem-heartbeat-{self.worker_id}", daemon=True)
        self._thread.start()
        return True

    def stop(self) -> None:
        """Stop the thread after its current beat."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None

    def _interval(self) -> float | None:
        """Renew at a third of the shortest held lease, so two missed beats still keep the claim."""
        with self._lock:
            return min(self._held.values()) / 3 if self._held else None

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._interval())
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.beat()
            except Exception:  # a busy database must not kill the heartbeat; the next beat retries
                log.exception("heartbeat failed")
            self._stop.wait(PROGRESS_INTERVAL_SECONDS)

    def beat(self) -> None:
        """Write pending progress and, when due, extend the held leases; skip the database if neither."""
        now = self.clock()
        interval = self._interval()
        with self._lock:
            progress, self._progress = self._progress, {}
            renew = interval is not None and (now - self._renewed_at).total_seconds() >= interval * 0.9
            held = dict(self._held) if renew else {}
        if not progress and not held:
            return
        mine = (Job.locked_by == self.worker_id) & (Job.status == "running")
        with self.db.unit_of_work() as session:
            for job_id, (current, total, message) in progress.items():
                values = {"progress_current": current, "progress_total": total, "progress_message": message}
                session.execute(update(Job).where(mine, Job.id == job_id).values(**values))
            for lease in set(held.values()):
                ids = [job_id for job_id, seconds in held.items() if seconds == lease]
                until = now + timedelta(seconds=lease)
                session.execute(update(Job).where(mine, Job.id.in_(ids)).values(locked_until=until))
        if held:
            self._renewed_at = now
