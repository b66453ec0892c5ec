"""Lifetime value API: the latest fit, a customer's value, and rescoring on demand."""

from __future__ import annotations

from fastapi import APIRouter

from cem.api.body import StrictJsonRoute
from cem.api.deps import DbSession, Reader, Writer
from cem.clv import service, tasks
from cem.clv.schemas import ClvFitRead, CustomerValueRead, RfmSegmentRead, RfmSegmentsRead, ScoringQueued
from cem.errors import NotFound
from cem.schemas import Id

router = APIRouter(tags=["customer analytics"], route_class=StrictJsonRoute)


@router.get("/clv/model", response_model=ClvFitRead, summary="The latest lifetime-value fit")
def latest_model(session: DbSession, actor: Reader) -> ClvFitRead:
    fit = service.latest_fit(session, actor.workspace_id)
    if fit is None:
        raise NotFound("Lifetime value has not been scored in this workspace yet: POST /api/v1/clv/score.")
    return ClvFitRead.model_validate(fit)


@router.get("/clv/customers/{customer_id}", response_model=CustomerValueRead, summary="A customer's lifetime value")
def customer_value(session: DbSession, actor: Reader, customer_id: Id) -> CustomerValueRead:
    value = service.customer_value(session, actor.workspace_id, customer_id)
    if value is None:
        raise NotFound(f"No lifetime value for customer {customer_id}: no purchases, or not scored yet.")
    return CustomerValueRead.model_validate(value)


@router.get("/clv/segments", response_model=RfmSegmentsRead, summary="RFM segment sizes, mean value and P(alive)")
def segments(session: DbSession, actor: Reader) -> RfmSegmentsRead:
    fit = service.latest_fit(session, actor.workspace_id)
    if fit is None:
        raise NotFound("Lifetime value has not been scored in this workspace yet: POST /api/v1/clv/score.")
    sizes = service.segment_sizes(session, actor.workspace_id)
    return RfmSegmentsRead(
        customers=sum(s.customers for s in sizes),
        scored_at=fit.fitted_at,
        segments=[RfmSegmentRead.model_validate(s) for s in sizes],
    )


@router.post("/clv/score", response_model=ScoringQueued, status_code=202, summary="Refit and rescore now")
def score(session: DbSession, actor: Writer) -> ScoringQueued:
    return ScoringQueued(job_id=tasks.queue_now(session, actor.workspace_id))
