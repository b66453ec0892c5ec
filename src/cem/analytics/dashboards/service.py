"""Custom dashboards (CRUD, sharing, arrangement), widget data, the program overview, and table exports."""

from __future__ import annotations

import time as clock
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from cem.analytics import buckets, stats
from cem.analytics import service as metrics
from cem.analytics.dashboards.models import Dashboard, DashboardWidget
from cem.analytics.dashboards.rollup import RollupEngine
from cem.analytics.dashboards.schemas import (
    MAX_WIDGETS,
    DashboardIn,
    DashboardOut,
    DashboardPatch,
    DashboardSummary,
    Mover,
    Overview,
    OverviewQuery,
    Tile,
    Trend,
    WidgetIn,
    WidgetOut,
)
from cem.analytics.engines.base import MetricEngine, is_dimension
from cem.analytics.schemas import Interval, MetricQuery, MetricResult, MetricRow
from cem.auth import audit
from cem.auth.permissions import Permission
from cem.auth.principal import Principal
from cem.db.base import utcnow
from cem.errors import Forbidden, InvalidInput, NotFound
from cem.feedback.models import FeedbackRecord

HEADLINE_METRICS = ("nps", "csat", "ces")
MOVER_DIMENSIONS = ("source_name", "touchpoint", "stage")
TREND_BUCKETS = 12
TOP_MOVERS = 10
ARRANGE_ACTIONS = ("up", "down", "wide", "narrow", "remove")
MAX_CACHED_OVERVIEWS = 64
OVERVIEW_TTL_SECONDS = 60.0
_OVERVIEWS: dict[tuple[object, ...], tuple[tuple[object, ...], Overview]] = {}

# -- visibility and ownership ---------------------------------------------------------------------


def _owns(actor: Principal, dashboard: Dashboard) -> bool:
    return dashboard.owner_type == actor.actor_type and dashboard.owner_id == actor.actor_id


def _can_edit(actor: Principal, dashboard: Dashboard) -> bool:
    """The owner edits their dashboards; an admin also edits shared ones (private stays private)."""
    if not actor.can(Permission.dashboards):
        return False
    return _owns(actor, dashboard) or (dashboard.shared and actor.can(Permission.admin))


def _visible(actor: Principal, dashboard: Dashboard) -> bool:
    return dashboard.workspace_id == actor.workspace_id and (dashboard.shared or _owns(actor, dashboard))


def _load(session: Session, actor: Principal, dashboard_id: int) -> Dashboard:
    """The dashboard if the caller may see it; a private one of someone else is as unknown as a missing one."""
    dashboard = session.get(Dashboard, dashboard_id, options=[selectinload(Dashboard.widgets)])
    if dashboard is None or not _visible(actor, dashboard):
        raise NotFound(f"Dashboard {dashboard_id} not found.")
    return dashboard


def _editable(session: Session, actor: Principal, dashboard_id: int) -> Dashboard:
    dashboard = _load(session, actor, dashboard_id)
    if not _can_edit(actor, dashboard):
        raise Forbidden("Only the dashboard's owner (or an admin, for a shared dashboard) can change it.")
    return dashboard


# -- validation -----------------------------------------------------------------------------------


def validate_widget(widget: WidgetIn, index: int = 0) -> None:
    """A widget must be a query the metric engine accepts and a chart that can draw it."""
    where = ["body", "widgets", index]
    problems: list[tuple[str, str]] = []
    if metrics.METRICS.get(widget.metric) is None:
        problems.append(("metric", f"unknown metric {widget.metric!r}; known: {', '.join(sorted(metrics.METRICS))}"))
    for g in widget.group_by:
        if not is_dimension(g):
            problems.append(("group_by", f"unknown field {g!r}"))
    if len(set(widget.group_by)) != len(widget.group_by):
        problems.append(("group_by", "each field may be given once"))
    try:
        metrics.parse_filters(widget.filters)
    except InvalidInput as exc:
        problems.append(("filters", exc.detail))
    if widget.chart == "line" and not widget.interval:
        problems.append(("interval", "a line chart needs a time interval (day, week, month or quarter)"))
    if widget.chart == "tile" and (widget.group_by or widget.interval):
        problems.append(("chart", "a tile shows one number: no grouping and no interval"))
    if widget.chart == "bar" and not (widget.group_by or widget.interval):
        problems.append(("chart", "a bar chart needs a grouping or an interval"))
    if widget.date_from and widget.date_to and widget.date_from > widget.date_to:
        problems.append(("date_from", "date_from is after date_to"))
    if widget.compare_to and not widget.interval and not (widget.date_from and widget.date_to):
        problems.append(("compare_to", "comparing needs an interval, or date_from and date_to"))
    if problems:
        errors = [{"loc": [*where, field], "msg": msg} for field, msg in problems]
        raise InvalidInput(f"Widget {index + 1}: " + "; ".join(msg for _, msg in problems) + ".", errors=errors)


def _widget_rows(widgets: list[WidgetIn]) -> list[DashboardWidget]:
    for i, widget in enumerate(widgets):
        validate_widget(widget, i)
    return [_to_row(widget, position) for position, widget in enumerate(widgets)]


def _to_row(widget: WidgetIn, position: int) -> DashboardWidget:
    options = {
        "date_from": widget.date_from.isoformat() if widget.date_from else None,
        "date_to": widget.date_to.isoformat() if widget.date_to else None,
        "min_n": widget.min_n,
    }
    return DashboardWidget(
        position=position,
        title=widget.title.strip(),
        metric=widget.metric,
        chart=widget.chart,
        group_by=list(widget.group_by),
        filters=list(widget.filters),
        interval=widget.interval,
        compare_to=widget.compare_to,
        width=widget.width,
        options=options,
    )


def widget_in(row: DashboardWidget) -> WidgetIn:
    """The stored widget as its input form (to re-save an arrangement)."""
    opts = row.options or {}
    return WidgetIn.model_validate(
        {
            "title": row.title,
            "metric": row.metric,
            "chart": row.chart,
            "group_by": row.group_by,
            "filters": row.filters,
            "interval": row.interval,
            "compare_to": row.compare_to,
            "date_from": opts.get("date_from"),
            "date_to": opts.get("date_to"),
            "min_n": opts.get("min_n", stats.DEFAULT_MIN_N),
            "width": row.width,
        }
    )


def _out(actor: Principal, dashboard: Dashboard) -> DashboardOut:
    widgets = [
        WidgetOut(id=w.id, position=w.position, **widget_in(w).model_dump())
        for w in sorted(dashboard.widgets, key=lambda w: w.position)
    ]
    return DashboardOut(
        id=dashboard.id,
        name=dashboard.name,
        description=dashboard.description,
        shared=dashboard.shared,
        created_by=dashboard.created_by,
        mine=_owns(actor, dashboard),
        can_edit=_can_edit(actor, dashboard),
        created_at=dashboard.created_at,
        updated_at=dashboard.updated_at,
        widgets=widgets,
    )


# -- CRUD -----------------------------------------------------------------------------------------


def list_dashboards(session: Session, *, actor: Principal) -> list[DashboardSummary]:
    """Shared dashboards of the workspace and the caller's own private ones, by name."""
    mine = (Dashboard.owner_type == actor.actor_type) & (Dashboard.owner_id == actor.actor_id)
    counts = (
        select(DashboardWidget.dashboard_id, func.count().label("n")).group_by(DashboardWidget.dashboard_id).subquery()
    )
    stmt = (
        select(Dashboard, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.dashboard_id == Dashboard.id)
        .where(Dashboard.workspace_id == actor.workspace_id, Dashboard.shared | mine)
        .order_by(func.lower(Dashboard.name), Dashboard.id)
    )
    return [
        DashboardSummary(
            id=d.id,
            name=d.name,
            description=d.description,
            shared=d.shared,
            created_by=d.created_by,
            mine=_owns(actor, d),
            widget_count=int(n),
            updated_at=d.updated_at,
        )
        for d, n in session.execute(stmt).all()
    ]


def create_dashboard(session: Session, *, actor: Principal, data: DashboardIn) -> DashboardOut:
    dashboard = Dashboard(
        workspace_id=actor.workspace_id,
        name=data.name.strip(),
        description=data.description.strip(),
        shared=data.shared,
        owner_type=actor.actor_type,
        owner_id=actor.actor_id,
        created_by=actor.label,
        widgets=_widget_rows(data.widgets),
    )
    if not dashboard.name:
        raise InvalidInput("A dashboard needs a name.", errors=[{"loc": ["body", "name"], "msg": "blank"}])
    session.add(dashboard)
    session.flush()
    audit.record(session, actor, "dashboard.create", entity_type="dashboard", entity_id=dashboard.id)
    return _out(actor, dashboard)


def get_dashboard(session: Session, *, actor: Principal, dashboard_id: int) -> DashboardOut:
    return _out(actor, _load(session, actor, dashboard_id))


def update_dashboard(session: Session, *, actor: Principal, dashboard_id: int, patch: DashboardPatch) -> DashboardOut:
    """Rename, (un)share, or replace the widget list (validated before anything changes)."""
    dashboard = _editable(session, actor, dashboard_id)
    new_widgets = _widget_rows(patch.widgets) if patch.widgets is not None else None
    if patch.name is not None:
        if not patch.name.strip():
            raise InvalidInput("A dashboard needs a name.", errors=[{"loc": ["body", "name"], "msg": "blank"}])
        dashboard.name = patch.name.strip()
    if patch.description is not None:
        dashboard.description = patch.description.strip()
    if patch.shared is not None:
        dashboard.shared = patch.shared
    if new_widgets is not None:
        dashboard.widgets.clear()
        session.flush()  # old rows go before the new positions arrive
        dashboard.widgets.extend(new_widgets)
    dashboard.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "dashboard.update",
        entity_type="dashboard",
        entity_id=dashboard.id,
        details={"fields": sorted(patch.model_dump(exclude_unset=True))},
    )
    return _out(actor, dashboard)


def delete_dashboard(session: Session, *, actor: Principal, dashboard_id: int) -> None:
    dashboard = _editable(session, actor, dashboard_id)
    session.delete(dashboard)
    audit.record(session, actor, "dashboard.delete", entity_type="dashboard", entity_id=dashboard_id)


def add_widget(session: Session, *, actor: Principal, dashboard_id: int, widget: WidgetIn) -> DashboardOut:
    """Append one widget; the others keep their ids (links to #widget-<id> stay valid)."""
    dashboard = _editable(session, actor, dashboard_id)
    if len(dashboard.widgets) >= MAX_WIDGETS:
        raise InvalidInput(f"A dashboard holds at most {MAX_WIDGETS} widgets; remove one first.")
    validate_widget(widget, len(dashboard.widgets))
    dashboard.widgets.append(_to_row(widget, len(dashboard.widgets)))
    return _touched(session, actor, dashboard, "dashboard.widget_add")


def arrange_widget(
    session: Session, *, actor: Principal, dashboard_id: int, widget_id: int, action: str
) -> DashboardOut:
    """Move a widget up or down, make it wide or narrow, or remove it, in place."""
    if action not in ARRANGE_ACTIONS:
        raise InvalidInput(f"Unknown action {action!r}; use {', '.join(ARRANGE_ACTIONS)}.")
    dashboard = _editable(session, actor, dashboard_id)
    widgets = sorted(dashboard.widgets, key=lambda w: w.position)
    index = next((i for i, w in enumerate(widgets) if w.id == widget_id), None)
    if index is None:
        raise NotFound(f"Widget {widget_id} not found on dashboard {dashboard_id}.")
    target = {"up": index - 1, "down": index + 1}.get(action)
    if target is not None and 0 <= target < len(widgets):
        widgets[index], widgets[target] = widgets[target], widgets[index]
    elif action in ("wide", "narrow"):
        widgets[index].width = 2 if action == "wide" else 1
    elif action == "remove":
        dashboard.widgets.remove(widgets.pop(index))
    for position, widget in enumerate(widgets):
        widget.position = position
    return _touched(session, actor, dashboard, "dashboard.widget_" + action)


def _touched(session: Session, actor: Principal, dashboard: Dashboard, action: str) -> DashboardOut:
    dashboard.updated_at = utcnow()
    session.flush()
    audit.record(session, actor, action, entity_type="dashboard", entity_id=dashboard.id)
    return _out(actor, dashboard)


# -- widget data ----------------------------------------------------------------------------------


def widget_query(widget: WidgetIn) -> MetricQuery:
    return MetricQuery(
        metric=widget.metric,
        group_by=widget.group_by,
        interval=widget.interval,
        filters=widget.filters,
        date_from=widget.date_from,
        date_to=widget.date_to,
        compare_to=widget.compare_to,
        min_n=widget.min_n,
    )


def widget_data(session: Session, *, actor: Principal, dashboard_id: int, widget_id: int) -> MetricResult:
    dashboard = get_dashboard(session, actor=actor, dashboard_id=dashboard_id)
    for widget in dashboard.widgets:
        if widget.id == widget_id:
            return metrics.compute(session, workspace_id=actor.workspace_id, query=widget_query(widget))
    raise NotFound(f"Widget {widget_id} not found on dashboard {dashboard_id}.")


# -- program overview -----------------------------------------------------------------------------


def latest_day(session: Session, *, workspace_id: int) -> date | None:
    """The day of the newest feedback record: the overview's period ends there (demo data is historical)."""
    newest = session.scalar(
        select(func.max(FeedbackRecord.collected_at)).where(FeedbackRecord.workspace_id == workspace_id)
    )
    if newest is None:
        return None
    if isinstance(newest, str):  # SQLite returns the raw text from an aggregate
        return date.fromisoformat(newest[:10])
    return newest.date()


def overview(
    session: Session,
    *,
    workspace_id: int,
    query: OverviewQuery | None = None,
    confidence: float = stats.DEFAULT_CONFIDENCE,
) -> Overview:
    """Headline tiles (latest bucket vs the one before), trends with intervals, and the top movers by segment."""
    query = query or OverviewQuery()
    interval, min_n = query.interval, query.min_n
    end = query.end or latest_day(session, workspace_id=workspace_id)
    if end is None:
        return Overview(
            interval=interval,
            period_start=None,
            period_end=None,
            confidence=confidence,
            min_n=min_n,
            tiles=[_empty_tile(slug) for slug in HEADLINE_METRICS],
            trends=[],
            movers=[],
            scanned=0,
        )
    inner = metrics.make_engine(session, name="auto", workspace_id=workspace_id)
    key = (workspace_id, interval, end, min_n, confidence)
    version = store_version(session) if inner.name != "sql" else None
    cached = _OVERVIEWS.get(key)
    if version is not None and cached is not None and cached[0] == version:
        return cached[1]
    result = _overview(
        session, inner, workspace_id=workspace_id, interval=interval, end=end, min_n=min_n, confidence=confidence
    )
    if version is not None:  # small stores (the SQL engine) answer fast enough every time
        if len(_OVERVIEWS) >= MAX_CACHED_OVERVIEWS:
            _OVERVIEWS.pop(next(iter(_OVERVIEWS)))
        _OVERVIEWS[key] = (version, result)
    return result


def store_version(session: Session) -> tuple[object, ...]:
    """Changes when records are added or removed, and at least every OVERVIEW_TTL_SECONDS.

    Count and last id are cheap on any store (an index scan, a b-tree edge); an in-place update (a corrected
    label, enrichment filling sentiment) changes neither, so a cached overview also expires with the clock.
    """
    count, last_id = session.execute(select(func.count(), func.max(FeedbackRecord.id))).one()
    return (str(session.get_bind().engine.url), count, last_id, int(clock.monotonic() // OVERVIEW_TTL_SECONDS))


def _overview(
    session: Session,
    inner: MetricEngine,
    *,
    workspace_id: int,
    interval: Interval,
    end: date,
    min_n: int,
    confidence: float,
) -> Overview:
    period_start = buckets.bucket_start(end, interval)
    first = buckets.shift(period_start, interval, -(TREND_BUCKETS - 1))
    # The dozen questions below read one wide query per metric (on a large store: the DuckDB snapshot engine).
    engine = RollupEngine(
        inner,
        dimensions=MOVER_DIMENSIONS,
        start=_utc(buckets.shift(first, interval, -1)),  # the trend's first bucket is compared with the one before
        end=_utc(end + timedelta(days=1)),
    )
    tiles, trends = [], []
    trend = MetricQuery(
        metric=HEADLINE_METRICS[0],
        interval=interval,
        date_from=first,
        date_to=end,
        compare_to="previous",
        min_n=min_n,
        confidence=confidence,
    )
    for slug in HEADLINE_METRICS:
        query = trend.model_copy(update={"metric": slug})
        result = metrics.compute(session, workspace_id=workspace_id, query=query, engine=engine)
        trends.append(Trend(metric=slug, label=result.label, unit=result.unit, rows=result.rows))
        tiles.append(_tile(result, alpha=1 - confidence))
    latest = trend.model_copy(update={"date_from": period_start})
    movers, scanned = _movers(session, engine=engine, workspace_id=workspace_id, latest=latest)
    return Overview(
        interval=interval,
        period_start=period_start,
        period_end=end,
        confidence=confidence,
        min_n=min_n,
        tiles=tiles,
        trends=trends,
        movers=movers,
        scanned=scanned,
    )


def _utc(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _empty_tile(slug: str) -> Tile:
    metric = metrics.resolve_metric(slug)
    return Tile(
        metric=slug,
        label=metric.label,
        unit=metric.unit,
        bucket=None,
        value=None,
        lower=None,
        upper=None,
        n=0,
        status="not_enough_data",
        previous=None,
        previous_n=None,
        change=None,
        p_value=None,
        significant=False,
        direction=None,
    )


def _tile(result: MetricResult, *, alpha: float) -> Tile:
    """The last bucket; its change is called (with an arrow) only when its own test has p < alpha."""
    last = result.rows[-1]
    significant = last.p_value is not None and last.p_value < alpha
    direction = None
    if significant and last.change is not None:
        direction = "up" if last.change > 0 else "down"
    return Tile(
        metric=result.metric,
        label=result.label,
        unit=result.unit,
        bucket=last.bucket,
        value=last.value,
        lower=last.lower,
        upper=last.upper,
        n=last.n,
        status=last.status,
        previous=last.previous,
        previous_n=last.previous_n,
        change=last.change,
        p_value=last.p_value,
        significant=significant,
        direction=direction,
    )


def _movers(
    session: Session,
    *,
    engine: MetricEngine,
    workspace_id: int,
    latest: MetricQuery,
) -> tuple[list[Mover], int]:
    """Every segment of every headline metric, latest bucket against the one before (as the tiles); BH over all.

    `latest` is the tiles' query over the latest bucket; each metric and dimension is asked in its stead."""
    found: list[tuple[str, str, str, str, MetricRow]] = []
    for slug in HEADLINE_METRICS:
        for dimension in MOVER_DIMENSIONS:
            query = latest.model_copy(update={"metric": slug, "group_by": [dimension]})
            result = metrics.compute(session, workspace_id=workspace_id, query=query, engine=engine)
            # Records without the attribute (no touchpoint, say) are not a segment: they would only repeat the total.
            found.extend(
                (slug, result.label, result.unit, dimension, row)
                for row in result.rows
                if row.p_value is not None and row.segment.get(dimension) is not None
            )
    q_values = stats.benjamini_hochberg([row.p_value for *_, row in found])
    alpha = 1 - latest.confidence
    movers = [
        Mover(
            metric=slug,
            label=label,
            unit=unit,
            dimension=dimension,
            segment=row.segment.get(dimension),
            value=row.value,
            previous=row.previous,
            change=row.change,
            n=row.n,
            previous_n=row.previous_n,
            p_value=float(row.p_value or 0.0),
            q_value=float(q or 0.0),
            significant=q is not None and q < alpha,
        )
        for (slug, label, unit, dimension, row), q in zip(found, q_values, strict=True)
    ]
    movers.sort(key=lambda m: (m.q_value, m.p_value, -abs(m.change or 0.0)))
    return movers[:TOP_MOVERS], len(found)
