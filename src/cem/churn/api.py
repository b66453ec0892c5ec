"""Churn risk API: the latest model's figures, a customer's risk with reasons, and rescoring on demand."""

from __future__ import annotations

from fastapi import APIRouter

from cem.api.body import StrictJsonRoute
from cem.api.deps import DbSession, Reader, Writer
from cem.churn import service, tasks
from cem.churn.schemas import ChurnFitRead, ChurnScoreRead
from cem.clv.schemas import ScoringQueued
from cem.errors import NotFound
from cem.schemas import Id

router = APIRouter(tags=["customer analytics"], route_class=StrictJsonRoute)


@router.get("/churn/model", response_model=ChurnFitRead, summary="The latest churn model and its figures")
def latest_model(session: DbSession, actor: Reader) -> ChurnFitRead:
    fit = service.latest_fit(session, actor.workspace_id)
    if fit is None:
        raise NotFound("Churn risk has not been scored in this workspace yet: POST /api/v1/churn/score.")
    return ChurnFitRead.model_validate(fit)


@router.get("/churn/customers/{customer_id}", response_model=ChurnScoreRead, summary="A customer's churn risk")
def customer_score(session: DbSession, actor: Reader, customer_id: Id) -> ChurnScoreRead:
    found = service.customer_score(session, actor.workspace_id, customer_id)
    if found is None:
        raise NotFound(f"No churn risk for customer {customer_id}: already churned, or not scored yet.")
    score, fit = found
    return ChurnScoreRead(
        customer_id=score.customer_id,
        risk=score.risk,
        reasons=score.reasons,
        scored_at=score.scored_at,
        model=ChurnFitRead.model_validate(fit),
    )


@router.post("/churn/score", response_model=ScoringQueued, status_code=202, summary="Retrain and rescore now")
def score(session: DbSession, actor: Writer) -> ScoringQueued:
    return ScoringQueued(job_id=tasks.queue_now(session, actor.workspace_id))
