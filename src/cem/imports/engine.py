"""The import engine: stream rows, convert them, and store each batch in its own unit of work.

A batch's good rows, its row errors and the run's progress commit together, so after a crash the run's
`processed_rows` says exactly where to resume; rows before it are re-read only to rebuild the
duplicate registry, never stored twice. Upserts make even a full re-run of a file idempotent.
"""

from __future__ import annotations

import gc
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from cem.auth.principal import Principal
from cem.db.base import utcnow
from cem.db.session import Database
from cem.imports.convert import FeedbackCsv, FeedbackNdjson, Pending, RowProblem
from cem.imports.models import ImportRun
from cem.imports.reader import FileInfo, MalformedRow, iter_csv, iter_ndjson
from cem.imports.schemas import AnyMapping, CustomersMapping, EventsMapping, FeedbackMapping
from cem.imports.targets import STORES, Context, CustomersCsv, EventsCsv, Prepared, RowErrorDict, row_error

T = TypeVar("T")

BATCH_ROWS = 10_000
MAX_STORED_ERRORS = 1000


@dataclass
class Counts:
    total: int = 0
    processed: int = 0
    ok: int = 0
    errors: int = 0
    first_errors: list[RowErrorDict] = field(default_factory=list)


@dataclass
class Plan:
    """Everything one import needs: the checked file, target, mapping (None for NDJSON) and who runs it."""

    info: FileInfo
    target: str
    mapping: AnyMapping | None
    actor: Principal
    run_id: int | None = None


ProgressFn = Callable[[Counts], None]
ErrorsFn = Callable[[list[RowErrorDict]], None]


def _converter(plan: Plan, now: Any) -> Callable[[int, Any], Pending]:
    ws = plan.actor.workspace_id
    m = plan.mapping
    if plan.info.kind == "ndjson":
        return FeedbackNdjson(workspace_id=ws, now=now)
    if isinstance(m, FeedbackMapping):
        return FeedbackCsv(m, plan.info.header, workspace_id=ws, now=now)
    if isinstance(m, CustomersMapping):
        return CustomersCsv(m, plan.info.header)
    assert isinstance(m, EventsMapping)
    return EventsCsv(m, plan.info.header)


def _context(plan: Plan, now: Any) -> Context:
    ctx = Context(actor=plan.actor, now=now, seen={})
    m = plan.mapping
    customer = m.customer if isinstance(m, FeedbackMapping | EventsMapping) else None
    if customer is not None:
        ctx.create_customers = customer.create
        ctx.customer_column = customer.id or customer.external_id or customer.email or "customer"
    if isinstance(m, FeedbackMapping | EventsMapping):
        ctx.touchpoint_column = m.touchpoint or "touchpoint"
    return ctx


def _rows(info: FileInfo) -> Iterator[tuple[int, Any]]:
    return iter_ndjson(info) if info.kind == "ndjson" else iter_csv(info)


def _batches(rows: Iterator[tuple[int, Any]], size: int) -> Iterator[list[tuple[int, Any]]]:
    while batch := list(islice(rows, size)):
        yield batch


def _convert(
    convert: Callable[[int, Any], Pending], batch: Iterable[tuple[int, Any]]
) -> tuple[list[Pending], list[RowErrorDict]]:
    items: list[Pending] = []
    errors: list[RowErrorDict] = []
    for line, raw in batch:
        if isinstance(raw, MalformedRow):
            errors.append(row_error(line, "", raw.reason, raw.value))
            continue
        try:
            items.append(convert(line, raw))
        except RowProblem as exc:
            errors.append(row_error(line, exc.column, exc.reason, exc.value))
    return items, errors


_DONE = object()


def prefetch(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Produce `items` in a background thread, `depth` ahead of the consumer.

    Reading and converting the next batch (Python) overlaps with storing the current one, during which
    sqlite3/psycopg release the GIL: on 2 cores this is most of the import's speed-up over a plain loop.
    Exceptions raised while producing are re-raised in the consumer.
    """
    box: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                box.put(item)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            box.put(_Failure(exc))
        box.put(_DONE)

    thread = threading.Thread(target=produce, name="cem-import-reader", daemon=True)
    thread.start()
    try:
        while (item := box.get()) is not _DONE:
            if isinstance(item, _Failure):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                box.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def _save_progress(session: Session, run_id: int, counts: Counts) -> None:
    run = session.get(ImportRun, run_id)
    if run is None:
        return
    run.status = "running"
    run.total_rows = max(counts.total, counts.processed)
    run.processed_rows = counts.processed
    run.ok_rows = counts.ok
    run.error_rows = counts.errors
    if len(run.errors or []) != len(counts.first_errors):
        run.errors = list(counts.first_errors)  # a new list, so the JSON column is written


def execute(
    db: Database,
    plan: Plan,
    *,
    start: Counts | None = None,
    batch_rows: int = BATCH_ROWS,
    on_progress: ProgressFn | None = None,
    on_errors: ErrorsFn | None = None,
) -> Counts:
    """Import the whole file; returns the final counts. `start` resumes a run that committed some batches."""
    # Millions of short-lived dicts would trigger the cyclic GC over and over (it rescans the growing
    # duplicate registry each time); nothing here builds cycles, so pause it for the import.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _execute(db, plan, start, batch_rows, on_progress, on_errors)
    finally:
        if was_enabled:
            gc.enable()


def _execute(
    db: Database,
    plan: Plan,
    start: Counts | None,
    batch_rows: int,
    on_progress: ProgressFn | None,
    on_errors: ErrorsFn | None,
) -> Counts:
    now = utcnow()
    convert, ctx, store = _converter(plan, now), _context(plan, now), STORES[plan.target]
    counts = start or Counts()
    counts.total = max(counts.total, plan.info.estimated_rows)
    skip = counts.processed

    def prepared() -> Iterator[tuple[int, Prepared]]:
        """(rows read so far, batch) for each batch not committed by an earlier attempt; reader thread."""
        read = 0
        for batch in _batches(_rows(plan.info), batch_rows):
            items, errors = _convert(convert, batch)
            read += len(batch)
            if read <= skip:  # committed by an earlier attempt: only rebuild the duplicate registry
                ctx.seen.update((p.key, p.line) for p in items)
                continue
            ready = store.prepare(db, items, ctx)
            ready.errors = errors + ready.errors
            yield read, ready

    for read, ready in prefetch(prepared()):
        with db.unit_of_work() as session:
            ok, more = store.write(session, ready, ctx)
            errors = sorted(ready.errors + more, key=lambda e: e["line"])
            counts.processed, counts.ok, counts.errors = read, counts.ok + ok, counts.errors + len(errors)
            counts.first_errors.extend(errors[: MAX_STORED_ERRORS - len(counts.first_errors)])
            if plan.run_id is not None:
                _save_progress(session, plan.run_id, counts)
        if on_errors and errors:
            on_errors(errors)
        if on_progress:
            on_progress(counts)
    counts.total = counts.processed
    return counts
