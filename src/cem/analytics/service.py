"""Metric queries: validate, aggregate through an engine, roll up into buckets, derive values and tests."""

from __future__ import annotations

import time as clock
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cem.analytics import buckets, dimensions, stats
from cem.analytics.engines.base import AggregateQuery, AggregateRow, MetricEngine, is_dimension
from cem.analytics.engines.sql import SqlEngine
from cem.analytics.metrics import METRICS, Metric, Options
from cem.analytics.schemas import MetricInfo, MetricQuery, MetricResult, MetricRow
from cem.analytics.settings import AnalyticsSettings
from cem.analytics.snapshot import Snapshot, SnapshotFiles
from cem.analytics.sources import SOURCES
from cem.config import Settings, get_settings
from cem.errors import InvalidInput, NotFound
from cem.feedback.models import FeedbackRecord

Keys = tuple[str | None, ...]
Cells = dict[tuple[object, Keys], dict[str, float]]
CURRENT, PREVIOUS = "current", "previous"


ENGINES = ("auto", "sql", "duckdb", "spark")


def make_engine(
    session: Session,
    *,
    name: str,
    workspace_id: int,  # noqa: ARG001  (engines read every workspace; queries filter by it)
    settings: Settings | None = None,
    analytics: AnalyticsSettings | None = None,
) -> MetricEngine:
    """An engine by name: `sql` (SQL in the store), `duckdb` (DuckDB attached to the store; a SQLite store in a
    reader process of its own), `spark` (the Parquet snapshot, refreshed first when older than the maximum
    staleness), or `auto`."""
    analytics = analytics or AnalyticsSettings()
    if name not in ENGINES:
        raise InvalidInput(f"Unknown engine {name!r}; engines are {', '.join(ENGINES)}.")
    if name == "auto":
        name = analytics.engine
        if name == "auto":
            name = "duckdb" if _large(session, analytics.auto_min_rows) else "sql"
    if name == "sql":
        return SqlEngine(session)
    if name == "duckdb":
        from cem.analytics.engines import attached

        return attached.cached(session.get_bind().engine.url.render_as_string(hide_password=False))
    from cem.analytics.engines.spark import SparkEngine, spark_session

    snapshot = Snapshot(analytics.resolved_snapshot_dir(settings or get_settings()))
    files = fresh_files(session, snapshot, analytics.max_staleness_seconds)
    return SparkEngine(spark_session(analytics.spark_master), files)


_STORE_SIZE: dict[str, tuple[float, int]] = {}  # database URL -> (when counted, feedback records)
_SIZE_TTL = 60.0


def _large(session: Session, min_rows: int) -> bool:
    """Whether the store holds enough records for DuckDB to beat SQL; counted at most once a minute."""
    key = str(session.get_bind().engine.url)
    now = clock.monotonic()
    counted = _STORE_SIZE.get(key)
    if counted is None or now - counted[0] > _SIZE_TTL:
        total = session.scalar(select(func.count()).select_from(FeedbackRecord)) or 0
        counted = _STORE_SIZE[key] = (now, int(total))
    return counted[1] >= min_rows


def fresh_files(session: Session, snapshot: Snapshot, max_staleness_seconds: float) -> SnapshotFiles:
    """The snapshot's files, refreshed first when missing or older than the allowed staleness."""
    age = snapshot.age_seconds()
    if age is None or age > max_staleness_seconds or not snapshot.is_of(session):
        snapshot.refresh(session)
    files = snapshot.files()
    assert files is not None  # a refresh always writes a manifest
    return files


def list_metrics() -> list[MetricInfo]:
    """Every registered metric."""
    return [MetricInfo(slug=m.slug, label=m.label, unit=m.unit, description=m.description) for m in METRICS.values()]


def resolve_metric(slug: str) -> Metric:
    """The metric, or NotFound naming the known ones."""
    metric = METRICS.get(slug)
    if metric is None:
        raise NotFound(f"Unknown metric {slug!r}; known metrics: {', '.join(sorted(METRICS))}.")
    return metric


def parse_filters(raw: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """FIELD=VALUE strings to pairs; raises InvalidInput listing every bad one."""
    pairs, errors = [], []
    for i, item in enumerate(raw):
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not value:
            errors.append({"loc": ["query", "filter", i], "msg": f"{item!r} is not FIELD=VALUE"})
        elif not is_dimension(name):
            errors.append({"loc": ["query", "filter", i], "msg": f"unknown field {name!r}"})
        else:
            pairs.append((name, value))
    if errors:
        reasons = "; ".join(str(e["msg"]) for e in errors)
        raise InvalidInput(f"Bad filter: {reasons}. Fields are {_dimension_help()}.", errors=errors)
    return tuple(pairs)


def _dimension_help() -> str:
    return dimensions.names_help()


def _validate(query: MetricQuery, metric: Metric, filters: tuple[tuple[str, str], ...]) -> None:
    bad = [{"loc": ["query", "group_by", i], "msg": f"unknown field {g!r}"} for i, g in enumerate(query.group_by)]
    bad = [e for e, g in zip(bad, query.group_by, strict=True) if not is_dimension(g)]
    if bad:
        reasons = "; ".join(str(e["msg"]) for e in bad)
        raise InvalidInput(f"Cannot group by that: {reasons}. Fields are {_dimension_help()}.", errors=bad)
    if metric.entity != "feedback":
        names = [*query.group_by, *(name for name, _ in filters)]
        own = SOURCES[metric.entity].dimensions if metric.entity in SOURCES else {}
        other = [n for n in names if (d := dimensions.get(n)) is not None and d.join != "customer" and n not in own]
        if other:
            allowed = ", ".join([*own, "segment", "customer.<attribute>"])
            raise InvalidInput(
                f"{metric.slug} counts {metric.entity}s, so it groups and filters by {allowed} only, "
                f"not {', '.join(other)}."
            )
    if len(set(query.group_by)) != len(query.group_by):
        raise InvalidInput("Each group_by field may be given once.")
    if query.date_from and query.date_to and query.date_from > query.date_to:
        raise InvalidInput("date_from is after date_to.")
    if query.compare_to and not query.interval and not (query.date_from and query.date_to):
        raise InvalidInput(
            "compare_to=previous needs an interval (each bucket against the one before) "
            "or date_from and date_to (the range against the same length just before)."
        )


@dataclass(frozen=True)
class _Plan:
    start: date | None
    end: date | None  # inclusive
    previous_start: date | None  # compare without interval: the preceding window starts here


def _plan(query: MetricQuery) -> _Plan:
    start, end = query.date_from, query.date_to
    if query.compare_to and query.interval and start:
        # Also read the bucket before the first one so the first row has something to compare with.
        return _Plan(buckets.shift(buckets.bucket_start(start, query.interval), query.interval, -1), end, None)
    if query.compare_to and start and end:
        return _Plan(start - (end - start + timedelta(days=1)), end, start)
    return _Plan(start, end, None)


def _utc(day: date | None) -> datetime | None:
    return None if day is None else datetime.combine(day, time(), tzinfo=UTC)


def compute(
    session: Session | None, *, workspace_id: int, query: MetricQuery, engine: MetricEngine | None = None
) -> MetricResult:
    """A metric's rows (value, interval, n, and when compared: change, p-value, BH q-value, significance)."""
    metric = resolve_metric(query.metric)
    filters = parse_filters(query.filters)
    _validate(query, metric, filters)
    if engine is None:
        if session is None:
            raise ValueError("compute needs a session or an engine")
        # The configured choice (CEM_ANALYTICS_ENGINE, default auto: SQL until the snapshot is large).
        engine = make_engine(session, name="auto", workspace_id=workspace_id)
    plan = _plan(query)
    agg_query = AggregateQuery(
        workspace_id=workspace_id,
        field_types=metric.field_types,
        answered_only=metric.answered_only,
        aggregates=metric.aggregates,
        dimensions=tuple(query.group_by),
        by_day=bool(query.interval or query.compare_to),
        start=_utc(plan.start),
        end=_utc(plan.end + timedelta(days=1)) if plan.end else None,
        filters=filters,
        entity=metric.entity,
        value=metric.value,
        bucket=query.interval,
    )
    cells = _roll_up(engine.aggregate(agg_query), query, plan)
    opts = Options(confidence=query.confidence, min_n=query.min_n)
    rows = _rows(metric, cells, query, opts)
    if query.compare_to:
        _adjust(rows, alpha=1 - query.confidence)
    return MetricResult(
        metric=metric.slug,
        label=metric.label,
        unit=metric.unit,
        group_by=query.group_by,
        interval=query.interval,
        compare_to=query.compare_to,
        confidence=query.confidence,
        min_n=query.min_n,
        engine=engine.name,
        rows=rows,
    )


def _roll_up(rows: list[AggregateRow], query: MetricQuery, plan: _Plan) -> Cells:
    """Sum day cells into buckets (or current/previous windows): valid because the aggregates are additive."""
    cells: Cells = defaultdict(lambda: defaultdict(float))
    for row in rows:
        if query.interval and row.day is not None:
            key: object = buckets.bucket_start(row.day, query.interval)
        elif query.compare_to and row.day is not None and plan.previous_start is not None:
            key = PREVIOUS if row.day < plan.previous_start else CURRENT
        else:
            key = None
        target = cells[(key, row.keys)]
        for name, value in row.values.items():
            target[name] += value
    return cells


def _rows(metric: Metric, cells: Cells, query: MetricQuery, opts: Options) -> list[MetricRow]:
    segments = sorted({keys for _, keys in cells}, key=lambda ks: tuple((k is None, k or "") for k in ks))
    if not segments and not query.group_by:
        segments = [()]  # no data: one empty row, never a missing one
    slots = _slots(cells, query)
    rows = []
    for keys in segments:
        segment = dict(zip(query.group_by, keys, strict=True))
        for slot, previous in slots:
            current = metric.derive(cells.get((slot, keys), {}), opts)
            row = _row(current, segment, slot)
            if query.compare_to:
                _compare(row, current, metric.derive(cells.get((previous, keys), {}), opts))
            rows.append(row)
    return rows


def _slots(cells: Cells, query: MetricQuery) -> list[tuple[object, object]]:
    """(slot, slot it is compared with) pairs: every bucket in range, or the current window, or the whole range."""
    if query.interval:
        interval = query.interval
        days = [k for k, _ in cells if isinstance(k, date)]
        first = query.date_from or (min(days) if days else None)
        last = query.date_to or (max(days) if days else None)
        if first is None or last is None:
            return []
        return [(b, buckets.shift(b, interval, -1)) for b in buckets.bucket_range(first, last, interval)]
    if query.compare_to:
        return [(CURRENT, PREVIOUS)]
    return [(None, None)]


def _row(est: stats.Estimate, segment: dict[str, str | None], slot: object) -> MetricRow:
    return MetricRow(
        bucket=slot.isoformat() if isinstance(slot, date) else None,
        segment=segment,
        value=est.value,
        lower=est.lower,
        upper=est.upper,
        n=est.n,
        status="ok" if est.enough else "not_enough_data",
    )


def _compare(row: MetricRow, current: stats.Estimate, previous: stats.Estimate) -> None:
    change = stats.change_test(current, previous)
    row.previous = previous.value
    row.previous_n = previous.n
    row.change = change.change
    row.p_value = change.p_value


def _adjust(rows: list[MetricRow], *, alpha: float) -> None:
    """Benjamini-Hochberg across every compared row: scanning many segments must not invent changes."""
    q_values = stats.benjamini_hochberg([r.p_value for r in rows])
    for row, q in zip(rows, q_values, strict=True):
        row.q_value = q
        row.significant = None if q is None else q < alpha
