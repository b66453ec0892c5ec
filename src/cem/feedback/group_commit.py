"""Group commit for single-record ingest: concurrent `POST /feedback` requests share one transaction.

Each request still gets its own answer, and only after the transaction holding its record has committed, so an
acknowledged record is never lost. What is shared is the per-transaction cost (SQLite's single write lock,
BEGIN/COMMIT, the customer and touchpoint look-ups, the upsert statement), which dominates a one-record write.

No extra thread is started (nothing to stop when an app shuts down): the first waiting request becomes the
*leader*, stores everything pending, then hands leadership to the oldest request that arrived meanwhile and
returns. Followers just wait for their result. If a shared batch fails (say one record names an unknown
touchpoint), every request of it is retried alone, so each gets exactly its own error or success.

The queue and the hand-off are `GroupCommitQueue`; a subclass says how a batch is stored together and how one
request is stored alone. `GroupCommit` below is the feedback API's; the hosted survey page's page submits use
the same machinery (cem.responses.hosted.PageSubmits).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any, Generic, TypeVar, cast

from cem.auth.principal import Principal
from cem.db.session import Database
from cem.feedback import service
from cem.feedback.schemas import FeedbackIn, IngestResult

# A bound on how long the leader holds the write lock for others; larger batches gain little more.
MAX_BATCH = 256

R = TypeVar("R")


@dataclass(eq=False, kw_only=True)
class Pending(Generic[R]):
    """One caller's request in a group-commit queue; a subclass adds what is to be stored."""

    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False  # woken to lead the next batch rather than with a result
    result: R | None = None
    error: BaseException | None = None


P = TypeVar("P", bound=Pending[Any])


class GroupCommitQueue(Generic[P, R]):
    """Leader/follower batching of concurrent callers (see module docstring).

    Subclasses implement `_store_together` (one transaction for the items; set each item's `result`, or its
    `error` when only that item failed and nothing of it was stored) and `_store_alone` (one item, own
    transaction; returns its result or raises its error). Anything `_store_together` raises means the whole
    transaction is gone: each item of it is then stored alone.
    """

    def __init__(self, *, max_batch: int = MAX_BATCH) -> None:
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: list[P] = []
        self._leading = False

    def _run(self, item: P) -> R:
        """Queue `item` and return its result once the transaction holding it committed (or raise its error)."""
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
        return cast(R, item.result)  # set whenever no error is

    def _lead(self) -> None:
        with self._lock:
            batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
        try:
            self._store(batch)
        except BaseException as exc:  # interrupted (KeyboardInterrupt, ...): nobody is left without an answer
            for item in batch:
                if item.result is None and item.error is None:
                    item.error = exc
            raise
        finally:
            with self._lock:
                successor = self._queue[0] if self._queue else None
                self._leading = successor is not None
            for item in batch:
                item.done.set()
            if successor is not None:
                successor.lead = True
                successor.done.set()

    def _store(self, batch: list[P]) -> None:
        for items in self._groups(batch):
            try:
                self._store_together(items)
            except Exception:  # retried one by one so each caller gets its own outcome
                for item in items:
                    item.result = item.error = None
                    try:
                        item.result = self._store_alone(item)
                    except BaseException as exc:  # handed to the caller's own thread
                        item.error = exc

    def _groups(self, batch: list[P]) -> Iterable[list[P]]:
        """Items that may share a transaction (all of them unless a subclass says otherwise)."""
        return [batch]

    def _store_together(self, items: Sequence[P]) -> None:
        raise NotImplementedError

    def _store_alone(self, item: P) -> R:
        raise NotImplementedError


@dataclass(eq=False)
class _Pending(Pending[IngestResult]):
    actor: Principal
    record: FeedbackIn


class GroupCommit(GroupCommitQueue[_Pending, IngestResult]):
    """Stores single feedback records of concurrent callers in shared transactions (see module docstring)."""

    def __init__(self, db: Database, *, max_batch: int = MAX_BATCH) -> None:
        super().__init__(max_batch=max_batch)
        self._db = db

    def submit(self, actor: Principal, record: FeedbackIn) -> IngestResult:
        """Store one record; returns once it is committed (or raises its own error)."""
        return self._run(_Pending(actor, record))

    def _groups(self, batch: list[_Pending]) -> Iterable[list[_Pending]]:
        by_workspace = sorted(batch, key=lambda p: p.actor.workspace_id)
        return [list(group) for _, group in groupby(by_workspace, key=lambda p: p.actor.workspace_id)]

    def _store_together(self, items: Sequence[_Pending]) -> None:
        with self._db.unit_of_work() as session:
            results = service.ingest_each(session, items=[(p.actor, p.record) for p in items])
        for item, result in zip(items, results, strict=True):
            item.result = result

    def _store_alone(self, item: _Pending) -> IngestResult:
        with self._db.unit_of_work() as session:
            return service.ingest_feedback(session, actor=item.actor, records=[item.record])
