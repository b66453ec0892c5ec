"""RFM from purchase events in the store (CDNOW sample): every customer in one segment, segments that mean something
for value, and `rfm_segment` as a metric dimension that every engine reads the same way."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from fastapi.testclient import TestClient
from pyspark.sql import SparkSession
from sqlalchemy import create_engine, inspect, select
from typer.testing import CliRunner

from cem.analytics import service as analytics
from cem.analytics.engines import attached
from cem.analytics.engines.base import MetricEngine
from cem.analytics.engines.duck import DuckEngine
from cem.analytics.engines.spark import SparkEngine, spark_session
from cem.analytics.engines.sql import SqlEngine
from cem.analytics.schemas import MetricQuery
from cem.analytics.snapshot import Snapshot
from cem.cli import app
from cem.clv import rfm, service
from cem.clv.models import CustomerValue
from cem.customers.models import Customer
from cem.db import migrate
from tests.analytics.test_engine_parity import assert_same, comparable
from tests.clv.test_store_scoring import _cdnow_events, _post_events
from tests.conftest import Workspace
from tests.web.helpers import login

AFTER_THE_SAMPLE = datetime(1998, 7, 1, tzinfo=UTC)  # the sample's last purchase is on 1998-06-30
HOSTILE = '<script>alert("x")</script>'


@pytest.fixture
def scored(workspace: Workspace, api: Callable[[str], TestClient], shared_data: Path) -> dict[str, int]:
    """CDNOW sample purchases as events, scored the day after the sample ends; customer id by external id."""
    _post_events(api("analyst"), _cdnow_events(shared_data))
    with workspace.db.unit_of_work() as session:
        service.score_workspace(session, workspace.id, now=AFTER_THE_SAMPLE)
        return {str(external): int(cid) for external, cid in session.execute(select(Customer.external_id, Customer.id))}


def test_every_cdnow_customer_gets_a_segment_and_champions_are_worth_more_than_the_lost(
    workspace: Workspace, api: Callable[[str], TestClient], scored: dict[str, int], shared_data: Path
) -> None:
    with workspace.db.unit_of_work(readonly=True) as session:
        values = list(session.scalars(select(CustomerValue)))
    assert len(values) == 2357 == len(scored)
    assert all(v.rfm_segment in rfm.SEGMENTS for v in values)
    # the stored scores follow the rule: each score 1-5, the segment the grid's cell for them
    assert all(v.rfm_segment == rfm.segment(v.r_score, v.f_score, v.m_score) for v in values)  # type: ignore[arg-type]
    assert all(v.purchases == v.frequency + 1 for v in values)  # purchase days = repeat purchases + 1
    one_timers = [v for v in values if v.purchases == 1]
    assert one_timers and {v.f_score for v in one_timers} == {1}  # ties share the lowest score
    reader = api("viewer")
    body = reader.get("/api/v1/clv/segments").json()
    sizes = {s["segment"]: s for s in body["segments"]}
    assert list(sizes) == list(rfm.SEGMENTS)
    assert sum(s["customers"] for s in sizes.values()) == body["customers"] == 2357
    assert sum(s["share"] for s in sizes.values()) == pytest.approx(1.0)
    for name, size in sizes.items():  # the API's figures are the stored rows' means
        members = [v for v in values if v.rfm_segment == name]
        assert size["customers"] == len(members), name
        if members:
            assert size["mean_p_alive"] == pytest.approx(sum(v.p_alive for v in members) / len(members))
    champions, lost = sizes[rfm.CHAMPIONS], sizes[rfm.LOST]
    assert champions["customers"] > 0 and lost["customers"] > 0
    assert champions["mean_clv"] > 2 * lost["mean_clv"]
    # (not P(alive): BG/NBD gives one-time buyers, most of the lost, P(alive) 1: nobody saw them drop out)
    assert champions["mean_monetary"] > lost["mean_monetary"]
    # the customer 360 panel and the per-customer API show the scores and the segment
    customer_id = scored["cdnow-1"]
    value = reader.get(f"/api/v1/clv/customers/{customer_id}").json()
    own = [e for e in _cdnow_events(shared_data) if e["customer"] == {"external_id": "cdnow-1"}]
    days = {str(e["occurred_at"])[:10] for e in own}
    last = datetime.fromisoformat(max(days)).replace(tzinfo=UTC)
    assert value["purchases"] == len(days) and value["monetary"] == pytest.approx(sum(e["value"] for e in own))
    assert value["recency_days"] == (AFTER_THE_SAMPLE - last).days
    assert value["rfm_segment"] in rfm.SEGMENTS and 1 <= value["r_score"] <= 5
    page = login(workspace.client.app, workspace.user_email("viewer")).get(f"/customers/{customer_id}")
    assert page.status_code == 200
    assert "RFM segment" in page.text and value["rfm_segment"].replace("'", "&#39;") in page.text
    assert f"R {value['r_score']} · F {value['f_score']} · M {value['m_score']}" in page.text


def test_segments_before_any_scoring_is_a_clear_404(api: Callable[[str], TestClient]) -> None:
    response = api("viewer").get("/api/v1/clv/segments")
    assert response.status_code == 404 and "POST /api/v1/clv/score" in response.json()["detail"]


def _nps_feedback(customers: list[str]) -> list[dict[str, Any]]:
    """NPS answers from a seeded half of the customers (some twice), and 40 without a customer."""
    rng = random.Random(17)
    start = datetime(1998, 1, 1, tzinfo=UTC)
    records: list[dict[str, Any]] = []
    for n, external_id in enumerate(c for c in customers if rng.random() < 0.5):
        for answer in range(rng.choice((1, 1, 2))):
            record: dict[str, Any] = {
                "source_type": "survey",
                "source_name": rng.choice(["relationship", "after-order"]),
                "submission_id": f"s{n}-{answer}",
                "field_id": "nps",
                "field_type": "nps",
                "value": rng.randint(0, 10),
                "collected_at": (start + timedelta(days=rng.randint(0, 170))).isoformat(),
                "customer": {"external_id": external_id},
            }
            records.append(record)
    for n in range(40):
        records.append({**records[n], "submission_id": f"anonymous-{n}", "customer": None})
    return records


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    session = spark_session()
    yield session
    session.stop()


QUERIES: list[dict[str, Any]] = [
    {"metric": "nps", "group_by": ["rfm_segment"], "min_n": 1},
    {"metric": "nps", "filters": ["rfm_segment=champions"], "interval": "month", "min_n": 1},
    {"metric": "feedback_volume", "group_by": ["rfm_segment", "source_name"]},
    {"metric": "churn_rate", "group_by": ["rfm_segment"], "min_n": 1},  # a customer metric: no feedback join
]


def test_rfm_segment_dimension_is_the_same_on_every_engine(
    workspace: Workspace,
    api: Callable[[str], TestClient],
    scored: dict[str, int],
    tmp_path: Path,
    spark: SparkSession,
) -> None:
    records = _nps_feedback(sorted(scored))
    for start in range(0, len(records), 1000):
        response = api("analyst").post("/api/v1/feedback/bulk", json=records[start : start + 1000])
        assert response.status_code == 200, response.text
    flags = random.Random(5)
    with workspace.db.unit_of_work() as session:  # churn flags on two thirds of the customers (churn_rate below)
        for customer in session.scalars(select(Customer).order_by(Customer.id)):
            if flags.random() < 2 / 3:
                customer.attributes = {**customer.attributes, "churned": flags.random() < 0.3}
    with workspace.db.unit_of_work(readonly=True) as session:
        segment_of = dict(session.execute(select(CustomerValue.customer_id, CustomerValue.rfm_segment)).all())
        Snapshot(tmp_path / "snap").refresh(session)
        files = Snapshot(tmp_path / "snap").files()
        assert files is not None
        store_url = session.get_bind().engine.url.render_as_string(hide_password=False)
        engines: list[MetricEngine] = [
            SqlEngine(session),
            attached.cached(store_url),
            DuckEngine.over(files),
            SparkEngine(spark, files),
        ]
        for index, raw in enumerate(QUERIES):
            query = MetricQuery.model_validate(raw)
            # Spark runs the first query only: the flat SQL is the DuckDB one, and each Spark query costs seconds
            results = [
                comparable(analytics.compute(session, workspace_id=workspace.id, query=query, engine=e))
                for e in (engines if index == 0 else engines[:3])
            ]
            for name, other in zip(("duckdb attached", "duckdb snapshot", "spark"), results[1:], strict=False):
                assert_same(results[0], other, (name, raw))
            if index == 0:
                by_segment = {row["segment"]["rfm_segment"]: row["n"] for row in results[0]}
                # grouped by the stored segment: the answers of customers in each, the anonymous ones under null
                expected: dict[str | None, int] = {None: 40}
                for record in records[: len(records) - 40]:
                    name = segment_of[scored[record["customer"]["external_id"]]]
                    expected[name] = expected.get(name, 0) + 1
                assert by_segment == expected
                assert set(by_segment) - {None} <= set(rfm.SEGMENTS) and len(by_segment) >= 6


def test_cli_groups_nps_by_rfm_segment(
    cli: CliRunner, api: Callable[[str], TestClient], scored: dict[str, int]
) -> None:
    records = _nps_feedback(sorted(scored))
    response = api("analyst").post("/api/v1/feedback/bulk", json=records[:1000])
    assert response.status_code == 200, response.text
    args = ["metrics", "nps", "--by", "rfm_segment", "--min-n", "1", "--workspace", "acme", "--format", "json"]
    sql = cli.invoke(app, args)
    assert sql.exit_code == 0, sql.output
    rows = json.loads(sql.output)["rows"]
    assert {row["segment"]["rfm_segment"] for row in rows} - {None} <= set(rfm.SEGMENTS)
    assert sum(row["n"] for row in rows) == 1000
    duck = cli.invoke(app, [*args, "--engine", "duckdb"])
    assert duck.exit_code == 0, duck.output
    assert json.loads(duck.output)["rows"] == rows
    segments = cli.invoke(app, ["clv", "segments", "--workspace", "acme", "--format", "json"])
    assert segments.exit_code == 0, segments.output
    listed = json.loads(segments.output)
    assert [s["segment"] for s in listed] == list(rfm.SEGMENTS) and sum(s["customers"] for s in listed) == 2357
    table = cli.invoke(app, ["clv", "segments", "--workspace", "acme"])
    assert table.exit_code == 0 and "can't lose" in table.output and "nan" not in table.output.lower()
    bad = cli.invoke(app, ["clv", "segments", "--workspace", "acme", "--format", "xml"])
    assert bad.exit_code == 2 and "table or json" in bad.output


def test_cli_segments_before_scoring_says_what_to_run(cli: CliRunner) -> None:
    result = cli.invoke(app, ["clv", "segments", "--workspace", "acme"])
    assert result.exit_code == 1 and "cem clv score" in result.output and "Traceback" not in result.output


def test_the_rfm_migration_adds_and_drops_its_columns(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'rfm.db'}")
    migrate.upgrade(engine, "0021_rfm")
    columns = {c["name"] for c in inspect(engine).get_columns("customer_value")}
    assert {"recency_days", "purchases", "monetary", "r_score", "f_score", "m_score", "rfm_segment"} <= columns
    cfg = migrate.alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0020_customer_scores")
    left = {c["name"] for c in inspect(engine).get_columns("customer_value")}
    assert "rfm_segment" not in left and "r_score" not in left and {"clv", "p_alive"} <= left
    engine.dispose()
