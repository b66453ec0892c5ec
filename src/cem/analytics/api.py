"""Metric queries over the feedback store: value, interval, n and significance."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from cem.analytics import service
from cem.analytics.schemas import MetricInfo, MetricRequest, MetricResult
from cem.api.body import StrictJsonRoute
from cem.api.deps import DbSession, Reader

router = APIRouter(tags=["metrics"], route_class=StrictJsonRoute)


@router.get("/metrics", response_model=MetricResult, summary="Compute a metric with intervals and significance")
def get_metric(
    request: Request, session: DbSession, actor: Reader, query: Annotated[MetricRequest, Query()]
) -> MetricResult:
    """Rows per bucket x segment; with compare_to=previous each carries change, p-value and BH-adjusted q-value."""
    runner = service.make_engine(
        session, name=query.engine, workspace_id=actor.workspace_id, settings=request.app.state.settings
    )
    return service.compute(session, workspace_id=actor.workspace_id, query=query, engine=runner)


@router.get("/metrics/catalog", response_model=list[MetricInfo], summary="The registered metrics")
def list_metrics(actor: Reader) -> list[MetricInfo]:  # noqa: ARG001  (declares the permission)
    return service.list_metrics()
