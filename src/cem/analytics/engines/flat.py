"""One SQL text for the columnar engines (DuckDB and Spark SQL) from a metric's declared aggregates.

Both engines read the same Parquet snapshot (cem.analytics.snapshot): `feedback` (f), `touchpoints` (t,
with their stage and journey keys), `customers` (c, attributes as JSON text plus the churn flag and the RFM segment) and
`record_topics` (rt, joined only when a query groups or filters by topic or subtopic). The SQL
is the same for both except how a JSON attribute is read, so a metric is never written twice: the metric
declares aggregates, this module turns them into SQL once, and each engine only runs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from cem import scores
from cem.analytics import dimensions
from cem.analytics.engines.base import AggregateQuery, AggregateRow
from cem.analytics.metrics import Agg
from cem.analytics.sources import SOURCES
from cem.analytics.sources import VALUE_COLUMNS as SOURCE_VALUES

Dialect = Literal["duckdb", "spark"]

# Where each value column lives in the snapshot.
VALUE_COLUMNS = {
    "value_number": "f.value_number",
    "sentiment_score": "f.sentiment_score",
    "sentiment_label": "f.sentiment_label",
    "churned": "c.churned",
}
BUCKETS = ("week", "month", "quarter")  # date_trunc units, the same in DuckDB and Spark (weeks from Monday)
TOP_BOX = scores.top_box_sql("f.scale_min", "f.scale_max")  # each record's declared scale


@dataclass(frozen=True)
class FlatSql:
    """SQL text with positional `?` parameters, and how many dimension columns follow the day column."""

    text: str
    params: list[Any]
    n_dims: int


def build(query: AggregateQuery, dialect: Dialect) -> FlatSql:
    """The aggregate query as one SELECT ... GROUP BY over the snapshot tables."""
    params: list[Any] = []
    dims = [_dimension(name, dialect, params, query) for name in query.dimensions]
    aggs = [_aggregate(a, query) for a in query.aggregates]
    table, time_column = _base(query)
    day = "NULL"
    if query.by_day:
        # Aggregating straight to the bucket leaves far fewer cells to roll up than one per day.
        truncated = f"date_trunc('{query.bucket}', {time_column})" if query.bucket in BUCKETS else time_column
        day = f"CAST({truncated} AS DATE)"
    sql = f"SELECT {', '.join([day, *dims, *aggs])} FROM {table}"
    sql += _joins(query)
    sql += " WHERE " + " AND ".join(_conditions(query, dialect, params, time_column))
    # Group by position: the customer-attribute expressions carry parameters that must not repeat.
    positions = ([1] if query.by_day else []) + list(range(2, 2 + len(dims)))
    if positions:
        sql += " GROUP BY " + ", ".join(map(str, positions))
    return FlatSql(sql, params, len(dims))


def to_rows(query: AggregateQuery, n_dims: int, raw: list[Any]) -> list[AggregateRow]:
    """Engine result tuples to AggregateRows (the day first, then the dimension keys, then the aggregates)."""
    rows = []
    for row in raw:
        keys = tuple(None if k is None else str(k) for k in row[1 : 1 + n_dims])
        values = {a.name: float(v or 0) for a, v in zip(query.aggregates, row[1 + n_dims :], strict=True)}
        rows.append(AggregateRow(day=_day(row[0]) if query.by_day else None, keys=keys, values=values))
    return rows


def _base(query: AggregateQuery) -> tuple[str, str]:
    """The FROM table with its alias, and the time column."""
    if query.entity == "customer":
        return "customers c", "c.created_at"
    source = SOURCES.get(query.entity)
    if source is not None:
        return f"{source.table} {source.alias}", f"{source.alias}.{source.time}"
    return "feedback f", "f.collected_at"


def _joins(query: AggregateQuery) -> str:
    needed = {_declared(n).join for n in (*query.dimensions, *(f for f, _ in query.filters))}
    sql = ""
    if query.entity == "customer":
        return sql  # only customer dimensions are allowed, and c is the table itself
    source = SOURCES.get(query.entity)
    if source is not None:
        # Sources carry their own dimensions; customer attributes join on their customer_id.
        return f" LEFT JOIN customers c ON c.id = {source.alias}.customer_id" if "customer" in needed else ""
    if "touchpoint" in needed:
        sql += " LEFT JOIN touchpoints t ON t.id = f.touchpoint_id"
    if "customer" in needed or query.value == "churned":
        sql += " LEFT JOIN customers c ON c.id = f.customer_id"
    if "topic" in needed:
        names = [*query.dimensions, *(f for f, _ in query.filters)]
        rows = dimensions.topic_rows_flat(names)
        sql += f" LEFT JOIN {rows} {dimensions.TOPIC_ALIAS} ON {dimensions.TOPIC_ALIAS}.record_id = f.id"
    return sql


def _declared(name: str) -> dimensions.Dimension:
    dimension = dimensions.get(name)
    if dimension is None:
        raise ValueError(f"unknown dimension {name!r}")
    return dimension


def _dimension(name: str, dialect: Dialect, params: list[Any], query: AggregateQuery) -> str:
    dimension = _declared(name)
    source = SOURCES.get(query.entity)
    if source is not None and dimension.join != "customer":
        return f"{source.alias}.{source.dimensions[name]}"
    if dimension.customer_attribute is None:
        return dimension.flat
    # The attribute name is validated (letters, digits, _ and -); it still goes in as a parameter.
    attribute = dimension.customer_attribute
    if dialect == "spark":
        params.append(f"$['{attribute}']")
        return "get_json_object(c.attributes, ?)"
    params.append(f'$."{attribute}"')
    return "json_extract_string(c.attributes, ?)"


def _conditions(query: AggregateQuery, dialect: Dialect, params: list[Any], time_column: str) -> list[str]:
    source = SOURCES.get(query.entity)
    table = "c" if query.entity == "customer" else source.alias if source else "f"
    conds = [f"{table}.workspace_id = ?"]
    params.append(query.workspace_id)
    if query.field_types is not None and query.entity == "feedback":
        conds.append(f"f.field_type IN ({', '.join('?' for _ in query.field_types)})")
        params.extend(query.field_types)
    if query.answered_only:
        conds.append(f"{_value_column(query.value)} IS NOT NULL")
    for op, bound in ((">=", query.start), ("<", query.end)):
        if bound is not None:
            conds.append(f"{time_column} {op} ?")
            params.append(naive_utc(bound))
    for name, value in query.filters:
        conds.append(f"{_dimension(name, dialect, params, query)} = ?")
        params.append(value)
    return conds


def naive_utc(moment: datetime) -> datetime:
    """Snapshot timestamps are UTC without a zone (Parquet TIMESTAMP), so bounds are too."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _aggregate(agg: Agg, query: AggregateQuery) -> str:
    value = _value_column(query.value)
    tested = _value_column(agg.column) if agg.column else value
    conds = []
    if agg.low is not None:
        conds.append(f"{tested} >= {float(agg.low)!r}")
    if agg.high is not None:
        conds.append(f"{tested} <= {float(agg.high)!r}")
    if agg.equals is not None:
        conds.append(f"{tested} = {_quote(agg.equals)}")
    if agg.top_box:
        conds.append(f"{tested} >= {TOP_BOX}")
    term = {"count": "1", "sum": value, "sum_sq": f"{value} * {value}"}[agg.op]
    if agg.op == "count" and not conds:
        return "count(*)"
    if conds:
        term = f"CASE WHEN {' AND '.join(conds)} THEN {term} ELSE 0 END"
    return f"coalesce(sum({term}), 0)"


def _value_column(name: str) -> str:
    if name in SOURCE_VALUES:
        return f"{SOURCE_VALUES[name].alias}.{name}"
    return VALUE_COLUMNS[name]


def _quote(text: str) -> str:
    """A declared (not user-supplied) text literal, quoted for both dialects."""
    if not all(c.isalnum() or c in " _-" for c in text):
        raise ValueError(f"unsupported literal {text!r}")
    return f"'{text}'"


def _day(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
