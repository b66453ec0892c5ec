"""The same metric queries on every engine give identical counts and values equal to 1e-9."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pytest
from fastapi.testclient import TestClient

from cem.analytics import service
from cem.analytics.engines.duck import DuckEngine, load_snapshot
from cem.analytics.engines.sql import SqlEngine
from cem.analytics.schemas import MetricQuery, MetricResult
from cem.db.session import Database
from tests.conftest import Workspace

QUERIES: list[dict[str, Any]] = [
    {"metric": "nps"},
    {"metric": "nps", "group_by": ["source_name"], "interval": "month", "min_n": 5},
    {"metric": "nps", "interval": "week", "compare_to": "previous", "min_n": 5},
    {"metric": "csat", "group_by": ["field_id", "language"], "min_n": 1},
    {"metric": "ces", "interval": "quarter", "min_n": 2},
    {"metric": "ces_agree", "filters": ["source_name=app"], "min_n": 1},
    {"metric": "rating_mean", "group_by": ["customer.plan"], "min_n": 1},
    {"metric": "rating_mean", "filters": ["customer.plan=gold"], "min_n": 1},
    {"metric": "feedback_volume", "group_by": ["source_type"], "interval": "day"},
    {
        "metric": "nps",
        "compare_to": "previous",
        "date_from": "2026-03-01",
        "date_to": "2026-03-31",
        "group_by": ["source_name"],
        "min_n": 1,
    },
]
RANGES = {"nps": (0, 10), "ces": (1, 7), "rating": (1, 5)}


def synthetic(n: int) -> list[dict[str, Any]]:
    """Seeded records over four months, three sources, two languages, CSAT on 5- and 10-point scales."""
    rng = random.Random(7)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        field_type = rng.choice(["nps", "nps", "csat", "ces", "rating"])
        if field_type == "csat":
            field_id = rng.choice(["csat5", "csat10"])
            value: float = rng.randint(1, 5 if field_id == "csat5" else 10)
        else:
            field_id = field_type
            low, high = RANGES[field_type]
            value = rng.randint(low, high) if field_type == "nps" else round(rng.uniform(low, high), 3)
        record: dict[str, Any] = {
            "source_type": rng.choice(["survey", "review"]),
            "source_name": rng.choice(["app", "web", "store"]),
            "submission_id": f"p{i}",
            "field_id": field_id,
            "field_type": field_type,
            "value": value,
            "language": rng.choice(["en", "pt", None]),
            "collected_at": (start + timedelta(minutes=rng.randint(0, 120 * 24 * 60))).isoformat(),
        }
        if rng.random() < 0.6:
            plan = rng.choice(["gold", "basic"])
            record["customer"] = {"external_id": f"c{rng.randint(0, 40)}-{plan}", "attributes": {"plan": plan}}
        out.append(record)
    return out


def comparable(result: MetricResult) -> list[dict[str, Any]]:
    return [row.model_dump() for row in result.rows]


def test_sql_and_duckdb_agree(admin_api: TestClient, db: Database, workspace: Workspace) -> None:
    r = admin_api.post("/api/v1/feedback/bulk", json=synthetic(1500))
    assert r.status_code == 200, r.text
    ws_id = workspace.principal().workspace_id
    con = duckdb.connect()
    with db.unit_of_work(readonly=True) as session:
        assert load_snapshot(session, con, workspace_id=ws_id) == 1500
        engines = [SqlEngine(session), DuckEngine(con)]
        for raw in QUERIES:
            query = MetricQuery.model_validate(raw)
            sql, duck = (
                comparable(service.compute(session, workspace_id=ws_id, query=query, engine=e)) for e in engines
            )
            assert len(sql) == len(duck) > 0, raw
            assert any(row["value"] is not None for row in sql), raw
            for a, b in zip(sql, duck, strict=True):
                assert a.keys() == b.keys()
                for key, value in a.items():
                    if isinstance(value, float):
                        assert b[key] == pytest.approx(value, rel=1e-9, abs=1e-9), (raw, key)
                    else:
                        assert b[key] == value, (raw, key)
