"""Customer pages: searchable list and the customer 360 (attributes + one timeline of events and feedback)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from cem import hooks
from cem.api.deps import get_db
from cem.customers import service
from cem.customers import timeline as customer_timeline
from cem.text.redaction import mask_timeline
from cem.web.deps import PageReader, render

router = APIRouter()

PAGE_SIZE = 50


@router.get("/customers")
def customer_list(
    request: Request,
    principal: PageReader,
    q: str | None = Query(default=None, max_length=200),
    cursor: str | None = Query(default=None, max_length=500),
) -> Response:
    """Customers newest first with a search box and a keyset "next page" link."""
    with get_db(request).unit_of_work(readonly=True) as session:
        rows, next_cursor = service.list_customers(
            session, workspace_id=principal.workspace_id, q=(q or "").strip() or None, cursor=cursor, limit=PAGE_SIZE
        )
    return render(
        request, "customers/list.html", principal, customers=rows, q=q or "", next_cursor=next_cursor, cursor=cursor
    )


@router.get("/customers/{customer_id}")
def customer_360(request: Request, principal: PageReader, customer_id: int) -> Response:
    """The customer 360: attributes and every interaction and feedback submission, newest first."""
    with get_db(request).unit_of_work(readonly=True) as session:
        customer = service.get_customer(session, workspace_id=principal.workspace_id, customer_id=customer_id)
        timeline = customer_timeline.customer_timeline(
            session, workspace_id=principal.workspace_id, customer_id=customer_id
        )
        mask_timeline(session, principal, timeline)  # personal data in texts, for roles without pii:read
        # What other domains know of the customer (churn risk, lifetime value), without this page importing them.
        insights = hooks.customer_insights(session, workspace_id=principal.workspace_id, customer_id=customer_id)
    return render(request, "customers/detail.html", principal, customer=customer, timeline=timeline, insights=insights)
