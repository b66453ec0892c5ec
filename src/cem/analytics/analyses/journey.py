"""Journey analytics: a metric per stage and touchpoint, the funnel of customers through the stages, pain points."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any

import numpy as np
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from cem.analytics import dimensions, stats
from cem.analytics import service as metrics_service
from cem.analytics.analyses.common import (
    day_after,
    day_start,
    estimate_fields,
)
from cem.analytics.analyses.schemas import (
    Funnel,
    FunnelQuery,
    FunnelStage,
    JourneyMetrics,
    JourneyMetricsQuery,
    PainPoint,
    PainPoints,
    PainPointsQuery,
    StageMetric,
    TopicPainPoint,
    TouchpointMetric,
)
from cem.analytics.schemas import MetricQuery, MetricResult
from cem.customers.models import Customer, Event
from cem.errors import InvalidInput
from cem.feedback.models import FeedbackRecord as FR
from cem.journeys import service as journey_service
from cem.journeys.models import Touchpoint
from cem.journeys.schemas import JourneyRead
from cem.scores import DEFAULT_SCALES, SCORE_TYPES, Scale, negative_threshold

SECONDS_PER_HOUR = 3600.0


def _journey(session: Session, workspace_id: int, journey_id: int) -> JourneyRead:
    return journey_service.read_journey(
        session, workspace_id=workspace_id, journey_id=journey_id, include_archived=False
    )


def _by_key(result: MetricResult, dimension: str) -> dict[str | None, Any]:
    return {row.segment.get(dimension): row for row in result.rows}


def journey_metrics(
    session: Session,
    *,
    workspace_id: int,
    journey_id: int,
    query: JourneyMetricsQuery,
) -> JourneyMetrics:
    """The metric (through the registry) for every stage and touchpoint of the journey, in journey order."""
    metric, min_n, confidence = query.metric, query.min_n, query.confidence
    journey = _journey(session, workspace_id, journey_id)

    def compute(slug: str, dimension: str) -> dict[str | None, Any]:
        measured = MetricQuery(
            metric=slug,
            group_by=[dimension],
            filters=[f"journey={journey.key}"],
            date_from=query.date_from,
            date_to=query.date_to,
            min_n=min_n if slug == metric else 0,
            confidence=confidence,
        )
        return _by_key(metrics_service.compute(session, workspace_id=workspace_id, query=measured), dimension)

    result_label = metrics_service.resolve_metric(metric)
    by_stage, by_touchpoint = compute(metric, "stage"), compute(metric, "touchpoint")
    stage_volume, tp_volume = compute("feedback_volume", "stage"), compute("feedback_volume", "touchpoint")
    every = PainPointsQuery(date_from=query.date_from, date_to=query.date_to, min_n=min_n, confidence=confidence)
    pains = pain_points(session, workspace_id=workspace_id, journey_id=journey_id, query=every, ranked_all=True).items
    stages = []
    for s in journey.stages:
        touchpoints = [
            TouchpointMetric(
                touchpoint_id=t.id,
                key=t.key,
                name=t.name,
                channel=t.channel,
                volume=_volume(tp_volume, t.key),
                **_scored(by_touchpoint.get(t.key)),
            )
            for t in s.touchpoints
        ]
        ranked = [p for p in pains if p.stage_key == s.key and p.status == "ok"]
        stages.append(
            StageMetric(
                stage_id=s.id,
                key=s.key,
                name=s.name,
                position=s.position,
                volume=_volume(stage_volume, s.key),
                top_pain_point=ranked[0] if ranked else None,
                touchpoints=touchpoints,
                **_scored(by_stage.get(s.key)),
            )
        )
    return JourneyMetrics(
        journey_id=journey.id,
        journey_key=journey.key,
        journey_name=journey.name,
        metric=result_label.slug,
        label=result_label.label,
        unit=result_label.unit,
        min_n=min_n,
        confidence=confidence,
        stages=stages,
    )


def _volume(rows: dict[str | None, Any], key: str) -> int:
    row = rows.get(key)
    return int(row.n) if row is not None else 0


def _scored(row: Any) -> dict[str, Any]:
    if row is None:  # nothing recorded there: an empty value, never a missing stage
        return estimate_fields(stats.not_enough(0))
    return {"value": row.value, "lower": row.lower, "upper": row.upper, "n": row.n, "status": row.status}


# -- funnel ---------------------------------------------------------------------------------------------


def _segment_conditions(session: Session, segment: list[str]) -> list[Any]:
    """`customer.<attribute>=value` (or `segment=value`) filters as conditions on the joined customer."""
    dialect = session.get_bind().dialect.name
    conditions = []
    for i, (name, value) in enumerate(metrics_service.parse_filters(segment)):
        declared = dimensions.get(name)
        if declared is None or declared.customer_attribute is None:
            raise InvalidInput(
                f"A funnel counts customers, so it is segmented by customer attributes only "
                f"(customer.<attribute>=value), not {name!r}.",
                errors=[{"loc": ["query", "segment", i], "msg": f"not a customer attribute: {name!r}"}],
            )
        conditions.append(declared.sql(dialect) == value)
    return conditions


def _first_arrivals(
    session: Session,
    workspace_id: int,
    stage_ids: list[int],
    date_from: date | None,
    date_to: date | None,
    segment: list[Any],
) -> dict[int, dict[int, datetime]]:
    """customer id -> stage id -> first time an event or a feedback record of theirs happened at the stage."""
    start, end = day_start(date_from), day_after(date_to)
    arrivals: dict[int, dict[int, datetime]] = defaultdict(dict)
    sources: list[tuple[Any, Any, Any]] = [
        (Event.customer_id, Event.occurred_at, Event),
        (FR.customer_id, FR.collected_at, FR),
    ]
    for customer_col, time_col, model in sources:
        stmt = (
            select(customer_col, Touchpoint.stage_id, func.min(time_col))
            .join(Touchpoint, Touchpoint.id == model.touchpoint_id)
            .where(model.workspace_id == workspace_id, Touchpoint.stage_id.in_(stage_ids), customer_col.is_not(None))
            .group_by(customer_col, Touchpoint.stage_id)
        )
        if start is not None:
            stmt = stmt.where(time_col >= start)
        if end is not None:
            stmt = stmt.where(time_col < end)
        if segment:
            stmt = stmt.join(Customer, Customer.id == customer_col).where(*segment)
        for customer_id, stage_id, first in session.execute(stmt):
            seen = arrivals[customer_id].get(stage_id)
            if seen is None or first < seen:
                arrivals[customer_id][stage_id] = first
    return arrivals


def funnel(
    session: Session,
    *,
    workspace_id: int,
    journey_id: int,
    query: FunnelQuery,
) -> Funnel:
    """Customers reaching each stage, who of them went on to the next, the drop-off and the time it took;
    `segment` (customer.<attribute>=value, repeatable) narrows it to some customers, e.g. one onboarding flow."""
    journey = _journey(session, workspace_id, journey_id)
    date_from, date_to, confidence = query.date_from, query.date_to, query.confidence
    conditions = _segment_conditions(session, query.segment)
    stage_ids = [s.id for s in journey.stages]
    arrivals = _first_arrivals(session, workspace_id, stage_ids, date_from, date_to, conditions) if stage_ids else {}
    reached = {sid: {c for c, stages in arrivals.items() if sid in stages} for sid in stage_ids}
    first_reached = len(reached[stage_ids[0]]) if stage_ids else 0
    rows = []
    for i, s in enumerate(journey.stages):
        here = reached[s.id]
        row = FunnelStage(
            stage_id=s.id,
            key=s.key,
            name=s.name,
            position=s.position,
            reached=len(here),
            share=100.0 * len(here) / first_reached if first_reached else None,
        )
        if i + 1 < len(journey.stages):
            _transition(row, here, s.id, stage_ids[i + 1], reached[stage_ids[i + 1]], arrivals, confidence)
        rows.append(row)
    return Funnel(
        journey_id=journey.id,
        journey_key=journey.key,
        journey_name=journey.name,
        customers=len(arrivals),
        confidence=confidence,
        stages=rows,
    )


def _transition(
    row: FunnelStage,
    here: set[int],
    stage_id: int,
    next_id: int,
    next_reached: set[int],
    arrivals: dict[int, dict[int, datetime]],
    confidence: float,
) -> None:
    continued = here & next_reached
    row.continued = len(continued)
    row.drop_off = len(here) - len(continued)
    dropped = stats.wilson(row.drop_off, len(here), confidence=confidence, min_n=1)
    row.drop_off_rate, row.drop_off_lower, row.drop_off_upper = dropped.value, dropped.lower, dropped.upper
    # Time from the first arrival here to the first arrival at the next stage. A customer whose first touch
    # of the next stage came earlier (e.g. a review written before a late parcel arrived) has no forward
    # duration and is left out of the timing rather than given a negative one.
    hours = [
        (arrivals[c][next_id] - arrivals[c][stage_id]).total_seconds() / SECONDS_PER_HOUR
        for c in continued
        if arrivals[c][next_id] >= arrivals[c][stage_id]
    ]
    row.timed_n = len(hours)
    if hours:
        row.median_hours = float(np.median(hours))
        row.p75_hours = float(np.percentile(hours, 75))


# -- pain points -----------------------------------------------------------------------------------------


def pain_points(
    session: Session,
    *,
    workspace_id: int,
    journey_id: int,
    query: PainPointsQuery,
    ranked_all: bool = False,
) -> PainPoints:
    """Touchpoints ranked by volume x negativity (n x share negative), each with its interval.

    Negative: an NPS detractor, CES 1-3, the bottom box of a rating/CSAT scale, or a text whose sentiment
    (from text analytics) is negative. Each such record is one observation.
    """
    journey = _journey(session, workspace_id, journey_id)
    touchpoints = {t.id: (t, s) for s in journey.stages for t in s.touchpoints}
    date_from, date_to, min_n, confidence = query.date_from, query.date_to, query.min_n, query.confidence
    limit = None if ranked_all else query.limit  # the journey view ranks every touchpoint
    counts = _negative_counts(session, workspace_id, list(touchpoints), date_from, date_to)
    items = []
    for tp_id, (t, s) in touchpoints.items():
        negative, n = counts.get(tp_id, (0, 0))
        items.append(
            PainPoint(
                touchpoint_id=tp_id,
                touchpoint_key=t.key,
                touchpoint_name=t.name,
                stage_key=s.key,
                stage_name=s.name,
                **_ranked(negative, n, min_n, confidence),
            )
        )
    items.sort(key=lambda p: (p.score is None, -(p.score or 0.0), -p.n))
    keys = {tp_id: t.key for tp_id, (t, _) in touchpoints.items()}
    topics = [
        TopicPainPoint(
            topic=topic,
            touchpoint_key=None if where is None else keys.get(where),
            **_ranked(negative, n, min_n, confidence),
        )
        for topic, (negative, n, where) in _topic_counts(
            session, workspace_id, list(touchpoints), date_from, date_to
        ).items()
    ]
    topics.sort(key=lambda p: (p.score is None, -(p.score or 0.0), -p.n, p.topic))
    return PainPoints(
        journey_id=journey.id,
        min_n=min_n,
        confidence=confidence,
        items=items if limit is None else items[:limit],
        topics=topics if limit is None else topics[:limit],
    )


def _ranked(negative: int, n: int, min_n: int, confidence: float) -> dict[str, Any]:
    """Share negative with its Wilson interval, and the score n x share (volume x negativity) with its interval."""
    share = stats.wilson(negative, n, confidence=confidence, min_n=max(min_n, 1))
    enough = share.enough and share.value is not None and share.lower is not None and share.upper is not None

    def scaled(percent: float | None) -> float | None:
        return n * percent / 100 if enough and percent is not None else None

    return {
        "n": n,
        "negative": negative,
        "negative_share": share.value,
        "lower": share.lower,
        "upper": share.upper,
        "score": scaled(share.value),
        "score_lower": scaled(share.lower),
        "score_upper": scaled(share.upper),
        "status": "ok" if enough else "not_enough_data",
    }


def _topic_counts(
    session: Session, workspace_id: int, touchpoint_ids: list[int], date_from: date | None, date_to: date | None
) -> dict[str, tuple[int, int, int | None]]:
    """topic -> (negative texts, texts with a sentiment, touchpoint with most negative mentions)."""
    if not touchpoint_ids:
        return {}
    stmt = select(FR.touchpoint_id, FR.topics, FR.sentiment_label).where(
        FR.workspace_id == workspace_id,
        FR.touchpoint_id.in_(touchpoint_ids),
        FR.field_type == "text",
        FR.sentiment_label.is_not(None),
    )
    start, end = day_start(date_from), day_after(date_to)
    if start is not None:
        stmt = stmt.where(FR.collected_at >= start)
    if end is not None:
        stmt = stmt.where(FR.collected_at < end)
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    negative_at: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for tp_id, topics, label in session.execute(stmt):
        if tp_id is None:  # excluded by the query; narrows the type
            continue
        for topic in set(topics or ()):
            totals[topic][1] += 1
            if label == "negative":
                totals[topic][0] += 1
                negative_at[topic][tp_id] += 1
    return {
        topic: (neg, n, max(negative_at[topic], key=lambda tp: negative_at[topic][tp]) if negative_at[topic] else None)
        for topic, (neg, n) in totals.items()
    }


def _negative_counts(
    session: Session, workspace_id: int, touchpoint_ids: list[int], date_from: date | None, date_to: date | None
) -> dict[int, tuple[int, int]]:
    """touchpoint id -> (negative records, judged records)."""
    if not touchpoint_ids:
        return {}
    start, end = day_start(date_from), day_after(date_to)
    window = [FR.workspace_id == workspace_id, FR.touchpoint_id.in_(touchpoint_ids)]
    if start is not None:
        window.append(FR.collected_at >= start)
    if end is not None:
        window.append(FR.collected_at < end)
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    # Negative by each record's declared scale (a record stored without one: its type's default).
    scored = (
        select(FR.touchpoint_id, FR.field_type, FR.scale_min, FR.scale_max, FR.value_number, func.count())
        .where(*window, FR.field_type.in_(SCORE_TYPES), FR.value_number.is_not(None))
        .group_by(FR.touchpoint_id, FR.field_type, FR.scale_min, FR.scale_max, FR.value_number)
    )
    for tp_id, field_type, low, high, raw, count in session.execute(scored):
        if tp_id is None or raw is None:  # excluded by the query; narrows the types
            continue
        default = DEFAULT_SCALES[field_type]
        scale = Scale(default.low if low is None else low, default.high if high is None else high)
        totals[tp_id][1] += count
        if float(raw) <= negative_threshold(field_type, scale):
            totals[tp_id][0] += count
    texts = (
        select(FR.touchpoint_id, func.count(), func.sum(case((FR.sentiment_label == "negative", 1), else_=0)))
        .where(*window, FR.field_type == "text", FR.sentiment_label.is_not(None))
        .group_by(FR.touchpoint_id)
    )
    for tp_id, count, negative in session.execute(texts):
        totals[tp_id][1] += count
        totals[tp_id][0] += int(negative or 0)
    return {tp: (neg, n) for tp, (neg, n) in totals.items()}
