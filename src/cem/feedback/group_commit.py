"""Group commit for single-record ingest: concurrent `POST /feedback` requests share one transaction.

Each request still gets its own answer, and only after the transaction holding its record has committed, so an
acknowledged record is never lost. What is shared is the per-transaction cost (SQLite's single write lock,
BEGIN/COMMIT, the customer and touchpoint look-ups, the upsert statement), which dominates a one-record write.

No extra thread is started (nothing to stop when an app shuts down): the first waiting request becomes the
*leader*, stores everything pending, then hands leadership to the oldest request that arrived meanwhile and
returns. Followers just wait for their result. If a shared batch fails (say one record names an unknown
touchpoint), every request of it is retried alone, so each gets exactly its own error or success.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import groupby

from cem.admin.principal import Principal
from cem.db.session import Database
from cem.feedback import service
from cem.feedback.schemas import FeedbackIn, IngestResult

# A bound on how long the leader holds the write lock for others; larger batches gain little more.
MAX_BATCH = 256


@dataclass(eq=False)
class _Pending:
    actor: Principal
    record: FeedbackIn
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False  # woken to lead the next batch rather than with a result
    result: IngestResult | None = None
    error: BaseException | None = None


class GroupCommit:
    """Stores single feedback records of concurrent callers in shared transactions (see module docstring)."""

    def __init__(self, db: Database, *, max_batch: int = MAX_BATCH) -> None:
        self._db = db
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: list[_Pending] = []
        self._leading = False

    def submit(self, actor: Principal, record: FeedbackIn) -> IngestResult:
        """Store one record; returns once it is committed (or raises its own error)."""
        item = _Pending(actor, record)
        with self._lock:
            self._queue.append(item)
            lead = not self._leading
            self._leading = True
        if not lead:
            item.done.wait()
            lead = item.lead
        if lead:
            self._lead()
        if item.error is not None:
            raise item.error
        assert item.result is not None
        return item.result

    def _lead(self) -> None:
        with self._lock:
            batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
        try:
            self._store(batch)
        finally:
            with self._lock:
                successor = self._queue[0] if self._queue else None
                self._leading = successor is not None
            for item in batch:
                item.done.set()
            if successor is not None:
                successor.lead = True
                successor.done.set()

    def _store(self, batch: list[_Pending]) -> None:
        by_workspace: Callable[[_Pending], int] = lambda p: p.actor.workspace_id  # noqa: E731
        for _, group in groupby(sorted(batch, key=by_workspace), key=by_workspace):
            items = list(group)
            try:
                self._store_together(items)
            except Exception:  # retried one by one so each caller gets its own outcome
                for item in items:
                    self._store_alone(item)

    def _store_together(self, items: Sequence[_Pending]) -> None:
        with self._db.unit_of_work() as session:
            results = service.ingest_each(session, items=[(p.actor, p.record) for p in items])
        for item, result in zip(items, results, strict=True):
            item.result = result

    def _store_alone(self, item: _Pending) -> None:
        try:
            with self._db.unit_of_work() as session:
                item.result = service.ingest_feedback(session, actor=item.actor, records=[item.record])
        except BaseException as exc:  # handed to the caller's own thread
            item.error = exc
