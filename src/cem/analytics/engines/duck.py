"""The embedded DuckDB engine: the same metric declarations, aggregated by DuckDB over a columnar snapshot.

DuckDB's sqlite/postgres scanners are extensions it downloads at run time, and cem runs without network, so
the snapshot is fed from the operational store through a CSV file that DuckDB's built-in reader loads
(`load_snapshot`). Aggregation then never touches the operational database.
"""

from __future__ import annotations

import csv
import json
import tempfile
from datetime import UTC, date
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy import select
from sqlalchemy.orm import Session

from cem.analytics.engines.base import CUSTOMER_PREFIX, AggregateQuery, AggregateRow
from cem.analytics.metrics import Agg
from cem.customers.models import Customer
from cem.feedback.models import FeedbackRecord as FR
from cem.journeys.models import Journey, JourneyStage, Touchpoint

COLUMNS = {
    "workspace_id": "BIGINT",
    "field_type": "VARCHAR",
    "value_number": "DOUBLE",
    "collected_at": "TIMESTAMP",
    "source_type": "VARCHAR",
    "source_name": "VARCHAR",
    "field_id": "VARCHAR",
    "language": "VARCHAR",
    "touchpoint": "VARCHAR",
    "stage": "VARCHAR",
    "journey": "VARCHAR",
    "customer_attributes": "VARCHAR",
}
PLAIN_DIMENSIONS = ("source_type", "source_name", "field_id", "language", "touchpoint", "stage", "journey")


def load_snapshot(session: Session, con: duckdb.DuckDBPyConnection, *, workspace_id: int | None = None) -> int:
    """(Re)build the `feedback` table in DuckDB from the operational store; returns the number of rows."""
    stmt = (
        select(
            FR.workspace_id,
            FR.field_type,
            FR.value_number,
            FR.collected_at,
            FR.source_type,
            FR.source_name,
            FR.field_id,
            FR.language,
            Touchpoint.key,
            JourneyStage.key,
            Journey.key,
            Customer.attributes,
        )
        .outerjoin(Touchpoint, Touchpoint.id == FR.touchpoint_id)
        .outerjoin(JourneyStage, JourneyStage.id == Touchpoint.stage_id)
        .outerjoin(Journey, Journey.id == JourneyStage.journey_id)
        .outerjoin(Customer, Customer.id == FR.customer_id)
    )
    if workspace_id is not None:
        stmt = stmt.where(FR.workspace_id == workspace_id)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "feedback.csv"
        count = _write_csv(session, stmt, path)
        types = ", ".join(f"'{name}': '{kind}'" for name, kind in COLUMNS.items())
        con.execute("DROP TABLE IF EXISTS feedback")
        con.execute(
            "CREATE TABLE feedback AS SELECT * FROM "
            f"read_csv(?, header = true, columns = {{{types}}}, nullstr = '\\N')",
            [str(path)],
        )
    return count


def _write_csv(session: Session, stmt: Any, path: Path) -> int:
    count = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for row in session.execute(stmt.execution_options(yield_per=10_000)):
            *head, collected, source_type, source_name, field_id, language, tp, stage, journey, attrs = row
            values = [*head, collected.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")]
            values += [source_type, source_name, field_id, language, tp, stage, journey]
            values.append(json.dumps(attrs) if attrs else None)
            # \N marks NULL so an empty string stays an empty string.
            writer.writerow(["\\N" if v is None else (repr(v) if isinstance(v, float) else v) for v in values])
            count += 1
    return count


class DuckEngine:
    """Aggregates a metric's declared aggregates with DuckDB SQL over the `feedback` snapshot table."""

    name = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def aggregate(self, query: AggregateQuery) -> list[AggregateRow]:
        """One row per non-empty (day, segment) cell."""
        params: list[Any] = []
        dims = [self._dimension(d, params) for d in query.dimensions]
        scales = any(a.top_box for a in query.aggregates)
        aggs = [_aggregate(a) for a in query.aggregates]
        day = "CAST(f.collected_at AS DATE)" if query.by_day else "NULL"
        sql = f"SELECT {', '.join([day, *dims, *aggs])} FROM feedback f"
        if scales:
            sql += _scales_join(query, params)
        sql += " WHERE " + " AND ".join(self._conditions(query, params))
        # Group by position: the customer-attribute expressions carry parameters that must not repeat.
        positions = ([1] if query.by_day else []) + list(range(2, 2 + len(dims)))
        if positions:
            sql += " GROUP BY " + ", ".join(map(str, positions))
        rows = []
        n_dims = len(dims)
        for row in self.con.execute(sql, params).fetchall():
            keys = tuple(None if k is None else str(k) for k in row[1 : 1 + n_dims])
            values = {a.name: float(v or 0) for a, v in zip(query.aggregates, row[1 + n_dims :], strict=True)}
            rows.append(AggregateRow(day=_day(row[0]) if query.by_day else None, keys=keys, values=values))
        return rows

    def _dimension(self, name: str, params: list[Any]) -> str:
        if name.startswith(CUSTOMER_PREFIX):
            # The attribute name is validated (letters, digits, _ and -); it still goes in as a parameter.
            params.append(f'$."{name[len(CUSTOMER_PREFIX) :]}"')
            return "json_extract_string(f.customer_attributes, ?)"
        if name not in PLAIN_DIMENSIONS:
            raise ValueError(f"unknown dimension {name!r}")
        return f"f.{name}"

    def _conditions(self, query: AggregateQuery, params: list[Any]) -> list[str]:
        conds = ["f.workspace_id = ?"]
        params.append(query.workspace_id)
        if query.field_types is not None:
            conds.append(f"f.field_type IN ({', '.join('?' for _ in query.field_types)})")
            params.extend(query.field_types)
        if query.answered_only:
            conds.append("f.value_number IS NOT NULL")
        for op, bound in ((">=", query.start), ("<", query.end)):
            if bound is not None:
                conds.append(f"f.collected_at {op} ?")
                params.append(bound.astimezone(UTC).replace(tzinfo=None))
        for name, value in query.filters:
            conds.append(f"{self._dimension(name, params)} = ?")
            params.append(value)
        return conds


def _scales_join(query: AggregateQuery, params: list[Any]) -> str:
    """Per-field scale from the max seen (3/5/7/10), as in the SQL engine."""
    types = ", ".join("?" for _ in query.field_types or ())
    params.append(query.workspace_id)
    params.extend(query.field_types or ())
    return (
        " LEFT JOIN (SELECT source_type, source_name, field_id, max(value_number) AS seen_max FROM feedback"
        f" WHERE workspace_id = ? AND field_type IN ({types or 'NULL'}) GROUP BY 1, 2, 3) s"
        " ON s.source_type = f.source_type AND s.source_name = f.source_name AND s.field_id = f.field_id"
    )


def _aggregate(agg: Agg) -> str:
    conds = []
    if agg.low is not None:
        conds.append(f"f.value_number >= {float(agg.low)!r}")
    if agg.high is not None:
        conds.append(f"f.value_number <= {float(agg.high)!r}")
    if agg.top_box:
        threshold = (
            "CASE WHEN s.seen_max <= 3 THEN 3 WHEN s.seen_max <= 5 THEN 4 WHEN s.seen_max <= 7 THEN 6 ELSE 9 END"
        )
        conds.append(f"f.value_number >= {threshold}")
    term = {"count": "1", "sum": "f.value_number", "sum_sq": "f.value_number * f.value_number"}[agg.op]
    if agg.op == "count" and not conds:
        return "count(*)"
    if conds:
        term = f"CASE WHEN {' AND '.join(conds)} THEN {term} ELSE 0 END"
    return f"coalesce(sum({term}), 0)"


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
