"""The journey view and the drivers & gaps view: one call each gathers what the page shows, and the same
data becomes the exported tables (so a CSV always holds exactly the numbers on the page)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cem.analytics import service as metrics
from cem.analytics.analyses import drivers as driver_analysis
from cem.analytics.analyses import gaps as gap_analysis
from cem.analytics.analyses import journey as journey_analysis
from cem.analytics.analyses import schemas as analysis
from cem.analytics.dashboards.export import Cell, Table
from cem.analytics.dashboards.schemas import DriverViewQuery, JourneyViewQuery
from cem.analytics.engines.base import is_dimension
from cem.analytics.schemas import MetricQuery, MetricResult
from cem.errors import InvalidInput
from cem.feedback.models import FeedbackRecord
from cem.journeys import service as journey_service

JOURNEY_TABLES = ("stages", "touchpoints", "funnel", "pain_points", "gaps")
DRIVER_TABLES = ("drivers", "gaps", "segments")
# Which metric a journey view opens with: the first of these the workspace has answers for, most answers first.
DEFAULT_METRIC_BY_TYPE = {"csat": "csat", "nps": "nps", "rating": "rating_mean", "ces": "ces"}
NUMERIC_TYPES = ("nps", "csat", "ces", "rating", "number", "scale", "matrix")


@dataclass
class JourneyView:
    journeys: list[tuple[int, str]]
    journey_id: int | None
    metric: str
    metrics: analysis.JourneyMetrics | None = None
    funnel: analysis.Funnel | None = None
    pains: analysis.PainPoints | None = None
    gaps: analysis.GapResult | None = None


@dataclass
class DriverView:
    fields: list[tuple[str, str]]  # numeric (field_id, label) pairs to choose an outcome and drivers from
    outcome: str | None
    drivers: list[str]
    result: analysis.DriverResult | None = None
    error: str | None = None
    gaps: analysis.GapResult | None = None
    segments: MetricResult | None = None
    segment_metric: str = "nps"
    segment_by: str = "source_name"
    warnings: list[str] = field(default_factory=list)


def default_metric(session: Session, *, workspace_id: int) -> str:
    """The headline metric with the most answers (a retail program has ratings, a SaaS one NPS)."""
    rows = session.execute(
        select(FeedbackRecord.field_type, func.count())
        .where(
            FeedbackRecord.workspace_id == workspace_id,
            FeedbackRecord.field_type.in_(tuple(DEFAULT_METRIC_BY_TYPE)),
        )
        .group_by(FeedbackRecord.field_type)
    ).all()
    if not rows:
        return "csat"
    best = max(rows, key=lambda r: (int(r[1]), r[0]))
    return DEFAULT_METRIC_BY_TYPE[str(best[0])]


def journey_view(
    session: Session,
    *,
    workspace_id: int,
    query: JourneyViewQuery,
) -> JourneyView:
    """Stage scores with top pain points, the funnel, ranked pain points and the journey's experience gaps."""
    journeys = [(j.id, j.name) for j in journey_service.list_journeys(session, workspace_id=workspace_id)]
    metric = query.metric or default_metric(session, workspace_id=workspace_id)
    journey_id = query.journey_id
    metrics.resolve_metric(metric)
    if journey_id is None and journeys:
        journey_id = journeys[0][0]
    view = JourneyView(journeys=journeys, journey_id=journey_id, metric=metric)
    if journey_id is None:
        return view
    period = {"date_from": query.date_from, "date_to": query.date_to}
    ws, jid = workspace_id, journey_id
    stages = analysis.JourneyMetricsQuery(metric=metric, min_n=query.min_n, **period)
    view.metrics = journey_analysis.journey_metrics(session, workspace_id=ws, journey_id=jid, query=stages)
    view.funnel = journey_analysis.funnel(
        session, workspace_id=ws, journey_id=jid, query=analysis.FunnelQuery(**period)
    )
    pains = analysis.PainPointsQuery(min_n=query.min_n, **period)
    view.pains = journey_analysis.pain_points(session, workspace_id=ws, journey_id=jid, query=pains)
    gaps = analysis.GapQuery(journey_id=jid, min_n=query.min_n, **period)
    view.gaps = gap_analysis.experience_gaps(session, workspace_id=ws, query=gaps)
    return view


def numeric_fields(session: Session, *, workspace_id: int, limit: int = 200) -> list[tuple[str, str]]:
    """Numeric questions answered in the workspace, for the outcome and driver pickers."""
    rows = session.execute(
        select(FeedbackRecord.field_id, func.max(FeedbackRecord.field_label))
        .where(
            FeedbackRecord.workspace_id == workspace_id,
            FeedbackRecord.field_type.in_(NUMERIC_TYPES),
        )
        .group_by(FeedbackRecord.field_id)
        .order_by(FeedbackRecord.field_id)
        .limit(limit)
    ).all()
    return [(str(fid), str(label or fid)) for fid, label in rows]


def driver_view(
    session: Session,
    *,
    workspace_id: int,
    query: DriverViewQuery,
) -> DriverView:
    """Key drivers of an outcome (when one is chosen), every experience gap, and a segment breakdown."""
    segment_metric, segment_by, min_n = query.segment_metric, query.segment_by, query.min_n
    metrics.resolve_metric(segment_metric)
    if not is_dimension(segment_by):
        raise InvalidInput(f"Cannot break down by {segment_by!r}; use a field such as source_name or stage.")
    view = DriverView(
        fields=numeric_fields(session, workspace_id=workspace_id),
        outcome=query.outcome,
        drivers=list(query.drivers),
        segment_metric=segment_metric,
        segment_by=segment_by,
    )
    if query.outcome:
        wanted = analysis.DriverQuery(
            outcome=query.outcome,
            drivers=view.drivers,
            source_name=query.source_name,
            bootstrap=query.bootstrap,
            performance=query.performance,
        )
        try:
            view.result = driver_analysis.key_drivers(session, workspace_id=workspace_id, query=wanted)
        except InvalidInput as exc:  # too few answers, a constant field...: shown next to the form
            view.error = exc.detail
    view.gaps = gap_analysis.experience_gaps(session, workspace_id=workspace_id, query=analysis.GapQuery(min_n=min_n))
    segment_query = MetricQuery(metric=segment_metric, group_by=[segment_by], min_n=min_n)
    view.segments = metrics.compute(session, workspace_id=workspace_id, query=segment_query)
    return view


# -- tables ---------------------------------------------------------------------------------------


def _check(which: str, allowed: tuple[str, ...]) -> None:
    if which not in allowed:
        raise InvalidInput(f"Unknown table {which!r}; use one of: {', '.join(allowed)}.")


def check_journey_table(which: str) -> None:
    _check(which, JOURNEY_TABLES)


def check_driver_table(which: str) -> None:
    _check(which, DRIVER_TABLES)


def gap_table(gaps: analysis.GapResult | None, name: str) -> Table:
    cols = ["scope", "journey_key", "key", "name", "metric", "promised", "perceived", "lower", "upper", "n", "gap"]
    cols += ["gap_lower", "gap_upper", "p_value", "status"]
    rows: list[list[Cell]] = [[getattr(g, c) for c in cols] for g in (gaps.items if gaps else [])]
    return Table(name, cols, rows)


def journey_table(view: JourneyView, which: str) -> Table:
    check_journey_table(which)
    if which == "gaps":
        return gap_table(view.gaps, "journey-gaps")
    if which == "funnel":
        cols = ["position", "key", "name", "reached", "share", "continued", "drop_off", "drop_off_rate"]
        cols += ["drop_off_lower", "drop_off_upper", "median_hours", "p75_hours", "timed_n"]
        steps = view.funnel.stages if view.funnel else []
        return Table("journey-funnel", cols, [[getattr(s, c) for c in cols] for s in steps])
    if which == "pain_points":
        cols = ["stage_name", "touchpoint_name", "n", "negative", "negative_share", "lower", "upper", "score"]
        cols += ["score_lower", "score_upper", "status"]
        items = view.pains.items if view.pains else []
        return Table("journey-pain-points", cols, [[getattr(p, c) for c in cols] for p in items])
    stages = view.metrics.stages if view.metrics else []
    if which == "stages":
        cols = ["position", "key", "name", "value", "lower", "upper", "n", "status", "volume", "top_pain_point"]
        rows = [
            [*[getattr(s, c) for c in cols[:-1]], s.top_pain_point.touchpoint_name if s.top_pain_point else None]
            for s in stages
        ]
        return Table("journey-stages", cols, rows)
    cols = ["stage", "key", "name", "channel", "value", "lower", "upper", "n", "status", "volume"]
    rows = [[s.name, *[getattr(t, c) for c in cols[1:]]] for s in stages for t in s.touchpoints]
    return Table("journey-touchpoints", cols, rows)


def driver_table(view: DriverView, which: str) -> Table:
    check_driver_table(which)
    if which == "gaps":
        return gap_table(view.gaps, "experience-gaps")
    if which == "segments":
        from cem.analytics.dashboards.export import metric_table

        assert view.segments is not None
        return metric_table(view.segments, name=f"segments-{view.segment_metric}-by-{view.segment_by}")
    if view.result is None:
        raise InvalidInput(view.error or "Choose an outcome (outcome=<field_id>) for the drivers table.")
    cols = ["field_id", "label", "johnson", "johnson_lower", "johnson_upper", "johnson_share", "shapley"]
    cols += ["shapley_lower", "shapley_upper", "shapley_share", "significant", "performance", "quadrant"]
    return Table(f"drivers-{view.result.outcome}", cols, [[getattr(d, c) for c in cols] for d in view.result.drivers])
