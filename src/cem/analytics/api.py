"""Metric queries over the feedback store: value, interval, n and significance."""

from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter, Query, Request

from cem.analytics import dimensions, service
from cem.analytics.metrics import METRICS
from cem.analytics.schemas import Interval, MetricInfo, MetricQuery, MetricResult
from cem.api.body import StrictJsonRoute
from cem.api.deps import DbSession, Reader

router = APIRouter(tags=["metrics"], route_class=StrictJsonRoute)


@router.get("/metrics", response_model=MetricResult, summary="Compute a metric with intervals and significance")
def get_metric(
    request: Request,
    session: DbSession,
    actor: Reader,
    metric: str = Query(description=f"Metric slug: {', '.join(METRICS)}."),
    group_by: list[str] = Query(
        default=[],
        max_length=4,
        description=f"Repeatable: {dimensions.names_help()}. {dimensions.TOPIC_HELP}",
    ),
    interval: Interval | None = None,
    filter: list[str] = Query(
        default=[],
        max_length=20,
        description="Repeatable FIELD=VALUE (fields as for group_by); topic=K keeps the records having topic K.",
    ),
    date_from: date | None = None,
    date_to: date | None = None,
    compare_to: Literal["previous"] | None = None,
    min_n: int = Query(default=30, ge=0, le=1_000_000, description="Below this n a value is 'not enough data'."),
    confidence: float = Query(default=0.95, gt=0.5, lt=1),
    engine: Literal["auto", "sql", "duckdb"] = Query(
        default="auto",
        description=(
            "auto: SQL on small stores, DuckDB attached to the store on large ones; spark reads the Parquet snapshot."
        ),
    ),
) -> MetricResult:
    """Rows per bucket x segment; with compare_to=previous each carries change, p-value and BH-adjusted q-value."""
    query = MetricQuery(
        metric=metric,
        group_by=group_by,
        interval=interval,
        filters=filter,
        date_from=date_from,
        date_to=date_to,
        compare_to=compare_to,
        min_n=min_n,
        confidence=confidence,
    )
    runner = service.make_engine(
        session, name=engine, workspace_id=actor.workspace_id, settings=request.app.state.settings
    )
    return service.compute(session, workspace_id=actor.workspace_id, query=query, engine=runner)


@router.get("/metrics/catalog", response_model=list[MetricInfo], summary="The registered metrics")
def list_metrics(actor: Reader) -> list[MetricInfo]:  # noqa: ARG001  (declares the permission)
    return service.list_metrics()
