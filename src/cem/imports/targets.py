"""Per-target converters and batch stores. A store checks what needs the database (customers,
touchpoints, duplicates across the file), stores the good rows and returns the rejected ones."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from cem.auth.principal import Principal
from cem.customers import bulk as customer_bulk
from cem.customers import service as customer_service
from cem.customers.schemas import EventIn
from cem.db.session import Database
from cem.feedback import writer as feedback_writer
from cem.feedback.writer import FeedbackWriter
from cem.imports.convert import Cache, Columns, Pending, RefReader, RowProblem, parse_datetime
from cem.imports.schemas import CustomersMapping, EventsMapping
from cem.journeys import service as journey_service

RowErrorDict = dict[str, Any]
MAX_CACHED_CUSTOMERS = 500_000


def row_error(line: int, column: str, reason: str, value: str = "") -> RowErrorDict:
    return {"line": line, "column": column, "reason": reason, "value": value[:200]}


@dataclass
class Context:
    """What a batch store needs besides the rows; `seen` maps identity -> first line, across batches."""

    actor: Principal
    now: datetime
    seen: dict[str, int]
    create_customers: bool = True
    # Customer ids already resolved in this run: most files name the same customers again and again.
    customer_ids: dict[tuple[str, str], int] = field(default_factory=dict)
    customer_column: str = "customer"
    touchpoint_column: str = "touchpoint"

    @property
    def workspace_id(self) -> int:
        return self.actor.workspace_id


class CustomersCsv:
    """CSV row -> Pending carrying one customer reference."""

    def __init__(self, mapping: CustomersMapping, header: list[str]) -> None:
        self.refs = RefReader(Columns(header), mapping, Cache())
        self.column = mapping.external_id or mapping.email or ""
        self.width = len(header)

    def __call__(self, line: int, cells: list[str]) -> Pending:
        if len(cells) != self.width:
            raise RowProblem("", f"expected {self.width} cells, found {len(cells)}")
        ref = self.refs.ref(cells)
        if ref is None:
            raise RowProblem(self.column, "a customer needs an external id or an email")
        kind, value = ref.key
        label = f"customer ({'external_id' if kind == 'x' else 'email'} {value!r})"
        return Pending(line, f"{kind}\x1f{value}", label, [], ref=ref)


class EventsCsv:
    """CSV row -> Pending carrying one validated EventIn."""

    def __init__(self, mapping: EventsMapping, header: list[str]) -> None:
        cols = Columns(header)
        self.m = mapping
        self.refs = RefReader(cols, mapping.customer, Cache())
        self.index = cols.index
        self.props = [(c, cols.index[c]) for c in mapping.properties]
        self.width = len(header)
        self.dates = Cache()

    def cell(self, cells: list[str], column: str | None) -> str:
        return cells[self.index[column]].strip() if column else ""

    def __call__(self, line: int, cells: list[str]) -> Pending:
        if len(cells) != self.width:
            raise RowProblem("", f"expected {self.width} cells, found {len(cells)}")
        m = self.m
        at = self.cell(cells, m.occurred_at)
        read_at = functools.partial(parse_datetime, fmt=m.occurred_at_format, option="occurred_at_format")
        try:
            occurred = self.dates.get(at, read_at) if at else None
        except ValueError as exc:
            raise RowProblem(m.occurred_at, str(exc), at) from None
        if occurred is None:
            raise RowProblem(m.occurred_at, "an event needs a time")
        customer_id = self.refs.customer_id(cells)
        ref = None if customer_id is not None else self.refs.ref(cells)
        if customer_id is None and ref is None:
            raise RowProblem("customer", "an event needs a customer (id, external id or email)")
        raw = {
            "customer_id": customer_id,
            "customer": {"external_id": ref.external_id, "email": ref.email, "name": ref.name} if ref else None,
            "type": self.cell(cells, m.type) or m.type_value,
            "occurred_at": occurred,
            "touchpoint": self.cell(cells, m.touchpoint) or m.touchpoint_key,
            "external_id": self.cell(cells, m.external_id) or None,
            "value": self.cell(cells, m.value) or None,
            "properties": {c: cells[i] for c, i in self.props if cells[i] != ""},
        }
        event = _event(raw, m)
        key = f"x\x1f{event.external_id}" if event.external_id else f"l\x1f{line}"
        pending = Pending(line, key, f"event {event.external_id!r}", [], ref=ref, customer_id=customer_id)
        pending.touchpoint = event.touchpoint
        pending.extra["event"] = event
        return pending


def _event(raw: dict[str, Any], m: EventsMapping) -> EventIn:
    columns = {"type": m.type or "type_value", "occurred_at": m.occurred_at, "touchpoint": m.touchpoint or ""}
    columns |= {"external_id": m.external_id or "", "value": m.value or ""}
    try:
        return EventIn.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        first = str(err["loc"][0]) if err["loc"] else ""
        raise RowProblem(columns.get(first) or first, err["msg"], str(raw.get(first) or "")) from None


def _check_refs(session: Session, items: list[Pending], ctx: Context, errors: list[RowErrorDict]) -> list[Pending]:
    """Reject rows naming an unknown touchpoint or customer id, or repeating an identity of this file."""
    keys = {p.touchpoint for p in items if p.touchpoint}
    tps = journey_service.touchpoint_ids_by_key(session, workspace_id=ctx.workspace_id, keys=keys) if keys else {}
    wanted = {p.customer_id for p in items if p.customer_id is not None}
    known = customer_bulk.existing_ids(session, workspace_id=ctx.workspace_id, ids=wanted) if wanted else set()
    batch_seen: dict[str, int] = {}
    good = []
    for p in items:
        if p.touchpoint and p.touchpoint not in tps:
            errors.append(row_error(p.line, ctx.touchpoint_column, "unknown touchpoint key", p.touchpoint))
        elif p.customer_id is not None and p.customer_id not in known:
            errors.append(row_error(p.line, ctx.customer_column, "unknown customer id", str(p.customer_id)))
        elif (first := ctx.seen.get(p.key) or batch_seen.get(p.key)) is not None:
            errors.append(row_error(p.line, "", f"duplicate {p.key_label}: already seen at line {first}"))
        else:
            batch_seen[p.key] = p.line
            p.extra["touchpoint_id"] = tps.get(p.touchpoint) if p.touchpoint else None
            good.append(p)
    return good


def _resolve_customers(
    session: Session, items: list[Pending], ctx: Context, errors: list[RowErrorDict], *, update: bool = False
) -> list[Pending]:
    """Set each row's customer id from its reference (creating customers if the mapping says so)."""
    refs = _unresolved(items, ctx, update)
    if refs:
        _learn(
            ctx,
            customer_bulk.resolve_refs(
                session, workspace_id=ctx.workspace_id, refs=refs, create=ctx.create_customers, update_existing=update
            ),
        )
    return _with_customer_ids(items, ctx, errors)


def _unresolved(items: list[Pending], ctx: Context, update: bool) -> list[customer_bulk.BulkRef]:
    known = ctx.customer_ids
    return [p.ref for p in items if p.ref is not None and (update or p.ref.key not in known)]


def _learn(ctx: Context, found: dict[tuple[str, str], int]) -> None:
    if len(ctx.customer_ids) > MAX_CACHED_CUSTOMERS:
        ctx.customer_ids.clear()
    ctx.customer_ids.update(found)


def _with_customer_ids(items: list[Pending], ctx: Context, errors: list[RowErrorDict]) -> list[Pending]:
    ids = ctx.customer_ids
    good = []
    for p in items:
        if p.ref is not None:
            if p.ref.key not in ids:
                value = p.ref.external_id or p.ref.email or ""
                errors.append(row_error(p.line, ctx.customer_column, "unknown customer", value))
                continue
            p.customer_id = ids[p.ref.key]
        good.append(p)
    return good


def _remember(items: Sequence[Pending], ctx: Context) -> None:
    for p in items:
        ctx.seen[p.key] = p.line


@dataclass
class Prepared:
    """A batch made ready outside the transaction that writes it: what to write and the rows already rejected."""

    payload: Any
    ok: int = 0
    errors: list[RowErrorDict] = field(default_factory=list)


def prepare_feedback(db: Database, items: list[Pending], ctx: Context) -> Prepared:
    """Check and resolve a batch and encode its records (runs in the import's reader thread).

    Lookups read in a read-only unit; unknown customers are created in a short unit of their own, committed
    before the batch's records (a customer is idempotent: a resumed import finds it again).
    """
    errors: list[RowErrorDict] = []
    with db.unit_of_work(readonly=True) as session:
        checked = _check_refs(session, items, ctx, errors)
        refs = _unresolved(checked, ctx, update=False)
        if refs:
            _learn(ctx, customer_bulk.resolve_refs(session, workspace_id=ctx.workspace_id, refs=refs, create=False))
    if ctx.create_customers and (refs := _unresolved(checked, ctx, update=False)):
        with db.unit_of_work() as session:
            _learn(ctx, customer_bulk.resolve_refs(session, workspace_id=ctx.workspace_id, refs=refs))
    good = _with_customer_ids(checked, ctx, errors)
    rows = []
    for p in good:
        tp_id = p.extra["touchpoint_id"]
        for row in p.records:
            row.customer_id = p.customer_id
            row.touchpoint_id = tp_id
            rows.append(row)
    _remember(good, ctx)
    return Prepared(feedback_writer.prepare(db.dialect, rows, ctx.now), len(good), errors)


def write_feedback(session: Session, batch: Prepared, ctx: Context) -> tuple[int, list[RowErrorDict]]:
    """Upsert a prepared batch's records (the writer's hook queues their text for enrichment); (rows stored, new
    errors)."""
    writer = FeedbackWriter(session, now=ctx.now)
    writer.add_prepared(batch.payload)
    writer.flush()
    return batch.ok, []


def store_customers(session: Session, items: list[Pending], ctx: Context) -> tuple[int, list[RowErrorDict]]:
    """Create or update (merge attributes of) every good row's customer."""
    errors: list[RowErrorDict] = []
    good = _resolve_customers(session, _check_refs(session, items, ctx, errors), ctx, errors, update=True)
    _remember(good, ctx)
    return len(good), errors


def store_events(session: Session, items: list[Pending], ctx: Context) -> tuple[int, list[RowErrorDict]]:
    """Upsert every good row's event through the customers service."""
    errors: list[RowErrorDict] = []
    good = _check_refs(session, items, ctx, errors)
    if not ctx.create_customers:
        good = _resolve_customers(session, good, ctx, errors)
    if good:
        customer_service.ingest_events(session, actor=ctx.actor, events=[p.extra["event"] for p in good])
    _remember(good, ctx)
    return len(good), errors


def _pass_through(_db: Database, items: list[Pending], _ctx: Context) -> Prepared:
    return Prepared(items)


def _in_transaction(
    store: Callable[[Session, list[Pending], Context], tuple[int, list[RowErrorDict]]],
) -> Callable[[Session, Prepared, Context], tuple[int, list[RowErrorDict]]]:
    def write(session: Session, batch: Prepared, ctx: Context) -> tuple[int, list[RowErrorDict]]:
        return store(session, batch.payload, ctx)

    return write


@dataclass(frozen=True)
class Store:
    """How a target stores a batch: `prepare` in the reader thread, `write` in the batch's unit of work
    (returning rows stored and the errors it found).

    Feedback does its checks, customer resolution and encoding in `prepare`, so they overlap with the
    previous batch's write; customers and events (smaller volumes) do everything in `write`.
    """

    prepare: Callable[[Database, list[Pending], Context], Prepared]
    write: Callable[[Session, Prepared, Context], tuple[int, list[RowErrorDict]]]


STORES: dict[str, Store] = {
    "feedback": Store(prepare_feedback, write_feedback),
    "customers": Store(_pass_through, _in_transaction(store_customers)),
    "events": Store(_pass_through, _in_transaction(store_events)),
}
