"""The embedded DuckDB engine: the metric declarations, aggregated by DuckDB.

The SQL comes from cem.analytics.engines.flat (shared with Spark). It runs over views named `feedback`,
`customers`, `touchpoints` (and the row sources), made either over the operational store attached read-only
(cem.analytics.engines.attached: what `--engine duckdb` and the dashboards use; a SQLite store is attached in a
reader process of its own, which runs the same flat SQL) or over the Parquet snapshot's
files (cem.analytics.snapshot: benchmarks, and checks that both give the same numbers). Each query runs on its
own cursor, so one engine serves concurrent requests.
"""

from __future__ import annotations

import duckdb

from cem.analytics import duck_connection
from cem.analytics.engines import flat
from cem.analytics.engines.base import AggregateQuery, AggregateRow
from cem.analytics.snapshot import SnapshotFiles, create_views


class DuckEngine:
    """Runs the flat SQL of a metric's aggregates in DuckDB over `feedback`, `customers`, `touchpoints`."""

    name = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    @classmethod
    def over(cls, files: SnapshotFiles, *, threads: int | None = None) -> DuckEngine:
        """An engine on a fresh in-memory connection with views over the snapshot's files."""
        con = duck_connection.connect()
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        create_views(con, files)
        return cls(con)

    def aggregate(self, query: AggregateQuery) -> list[AggregateRow]:
        """One row per non-empty (day, segment) cell."""
        sql = flat.build(query, "duckdb")
        cursor = self.con.cursor()
        try:
            raw = cursor.execute(sql.text, sql.params).fetchall()
        finally:
            cursor.close()
        return flat.to_rows(query, sql.n_dims, raw)
