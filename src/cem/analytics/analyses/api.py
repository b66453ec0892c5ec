"""Analyses over JSON: journey metrics, funnel, pain points, A/B comparison, key drivers, experience gaps."""

from __future__ import annotations

from datetime import date
from typing import Literal, TypeVar

from fastapi import APIRouter, Query
from pydantic import BaseModel, ValidationError

from cem.analytics.analyses import abtest, drivers, gaps, journey
from cem.analytics.analyses.schemas import (
    CompareQuery,
    CompareResult,
    DriverQuery,
    DriverResult,
    Funnel,
    GapResult,
    JourneyMetrics,
    PainPoints,
    TargetIn,
    TargetRead,
    VariantSource,
)
from cem.api.body import StrictJsonRoute
from cem.api.deps import DbSession, JourneyManager, Reader
from cem.errors import InvalidInput
from cem.schemas import Id, ReadModel, Seed

router = APIRouter(prefix="/analyses", tags=["analyses"], route_class=StrictJsonRoute)

MinN = Query(default=30, ge=0, le=1_000_000, description="Below this n a value is 'not enough data'.")
Confidence = Query(default=0.95, gt=0.5, lt=1)


class Deleted(ReadModel):
    deleted: int


Q = TypeVar("Q", bound=BaseModel)


def build(model: type[Q], **values: object) -> Q:
    """A query model from query parameters; a rule spanning several parameters fails as invalid input."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        errors = [{"loc": ["query", *map(str, e["loc"])], "msg": e["msg"]} for e in exc.errors()]
        raise InvalidInput("; ".join(str(e["msg"]) for e in errors), errors=errors) from None


@router.get(
    "/journeys/{journey_id}/metrics", response_model=JourneyMetrics, summary="A metric per stage and touchpoint"
)
def journey_metrics(
    session: DbSession,
    actor: Reader,
    journey_id: Id,
    metric: str = Query(default="csat", max_length=50),
    date_from: date | None = None,
    date_to: date | None = None,
    min_n: int = MinN,
    confidence: float = Confidence,
) -> JourneyMetrics:
    """Each stage (in order) and its touchpoints with value, interval, n, volume and the stage's top pain point."""
    return journey.journey_metrics(
        session,
        workspace_id=actor.workspace_id,
        journey_id=journey_id,
        metric=metric,
        date_from=date_from,
        date_to=date_to,
        min_n=min_n,
        confidence=confidence,
    )


@router.get("/journeys/{journey_id}/funnel", response_model=Funnel, summary="Customers through the journey's stages")
def journey_funnel(
    session: DbSession,
    actor: Reader,
    journey_id: Id,
    date_from: date | None = None,
    date_to: date | None = None,
    confidence: float = Confidence,
    segment: list[str] = Query(default=[], max_length=10, description="Repeatable customer.<attribute>=value."),
) -> Funnel:
    """Customers reaching each stage, drop-off to the next (Wilson interval) and time between stages."""
    return journey.funnel(
        session,
        workspace_id=actor.workspace_id,
        journey_id=journey_id,
        date_from=date_from,
        date_to=date_to,
        confidence=confidence,
        segment=segment,
    )


@router.get("/journeys/{journey_id}/pain-points", response_model=PainPoints, summary="Touchpoints ranked by pain")
def journey_pain_points(
    session: DbSession,
    actor: Reader,
    journey_id: Id,
    date_from: date | None = None,
    date_to: date | None = None,
    limit: int = Query(default=10, ge=1, le=500),
    min_n: int = MinN,
    confidence: float = Confidence,
) -> PainPoints:
    """Touchpoints by volume x share negative, with the share's Wilson interval scaled to the volume."""
    return journey.pain_points(
        session,
        workspace_id=actor.workspace_id,
        journey_id=journey_id,
        date_from=date_from,
        date_to=date_to,
        limit=limit,
        min_n=min_n,
        confidence=confidence,
    )


@router.get("/compare", response_model=CompareResult, summary="A metric between variants (A/B, segments)")
def compare_variants(
    session: DbSession,
    actor: Reader,
    metric: str = Query(max_length=50),
    variant_source: VariantSource = Query(description="event, customer or feedback"),
    variant_key: str = Query(min_length=1, max_length=100, description="Event property, attribute or metadata key."),
    event_type: str | None = Query(default=None, max_length=100),
    control: str | None = Query(default=None, max_length=200),
    variant: list[str] = Query(default=[], max_length=20, description="Repeatable: only these variants."),
    filter: list[str] = Query(default=[], max_length=20, description="Repeatable FIELD=VALUE."),
    date_from: date | None = None,
    date_to: date | None = None,
    min_n: int = MinN,
    confidence: float = Confidence,
) -> CompareResult:
    """Value and interval per variant; each variant against the control with the difference's interval and p."""
    query = build(
        CompareQuery,
        metric=metric,
        variant_source=variant_source,
        variant_key=variant_key,
        event_type=event_type,
        control=control,
        variants=variant,
        filters=filter,
        date_from=date_from,
        date_to=date_to,
        min_n=min_n,
        confidence=confidence,
    )
    return abtest.compare(session, workspace_id=actor.workspace_id, query=query)


@router.get("/drivers", response_model=DriverResult, summary="Key driver analysis")
def key_drivers(
    session: DbSession,
    actor: Reader,
    outcome: str = Query(min_length=1, max_length=200, description="Field id of the outcome (e.g. NPS likelihood)."),
    driver: list[str] = Query(default=[], max_length=50, description="Repeatable driver field ids (at most 15)."),
    topic: list[str] = Query(default=[], max_length=50, description="Repeatable topics as 0/1 drivers."),
    source_name: str | None = Query(default=None, max_length=200),
    date_from: date | None = None,
    date_to: date | None = None,
    bootstrap: int = Query(default=200, ge=0, le=5000, description="Bootstrap resamples (0: no intervals)."),
    seed: Seed = 0,
    performance: Literal["mean", "top_box"] = "mean",
    confidence: float = Confidence,
) -> DriverResult:
    """Johnson relative weights and Shapley values of R^2 with bootstrap intervals, significance and quadrant."""
    query = build(
        DriverQuery,
        outcome=outcome,
        drivers=driver,
        topics=topic,
        source_name=source_name,
        date_from=date_from,
        date_to=date_to,
        bootstrap=bootstrap,
        seed=seed,
        performance=performance,
        confidence=confidence,
    )
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
def experience_gaps(
    session: DbSession,
    actor: Reader,
    journey_id: Id | None = None,
    metric: str | None = Query(default=None, max_length=50),
    date_from: date | None = None,
    date_to: date | None = None,
    min_n: int = MinN,
    confidence: float = Confidence,
) -> GapResult:
    return gaps.experience_gaps(
        session,
        workspace_id=actor.workspace_id,
        journey_id=journey_id,
        metric=metric,
        date_from=date_from,
        date_to=date_to,
        min_n=min_n,
        confidence=confidence,
    )
