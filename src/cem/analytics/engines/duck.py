"""The embedded DuckDB engine: the metric declarations, aggregated by DuckDB over the Parquet snapshot.

The SQL comes from cem.analytics.engines.flat (shared with Spark); the snapshot from cem.analytics.snapshot.
An engine holds one DuckDB connection with views over one snapshot generation; each query runs on its own
cursor, so one engine serves concurrent requests.
"""

from __future__ import annotations

import threading

import duckdb

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
        con = duckdb.connect()
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


_CACHE: dict[tuple[str, str], DuckEngine] = {}
_CACHE_LOCK = threading.Lock()


def cached(files: SnapshotFiles) -> DuckEngine:
    """One engine per snapshot generation per process (views and Parquet metadata stay warm)."""
    key = (files.feedback[0] if files.feedback else "", files.generation)
    with _CACHE_LOCK:
        engine = _CACHE.get(key)
        if engine is None:
            for old in list(_CACHE):
                _CACHE.pop(old).con.close()
            engine = _CACHE[key] = DuckEngine.over(files)
        return engine
