"""Customers and interaction events over JSON."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from cem.api.body import StrictJsonRoute, read_items, validate_items
from cem.api.deps import DbSession, Reader, Writer, get_settings
from cem.customers import service
from cem.customers.schemas import CustomerIn, CustomerRead, CustomerUpdate, EventIn, EventRead
from cem.feedback import service as feedback_service
from cem.feedback.schemas import FeedbackRead
from cem.schemas import Id, Page, ReadModel
from cem.text.redaction import mask_reads

router = APIRouter(tags=["customers"], route_class=StrictJsonRoute)


class Accepted(ReadModel):
    accepted: int


@router.get("/customers", response_model=Page[CustomerRead], summary="List customers")
def list_customers(
    session: DbSession,
    actor: Reader,
    q: str | None = Query(default=None, max_length=200),
    cursor: str | None = None,
    limit: int = Query(default=50, ge=1, le=500),
) -> Page[CustomerRead]:
    """Customers newest first, optionally matching `q` in external id, email or name."""
    rows, nxt = service.list_customers(session, workspace_id=actor.workspace_id, q=q, cursor=cursor, limit=limit)
    return Page(items=[CustomerRead.model_validate(r) for r in rows], next_cursor=nxt)


@router.post("/customers", response_model=CustomerRead, summary="Create or update a customer")
def upsert_customer(session: DbSession, actor: Writer, customer_in: CustomerIn) -> CustomerRead:
    """Upsert by external id (or email); attributes are merged."""
    customer, _ = service.upsert_customer(session, actor=actor, customer_in=customer_in)
    return CustomerRead.model_validate(customer)


@router.post("/customers/bulk", response_model=Accepted, summary="Upsert many customers (JSON array or NDJSON)")
async def bulk_customers(request: Request, actor: Writer) -> Accepted:
    """All-or-nothing: one invalid item rejects the batch with every error listed."""
    items = validate_items(CustomerIn, await read_items(request, max_items=get_settings(request).max_bulk_records))
    with request.app.state.db.unit_of_work() as session:
        ids = service.upsert_customers(session, actor=actor, customers_in=items)
    return Accepted(accepted=len(ids))


@router.get("/customers/{customer_id}", response_model=CustomerRead, summary="Get a customer")
def get_customer(session: DbSession, actor: Reader, customer_id: Id) -> CustomerRead:
    return CustomerRead.model_validate(
        service.get_customer(session, workspace_id=actor.workspace_id, customer_id=customer_id)
    )


@router.patch("/customers/{customer_id}", response_model=CustomerRead, summary="Update a customer")
def update_customer(session: DbSession, actor: Writer, customer_id: Id, update: CustomerUpdate) -> CustomerRead:
    customer = service.update_customer(session, actor=actor, customer_id=customer_id, update=update)
    return CustomerRead.model_validate(customer)


@router.get("/customers/{customer_id}/events", response_model=list[EventRead], summary="A customer's events")
def customer_events(session: DbSession, actor: Reader, customer_id: Id) -> list[EventRead]:
    service.get_customer(session, workspace_id=actor.workspace_id, customer_id=customer_id)
    rows = service.list_events(session, workspace_id=actor.workspace_id, customer_id=customer_id)
    return [EventRead.model_validate(r) for r in rows]


@router.get("/customers/{customer_id}/feedback", response_model=list[FeedbackRead], summary="A customer's feedback")
def customer_feedback(session: DbSession, actor: Reader, customer_id: Id) -> list[FeedbackRead]:
    service.get_customer(session, workspace_id=actor.workspace_id, customer_id=customer_id)
    rows = feedback_service.for_customer(session, workspace_id=actor.workspace_id, customer_id=customer_id)
    return mask_reads(session, actor, [FeedbackRead.model_validate(r) for r in rows])


@router.post("/events", response_model=Accepted, summary="Record one interaction event")
def create_event(session: DbSession, actor: Writer, event: EventIn) -> Accepted:
    return Accepted(accepted=service.ingest_events(session, actor=actor, events=[event]))


@router.post("/events/bulk", response_model=Accepted, summary="Record many events (JSON array or NDJSON)")
async def bulk_events(request: Request, actor: Writer) -> Accepted:
    items = validate_items(EventIn, await read_items(request, max_items=get_settings(request).max_bulk_records))
    with request.app.state.db.unit_of_work() as session:
        count = service.ingest_events(session, actor=actor, events=items)
    return Accepted(accepted=count)
