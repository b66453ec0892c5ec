"""The default engine: SQLAlchemy Core over the operational store (SQLite or PostgreSQL), read-only."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Float, Select, and_, case, func, literal, literal_column, select
from sqlalchemy.orm import Session

from cem import scores
from cem.analytics import dimensions
from cem.analytics.churn import churn_sql
from cem.analytics.engines.base import AggregateQuery, AggregateRow
from cem.analytics.metrics import Agg
from cem.analytics.sources import SOURCES, Source
from cem.analytics.sources import VALUE_COLUMNS as SOURCE_VALUES
from cem.customers.models import Customer
from cem.feedback.models import FeedbackRecord as FR
from cem.journeys.models import Journey, JourneyStage, Touchpoint

# The top-box threshold of each record's declared scale (cem.scores.top_box_min), the text the columnar engines use.
TOP_BOX: ColumnElement[float] = literal_column(
    scores.top_box_sql(f"{FR.__tablename__}.scale_min", f"{FR.__tablename__}.scale_max"), type_=Float
)


class SqlEngine:
    """Aggregates with one GROUP BY query; dates are bucketed by day here and rolled up by the caller."""

    name = "sql"

    def __init__(self, session: Session) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect.name
        self._rows: Any = None  # the source subquery of the query being built (responses, invitations)
        self._source: Source | None = None
        self._topics: Any = None  # the topic relation the query being built joins (dimensions.topic_rows)

    def aggregate(self, query: AggregateQuery) -> list[AggregateRow]:
        """One row per non-empty (day, segment) cell."""
        stmt, n_dims = self._statement(query)
        rows = []
        for row in self.session.execute(stmt):
            day = _as_date(row[0]) if query.by_day else None
            keys = tuple(None if k is None else str(k) for k in row[1 : 1 + n_dims])
            values = {agg.name: float(v or 0) for agg, v in zip(query.aggregates, row[1 + n_dims :], strict=True)}
            rows.append(AggregateRow(day=day, keys=keys, values=values))
        return rows

    def _statement(self, query: AggregateQuery) -> tuple[Select[Any], int]:
        source = SOURCES.get(query.entity)
        self._rows = source.select().subquery(source.alias) if source else None
        self._source = source
        names = [*query.dimensions, *(f for f, _ in query.filters)]
        joined = any(_declared(n).join == "topic" for n in names)
        self._topics = dimensions.topic_rows(names) if joined and query.entity == "feedback" else None
        dims = [self._dimension(d) for d in query.dimensions]
        value_cols: list[ColumnElement[Any]] = [self._aggregate(a, query) for a in query.aggregates]
        day = self._day(query) if query.by_day else literal(None)
        base: Any = Customer if query.entity == "customer" else FR if self._rows is None else self._rows
        stmt = select(day, *dims, *value_cols).select_from(base)
        stmt = self._joins(stmt, query)
        stmt = stmt.where(*self._conditions(query))
        group = ([day] if query.by_day else []) + dims
        if group:
            stmt = stmt.group_by(*group)
        return stmt, len(dims)

    def _joins(self, stmt: Select[Any], query: AggregateQuery) -> Select[Any]:
        if query.entity == "customer":
            return stmt  # customer metrics only take customer dimensions: no join
        needed = {_declared(n).join for n in (*query.dimensions, *(f for f, _ in query.filters))}
        if self._rows is not None:
            # Sources carry their own dimensions; customer attributes join on their customer_id.
            if "customer" in needed:
                stmt = stmt.outerjoin(Customer, Customer.id == self._rows.c.customer_id)
            return stmt
        if "touchpoint" in needed:
            stmt = stmt.outerjoin(Touchpoint, Touchpoint.id == FR.touchpoint_id)
            stmt = stmt.outerjoin(JourneyStage, JourneyStage.id == Touchpoint.stage_id)
            stmt = stmt.outerjoin(Journey, Journey.id == JourneyStage.journey_id)
        if "customer" in needed or query.value == "churned":
            stmt = stmt.outerjoin(Customer, Customer.id == FR.customer_id)
        if "topic" in needed and self._topics is not None:
            # One row per (record, topic): only queries grouping or filtering by a topic ever get here.
            stmt = stmt.outerjoin(self._topics, self._topics.c.record_id == FR.id)
        return stmt

    def _conditions(self, query: AggregateQuery) -> list[ColumnElement[bool]]:
        customer = query.entity == "customer"
        time_column = self._time(query)
        if self._rows is not None:
            workspace = self._rows.c.workspace_id
        else:
            workspace = Customer.workspace_id if customer else FR.workspace_id
        conds: list[ColumnElement[bool]] = [workspace == query.workspace_id]
        if query.field_types is not None and query.entity == "feedback":
            conds.append(FR.field_type.in_(query.field_types))
        if query.answered_only:
            conds.append(self._column(query.value).is_not(None))
        if query.start is not None:
            conds.append(time_column >= query.start)
        if query.end is not None:
            conds.append(time_column < query.end)
        conds.extend(self._dimension(name) == value for name, value in query.filters)
        return conds

    def _dimension(self, name: str) -> ColumnElement[Any]:
        dimension = _declared(name)
        if self._rows is not None and self._source is not None and dimension.join != "customer":
            return self._rows.c[self._source.dimensions[name]]
        if dimension.join == "topic" and self._topics is not None:
            return self._topics.c[dimension.name]
        return dimension.sql(self.dialect)

    def _time(self, query: AggregateQuery) -> Any:
        if self._rows is not None and self._source is not None:
            return self._rows.c[self._source.time]
        return Customer.created_at if query.entity == "customer" else FR.collected_at

    def _column(self, name: str) -> ColumnElement[Any]:
        if self._rows is not None and name in SOURCE_VALUES:
            return self._rows.c[name]
        if name == "churned":
            return churn_sql(self.dialect)
        columns: dict[str, Any] = {
            "value_number": FR.value_number,
            "sentiment_score": FR.sentiment_score,
            "sentiment_label": FR.sentiment_label,
        }
        return columns[name]

    def _aggregate(self, agg: Agg, query: AggregateQuery) -> ColumnElement[Any]:
        value = self._column(query.value)
        tested = self._column(agg.column) if agg.column else value
        conds: list[ColumnElement[bool]] = []
        if agg.low is not None:
            conds.append(tested >= agg.low)
        if agg.high is not None:
            conds.append(tested <= agg.high)
        if agg.equals is not None:
            conds.append(tested == agg.equals)
        if agg.top_box:
            conds.append(tested >= TOP_BOX)
        terms: dict[str, Any] = {"count": literal(1), "sum": value, "sum_sq": value * value}
        term: Any = terms[agg.op]
        if conds:
            term = case((and_(*conds), term), else_=literal(0))
        if agg.op == "count" and not conds:
            return func.count()
        return func.coalesce(func.sum(term), 0).label(agg.name)

    def _day(self, query: AggregateQuery) -> ColumnElement[Any]:
        column = self._time(query)
        if self.dialect == "postgresql":
            # Timestamps are timestamptz: take the UTC calendar day, whatever the session time zone.
            return func.date(func.timezone("UTC", column))
        return func.date(column)


def _declared(name: str) -> dimensions.Dimension:
    dimension = dimensions.get(name)
    if dimension is None:
        raise ValueError(f"unknown dimension {name!r}")
    return dimension


def _as_date(value: Any) -> date:
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
