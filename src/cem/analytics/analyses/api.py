"""Analyses over JSON: journey metrics, funnel, pain points, A/B comparison, key drivers, experience gaps.

Each analysis takes its query model (analyses.schemas) as its query parameters: the CLI and the dashboard
views build the same models.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from cem.analytics.analyses import abtest, drivers, gaps, journey
from cem.analytics.analyses.schemas import (
    CompareQuery,
    CompareResult,
    DriverQuery,
    DriverResult,
    Funnel,
    FunnelQuery,
    GapQuery,
    GapResult,
    JourneyMetrics,
    JourneyMetricsQuery,
    PainPoints,
    PainPointsQuery,
    TargetIn,
    TargetRead,
)
from cem.api.body import StrictJsonRoute
from cem.api.deps import DbSession, JourneyManager, Reader
from cem.schemas import Id, ReadModel

router = APIRouter(prefix="/analyses", tags=["analyses"], route_class=StrictJsonRoute)


class Deleted(ReadModel):
    deleted: int


@router.get(
    "/journeys/{journey_id}/metrics", response_model=JourneyMetrics, summary="A metric per stage and touchpoint"
)
def journey_metrics(
    session: DbSession, actor: Reader, journey_id: Id, query: Annotated[JourneyMetricsQuery, Query()]
) -> JourneyMetrics:
    """Each stage (in order) and its touchpoints with value, interval, n, volume and the stage's top pain point."""
    return journey.journey_metrics(session, workspace_id=actor.workspace_id, journey_id=journey_id, query=query)


@router.get("/journeys/{journey_id}/funnel", response_model=Funnel, summary="Customers through the journey's stages")
def journey_funnel(session: DbSession, actor: Reader, journey_id: Id, query: Annotated[FunnelQuery, Query()]) -> Funnel:
    """Customers reaching each stage, drop-off to the next (Wilson interval) and time between stages."""
    return journey.funnel(session, workspace_id=actor.workspace_id, journey_id=journey_id, query=query)


@router.get("/journeys/{journey_id}/pain-points", response_model=PainPoints, summary="Touchpoints ranked by pain")
def journey_pain_points(
    session: DbSession, actor: Reader, journey_id: Id, query: Annotated[PainPointsQuery, Query()]
) -> PainPoints:
    """Touchpoints by volume x share negative, with the share's Wilson interval scaled to the volume."""
    return journey.pain_points(session, workspace_id=actor.workspace_id, journey_id=journey_id, query=query)


@router.get("/compare", response_model=CompareResult, summary="A metric between variants (A/B, segments)")
def compare_variants(session: DbSession, actor: Reader, query: Annotated[CompareQuery, Query()]) -> CompareResult:
    """Value and interval per variant; each variant against the control with the difference's interval and p."""
    return abtest.compare(session, workspace_id=actor.workspace_id, query=query)


@router.get("/drivers", response_model=DriverResult, summary="Key driver analysis")
def key_drivers(session: DbSession, actor: Reader, query: Annotated[DriverQuery, Query()]) -> DriverResult:
    """Johnson relative weights and Shapley values of R^2 with bootstrap intervals, significance and quadrant."""
    return drivers.key_drivers(session, workspace_id=actor.workspace_id, query=query)


@router.get("/targets", response_model=list[TargetRead], summary="Experience targets")
def list_targets(session: DbSession, actor: Reader) -> list[TargetRead]:
    return gaps.list_targets(session, workspace_id=actor.workspace_id)


@router.put("/targets", response_model=TargetRead, summary="Set the target of a metric at a stage or touchpoint")
def set_target(session: DbSession, actor: JourneyManager, target_in: TargetIn) -> TargetRead:
    """Creates the target, or replaces the one set for the same place and metric."""
    return gaps.set_target(session, actor=actor, target_in=target_in)


@router.delete("/targets/{target_id}", response_model=Deleted, summary="Remove an experience target")
def delete_target(session: DbSession, actor: JourneyManager, target_id: Id) -> Deleted:
    gaps.delete_target(session, actor=actor, target_id=target_id)
    return Deleted(deleted=target_id)


@router.get("/gaps", response_model=GapResult, summary="Promised vs perceived, worst gap first")
def experience_gaps(session: DbSession, actor: Reader, query: Annotated[GapQuery, Query()]) -> GapResult:
    return gaps.experience_gaps(session, workspace_id=actor.workspace_id, query=query)
