"""The same metric queries on every engine (SQL on SQLite/PostgreSQL, DuckDB attached to that store, DuckDB and
Spark over the Parquet snapshot) give identical counts and values equal to 1e-9."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pyspark.sql import SparkSession

from cem.analytics import service
from cem.analytics.engines import attached
from cem.analytics.engines.base import MetricEngine
from cem.analytics.engines.duck import DuckEngine
from cem.analytics.engines.spark import SparkEngine, spark_session
from cem.analytics.engines.sql import SqlEngine
from cem.analytics.schemas import MetricQuery, MetricResult
from cem.analytics.snapshot import Snapshot
from cem.db.session import Database
from tests.analytics import synthetic
from tests.conftest import Workspace

QUERIES: list[dict[str, Any]] = [
    {"metric": "nps"},
    {"metric": "nps", "group_by": ["channel"], "interval": "month", "min_n": 5},
    {"metric": "nps", "interval": "week", "compare_to": "previous", "min_n": 5},
    {"metric": "csat", "group_by": ["question", "language"], "min_n": 1},
    {"metric": "ces", "interval": "quarter", "min_n": 2},
    {"metric": "ces_agree", "filters": ["source=app"], "min_n": 1},
    {"metric": "rating_mean", "group_by": ["customer.plan"], "min_n": 1},
    {"metric": "rating_mean", "filters": ["customer.plan=gold"], "min_n": 1},
    {"metric": "feedback_volume", "group_by": ["source_type"], "interval": "day"},
    {"metric": "nps", "group_by": ["stage", "touchpoint"], "filters": ["journey=buy"], "min_n": 1},
    {"metric": "csat", "group_by": ["survey"], "interval": "month", "min_n": 1},
    {"metric": "sentiment_mean", "group_by": ["segment"], "min_n": 1},
    {"metric": "sentiment_negative", "interval": "month", "compare_to": "previous", "min_n": 1},
    {"metric": "churn_rate", "group_by": ["customer.plan"], "min_n": 1},
    {"metric": "churn_rate", "filters": ["segment=smb"], "min_n": 1},
    {"metric": "completion_rate", "group_by": ["survey", "channel"], "interval": "month", "min_n": 1},
    {"metric": "completion_rate", "group_by": ["customer.plan"], "filters": ["language=pt"], "min_n": 1},
    {"metric": "response_rate", "group_by": ["survey"], "compare_to": "previous", "interval": "month", "min_n": 1},
    {
        "metric": "nps",
        "compare_to": "previous",
        "date_from": "2026-03-01",
        "date_to": "2026-03-31",
        "group_by": ["source_name"],
        "min_n": 1,
    },
    # Topics (19-26): a record with several counts in each; filters keep the records having the topic.
    {"metric": "sentiment_mean", "group_by": ["topic"], "min_n": 1},
    {"metric": "feedback_volume", "group_by": ["topic", "subtopic"], "interval": "month"},
    {"metric": "nps", "group_by": ["subtopic"], "filters": ["topic=delivery"], "min_n": 1},
    {"metric": "csat", "group_by": ["topic", "customer.plan"], "filters": ["journey=buy"], "min_n": 1},
    {"metric": "nps", "filters": ["subtopic=delivery/late"], "interval": "month", "compare_to": "previous", "min_n": 1},
    {"metric": "sentiment_negative", "group_by": ["subtopic", "channel"], "filters": ["topic=price"], "min_n": 1},
    {"metric": "feedback_volume", "group_by": ["language"], "filters": ["topic=refund"]},
    {"metric": "rating_mean", "group_by": ["topic"], "filters": ["subtopic=price/expensive"], "min_n": 1},
    # Record context (27-28): channel falls back to the source type; agent and team may be null.
    {"metric": "nps", "group_by": ["channel", "team"], "min_n": 1},
    {"metric": "feedback_volume", "group_by": ["agent"], "filters": ["channel=review", "team=care"]},
]

# Spark runs a representative subset (every metric kind, join, filter, interval and comparison): each Spark
# query costs about a second of scheduling, and the suite's time budget is shared.
SPARK = (1, 2, 3, 4, 7, 9, 12, 13, 16, 17, 19, 20, 21, 23, 27, 28)


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    session = spark_session()
    yield session
    session.stop()


def comparable(result: MetricResult) -> list[dict[str, Any]]:
    return [row.model_dump() for row in result.rows]


def assert_same(expected: list[dict[str, Any]], actual: list[dict[str, Any]], context: object) -> None:
    assert len(expected) == len(actual) > 0, context
    for a, b in zip(expected, actual, strict=True):
        assert a.keys() == b.keys()
        for key, value in a.items():
            if isinstance(value, float):
                assert b[key] == pytest.approx(value, rel=1e-9, abs=1e-9), (context, key)
            else:
                assert b[key] == value, (context, key)


def test_every_engine_agrees(
    admin_api: TestClient, db: Database, workspace: Workspace, tmp_path: Path, spark: SparkSession
) -> None:
    synthetic.load(admin_api, db, 1800)
    ws_id = workspace.principal().workspace_id
    synthetic.add_surveys(db, ws_id, 300)
    synthetic.add_topics(db, ws_id)
    with db.unit_of_work(readonly=True) as session:
        report = Snapshot(tmp_path / "snap").refresh(session)
        assert report.mode == "full" and report.rows == 1800
        files = Snapshot(tmp_path / "snap").files()
        assert files is not None
        store_url = session.get_bind().engine.url.render_as_string(hide_password=False)
        live = attached.cached(store_url)
        engines: list[MetricEngine] = [SqlEngine(session), live, DuckEngine.over(files), SparkEngine(spark, files)]
        for index, raw in enumerate(QUERIES):
            query = MetricQuery.model_validate(raw)
            sql, duck_live, duck, *spark_rows = (
                comparable(service.compute(session, workspace_id=ws_id, query=query, engine=e))
                for e in (engines if index in SPARK else engines[:3])
            )
            assert any(row["value"] is not None for row in sql), raw
            assert_same(sql, duck_live, ("duckdb attached to the store", raw))
            assert_same(sql, duck, ("duckdb over the snapshot", raw))
            if index in SPARK:
                assert_same(sql, spark_rows[0], ("spark", raw))
            if raw.get("group_by") == ["channel", "team"]:
                # The records' own channels, normalised, beside the source types of records naming none.
                assert {r["segment"]["channel"] for r in sql} == {"phone", "online", "e-mail", "survey", "review"}
                assert None in {r["segment"]["team"] for r in sql}
            if raw.get("group_by", [])[:1] == ["topic"] and not raw.get("filters"):
                # Every active topic, records without one under null, never the deleted tombstone.
                assert {r["segment"]["topic"] for r in sql} == {"delivery", "price", "app", "refund", None}
                if "subtopic" in raw.get("group_by", []):
                    pairs = {(r["segment"]["topic"], r["segment"]["subtopic"]) for r in sql}
                    assert ("delivery", "delivery/late") in pairs and ("delivery", None) in pairs
                    assert all(sub is None or sub.startswith(f"{top}/") for top, sub in pairs)
