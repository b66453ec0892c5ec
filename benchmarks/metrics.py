"""Metric engine benchmark. Reports, in one run:

1. NPS with its adjusted-Wald interval by channel x month over N feedback records (default 10,000,000)
   through the cem engine (DuckDB over the Parquet snapshot) against a hand-written DuckDB SQL query over
   the same files: both times (warm, median of 3) and their ratio (target <= 1.5x), values compared; the same
   comparison over the SQLite store of part 3 (DuckDB attached to the store in cem's reader process, what
   dashboards use, against hand-written SQL attaching the file in a process of its own);
2. the same query through the cem Spark engine (local[2]): time, and that the values match;
3. the program overview on M records (default 1,000,000) in a real SQLite store with its snapshot: server
   time of the overview page and of the API call behind it (warm, median of 5; target < 300 ms), and the
   first, uncached call.

The N records are generated directly as Parquet with DuckDB (deterministic hashes, no Python loop); the M
records are written into a fresh SQLite store and exported by `Snapshot.refresh` like `cem export parquet`.
Everything lives in a temporary directory that is deleted afterwards.

Usage: .venv/bin/python benchmarks/metrics.py [--n 10000000] [--overview-n 1000000] [--no-spark]
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import duckdb

from cem.analytics import service
from cem.analytics.engines.base import MetricEngine
from cem.analytics.engines.duck import DuckEngine
from cem.analytics.schemas import MetricQuery, MetricRow
from cem.analytics.snapshot import (
    CUSTOMER_COLUMNS,
    TOUCHPOINT_COLUMNS,
    Snapshot,
    SnapshotFiles,
    empty_table_sql,
    sql_string,
    write_manifest,
)
from cem.analytics.stats import z_value

CHANNELS = ["survey", "review", "ticket", "chat", "social", "api"]
QUERY = MetricQuery(metric="nps", group_by=["channel"], interval="month", min_n=30)

# One generator for both parts: row i of N, deterministic. 70 % NPS (skewed to 8-10), 15 % CSAT 1-5, 15 % CES.
GENERATE = """
SELECT
    range + 1 AS id,
    CAST(1 AS BIGINT) AS workspace_id,
    CASE WHEN hash(range, 1) % 3 = 0 THEN NULL ELSE CAST(hash(range, 2) % 200000 AS BIGINT) END AS customer_id,
    CAST(NULL AS BIGINT) AS touchpoint_id,
    ['survey', 'review', 'ticket', 'chat', 'social', 'api'][1 + CAST(hash(range, 3) % 6 AS INTEGER)] AS source_type,
    ['app', 'web', 'store', 'email'][1 + CAST(hash(range, 4) % 4 AS INTEGER)] AS source_name,
    ft AS field_id,
    ft AS field_type,
    CASE ft
        WHEN 'nps' THEN CAST(least(10, hash(range, 6) % 14) AS DOUBLE)
        WHEN 'csat' THEN CAST(1 + hash(range, 6) % 5 AS DOUBLE)
        ELSE CAST(1 + hash(range, 6) % 7 AS DOUBLE)
    END AS value_number,
    CAST(CASE ft WHEN 'nps' THEN 0 ELSE 1 END AS DOUBLE) AS scale_min,
    CAST(CASE ft WHEN 'nps' THEN 10 WHEN 'csat' THEN 5 ELSE 7 END AS DOUBLE) AS scale_max,
    ['en', 'pt', 'es', 'de'][1 + CAST(hash(range, 7) % 4 AS INTEGER)] AS language,
    -- no record names its own channel, agent or team: the channel dimension falls back to the source type
    CAST(NULL AS VARCHAR) AS channel,
    CAST(NULL AS VARCHAR) AS agent,
    CAST(NULL AS VARCHAR) AS team,
    CAST(NULL AS DOUBLE) AS sentiment_score,
    CAST(NULL AS VARCHAR) AS sentiment_label,
    TIMESTAMP '2024-01-01' + to_seconds(CAST(hash(range, 8) % (730 * 86400) AS BIGINT)) AS collected_at,
    TIMESTAMP '2026-01-01' AS updated_at
FROM (
    SELECT range, CASE WHEN hash(range, 5) % 20 < 14 THEN 'nps' WHEN hash(range, 5) % 20 < 17 THEN 'csat'
                       ELSE 'ces' END AS ft
    FROM range({n})
)
"""

HAND_WRITTEN = """
WITH cells AS (
    SELECT source_type AS channel, date_trunc('month', collected_at) AS month, count(*) AS n,
           count(*) FILTER (WHERE value_number >= 9) AS promoters,
           count(*) FILTER (WHERE value_number <= 6) AS detractors
    FROM {table}
    WHERE workspace_id = 1 AND field_type = 'nps' AND value_number IS NOT NULL
    GROUP BY ALL
), adjusted AS (
    SELECT *, (promoters + 0.75) / (n + 3) AS p, (detractors + 0.75) / (n + 3) AS d FROM cells
)
SELECT channel, CAST(month AS DATE) AS month, n, 100.0 * (promoters - detractors) / n AS nps,
       100.0 * (p - d - {z} * sqrt((p + d - (p - d) ^ 2) / (n + 3))) AS lower,
       100.0 * (p - d + {z} * sqrt((p + d - (p - d) ^ 2) / (n + 3))) AS upper
FROM adjusted ORDER BY channel, month
"""


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median seconds of `repeat` warm runs (after one warm-up), and the last result."""
    result = fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def generate_snapshot(directory: Path, n: int) -> SnapshotFiles:
    """N records as one Parquet part plus empty customer/touchpoint tables, with a manifest: a snapshot."""
    (directory / "feedback").mkdir(parents=True)
    con = duckdb.connect()
    part = "feedback/part-bench.parquet"
    con.execute(
        f"COPY ({GENERATE.format(n=int(n))}) TO {sql_string(str(directory / part))} "
        "(FORMAT parquet, ROW_GROUP_SIZE 1000000)"
    )
    for name, columns in (("customers", CUSTOMER_COLUMNS), ("touchpoints", TOUCHPOINT_COLUMNS)):
        con.execute(
            f"COPY ({empty_table_sql(columns)}) TO {sql_string(str(directory / (name + '.parquet')))} (FORMAT parquet)"
        )
    manifest = {
        "feedback": {"parts": [part], "rows": n, "updated_at": "2026-01-01T00:00:00"},
        "customers": {"file": "customers.parquet", "state": "bench"},
        "touchpoints": {"file": "touchpoints.parquet", "state": "bench"},
        "exported_at": "2026-01-01T00:00:00+00:00",
    }
    write_manifest(directory, manifest)
    files = Snapshot(directory).files()
    assert files is not None
    return files


def cem_rows(engine: MetricEngine) -> list[MetricRow]:
    return service.compute(None, workspace_id=1, query=QUERY, engine=engine).rows


def compare(cem: list[MetricRow], hand: list[tuple[Any, ...]]) -> float:
    """Largest absolute difference between the cem rows and the hand-written ones (they must pair up)."""
    by_key = {(r.segment["channel"], r.bucket): r for r in cem if r.n}
    assert len(by_key) == len(hand), f"{len(by_key)} cem cells vs {len(hand)} hand-written"
    worst = 0.0
    for channel, month, n, nps, lower, upper in hand:
        row = by_key[(channel, month.isoformat())]
        assert row.n == n, (channel, month)
        for mine, theirs in ((row.value, nps), (row.lower, lower), (row.upper, upper)):
            worst = max(worst, abs(float(mine or math.nan) - float(theirs)))
    return worst


def engines_part(n: int, spark: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="cem-bench-") as tmp:
        start = time.perf_counter()
        files = generate_snapshot(Path(tmp) / "snap", n)
        print(f"generated {n:,} records as Parquet in {time.perf_counter() - start:.1f} s")

        table = f"read_parquet({sql_string(files.feedback[0])})"
        sql = HAND_WRITTEN.format(table=table, z=repr(z_value(0.95)))
        con = duckdb.connect()
        hand_time, hand = timed(lambda: con.execute(sql).fetchall(), 3)
        rows = engine_vs_hand("over the Parquet snapshot", DuckEngine.over(files), hand_time, hand)
        if spark:
            spark_part(files, rows)


def spark_part(files: SnapshotFiles, duck_rows: list[MetricRow]) -> None:
    from cem.analytics.engines.spark import SparkEngine, spark_session

    start = time.perf_counter()
    session = spark_session()
    engine = SparkEngine(session, files)
    startup = time.perf_counter() - start
    try:
        start = time.perf_counter()
        cold = cem_rows(engine)
        cold_time = time.perf_counter() - start
        warm_time, rows = timed(lambda: cem_rows(engine), 2)
    finally:
        session.stop()
    same = len(rows) == len(duck_rows) == len(cold) and all(
        a.n == b.n and _close(a.value, b.value) and _close(a.lower, b.lower) and _close(a.upper, b.upper)
        for a, b in zip(rows, duck_rows, strict=True)
    )
    print(
        f"Spark local[2]: session start {startup:.1f} s, first query {cold_time:.1f} s, warm {warm_time:.2f} s; "
        f"values {'match' if same else 'DIFFER'} (counts identical, values within 1e-9)"
    )


def _close(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and abs(a - b) <= 1e-9 * max(1, abs(a)))


def overview_part(n: int) -> None:
    """A real store with n records and its snapshot; times the overview page and its API call, warm."""
    with tempfile.TemporaryDirectory(prefix="cem-bench-") as tmp:
        from fastapi.testclient import TestClient

        from cem.admin import service as admin_service
        from cem.app import create_app

        settings, db, ws_id = bench_store(tmp)
        with db.unit_of_work() as session:
            token = admin_service.create_token(session, actor=_system(ws_id), name="bench", role="admin").secret
        start = time.perf_counter()
        _fill_store(Path(tmp) / "cem.db", n, ws_id)
        print(f"wrote {n:,} records into SQLite in {time.perf_counter() - start:.1f} s")
        with db.unit_of_work(readonly=True) as session:
            report = Snapshot(Path(tmp) / "analytics").refresh(session)
        print(f"cem export parquet (full) of {report.rows:,} records: {report.seconds:.1f} s")
        store_engine_part(settings.resolved_database_url, n)
        app = create_app(settings, db=db)
        with TestClient(app) as client:
            start = time.perf_counter()
            cold = client.get("/api/v1/dashboards/overview", headers={"Authorization": f"Bearer {token}"})
            cold_time = time.perf_counter() - start
            api_time, api = timed(
                lambda: client.get("/api/v1/dashboards/overview", headers={"Authorization": f"Bearer {token}"}), 5
            )
            metric_time, metric = timed(
                lambda: client.get(
                    "/api/v1/metrics",
                    params={"metric": "nps", "interval": "month", "group_by": "channel"},
                    headers={"Authorization": f"Bearer {token}"},
                ),
                5,
            )
            r = client.post("/login", data={"email": "a@bench.example", "password": "bench-password-1"})
            page_time, page = timed(lambda: client.get("/dashboards/overview", headers={"accept": "text/html"}), 5)
        print(
            f"overview on {n:,} records (warm, median of 5): page {page_time * 1000:.0f} ms (HTTP {page.status_code}), "
            f"API /dashboards/overview {api_time * 1000:.0f} ms (HTTP {api.status_code}), "
            f"/metrics nps by channel x month {metric_time * 1000:.0f} ms via {metric.json().get('engine')} "
            f"(target < 300 ms); login HTTP {r.status_code}; first (uncached) overview call "
            f"{cold_time * 1000:.0f} ms (HTTP {cold.status_code})"
        )
        body = api.json()
        tiles = ", ".join(f"{t['metric']} n={t['n']}" for t in body.get("tiles", []))
        print(
            f"  overview content: {tiles}; {len(body.get('trends', []))} trends, {len(body.get('movers', []))} movers"
        )
        db.dispose()


def store_engine_part(database_url: str, n: int) -> None:
    """The cem DuckDB engine on the SQLite store (what dashboards use: DuckDB in cem's reader process) against
    hand-written DuckDB SQL attaching the same file, timed in a process of its own: this process holds the store
    open through SQLAlchemy, and a second SQLite library in it would release its locks (issue 12)."""
    from cem.analytics.engines import attached

    engine = attached.cached(database_url)
    path = database_url.removeprefix("sqlite:///")
    sql = HAND_WRITTEN.format(table="store.main.feedback_record", z=repr(z_value(0.95)))
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        hand_time, hand = pool.submit(_hand_written_on_sqlite, path, sql).result()
    engine_vs_hand(f"over the SQLite store itself ({n:,} records)", engine, hand_time, hand)


def _hand_written_on_sqlite(path: str, sql: str) -> tuple[float, list[tuple[Any, ...]]]:
    """In a separate process: the hand-written SQL over the SQLite file attached with DuckDB, warm median of 3."""
    from cem.analytics.duck_connection import connect
    from cem.analytics.engines.attached import extension_file

    con = connect()  # no progress bar on the benchmark's terminal
    con.execute(f"LOAD {sql_string(str(extension_file('sqlite_scanner', 'duckdb_extension_sqlite_scanner')))}")
    con.execute(f"ATTACH {sql_string(path)} AS store (TYPE sqlite, READ_ONLY)")
    return timed(lambda: con.execute(sql).fetchall(), 3)


def engine_vs_hand(where: str, engine: MetricEngine, hand_time: float, hand: list[tuple[Any, ...]]) -> list[MetricRow]:
    """Times the cem engine (warm, median of 3) against the hand-written SQL's time, prints both and the ratio."""
    cem_time, rows = timed(lambda: cem_rows(engine), 3)
    diff = compare(rows, hand)
    print(
        f"NPS by channel x month {where}, {len(hand)} cells: cem DuckDB engine {cem_time * 1000:.0f} ms, "
        f"hand-written DuckDB SQL {hand_time * 1000:.0f} ms, ratio {cem_time / hand_time:.2f}x (target <= 1.5x); "
        f"max |difference| {diff:.2e}"
    )
    return rows


def bench_store(tmp: str) -> tuple[Any, Any, int]:
    """A fresh SQLite store in `tmp` for in-process benchmarks (no background worker): migrated, with workspace
    "bench" and its admin a@bench.example. Returns (settings, database, workspace id)."""
    os.environ["CEM_DATA_DIR"] = tmp
    os.environ.pop("CEM_DATABASE_URL", None)
    os.environ["CEM_IN_PROCESS_WORKER"] = "false"
    from cem.admin import service as admin_service
    from cem.config import get_settings
    from cem.db import migrate
    from cem.db.session import Database

    get_settings.cache_clear()
    settings = get_settings()
    db = Database(settings)
    migrate.upgrade(db.engine)
    with db.unit_of_work() as session:
        ws = admin_service.ensure_workspace(session, slug="bench", name="Bench")
        admin_service.create_user(
            session, email="a@bench.example", password="bench-password-1", workspace=ws, role="admin"
        )
        return settings, db, ws.id


def _system(workspace_id: int) -> Any:
    from cem.auth.principal import system_principal

    return system_principal(workspace_id, label="benchmark")


def _fill_store(path: Path, n: int, workspace_id: int) -> None:
    """Insert n generated records straight into feedback_record (the ingest path has its own benchmark)."""
    gen = duckdb.connect()
    cursor = gen.execute(
        "SELECT source_type, source_name, 'b' || id, field_id, field_type, value_number, scale_min, scale_max,"
        " language, "
        f"strftime(collected_at, '%Y-%m-%d %H:%M:%S.%f') FROM ({GENERATE.format(n=int(n))})"
    )
    con = sqlite3.connect(path)
    stamp = "2026-01-01 00:00:00.000000"
    sql = (
        "INSERT INTO feedback_record (workspace_id, source_type, source_name, submission_id, field_id, field_label,"
        " field_type, value_number, scale_min, scale_max, language, collected_at, metadata, created_at, updated_at)"
        f" VALUES ({workspace_id}, ?, ?, ?, ?, '', ?, ?, ?, ?, ?, ?, '{{}}', '{stamp}', '{stamp}')"
    )
    while batch := cursor.fetchmany(100_000):
        con.executemany(sql, batch)
    con.commit()
    con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000_000, help="records for the engine comparison")
    parser.add_argument("--overview-n", type=int, default=1_000_000, help="records for the overview timing")
    parser.add_argument("--no-spark", action="store_true", help="skip the Spark part")
    args = parser.parse_args()
    engines_part(args.n, spark=not args.no_spark)
    overview_part(args.overview_n)


if __name__ == "__main__":
    main()
