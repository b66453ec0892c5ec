"""Topics as metric dimensions, against counts made by hand: a record with several topics counts in each, records
without one under null, a filter keeps the records having the topic, and queries without topics do not change."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cem.analytics import service
from cem.analytics.dashboards.rollup import RollupEngine
from cem.analytics.engines import attached
from cem.analytics.engines.base import AggregateQuery, AggregateRow, MetricEngine
from cem.analytics.engines.duck import DuckEngine
from cem.analytics.engines.sql import SqlEngine
from cem.analytics.metrics import METRICS
from cem.analytics.schemas import MetricQuery
from cem.analytics.snapshot import Snapshot
from cem.cli import app
from cem.db.session import Database
from cem.feedback.models import FeedbackRecord
from cem.text.topics.models import RecordTopic, Topic
from tests.conftest import Workspace

AT = datetime(2026, 4, 10, 12, tzinfo=UTC)
# Text answers: (sentiment label, score, cohort, topic keys). t0 has two topics (and a subtopic), t2 none, t3 one
# active topic plus a deleted tombstone (with its subtopic) that must never show.
TEXTS: list[tuple[str, float, str, list[str]]] = [
    ("negative", -0.5, "a", ["delivery", "delivery/late", "refund"]),
    ("positive", 0.5, "b", ["delivery"]),
    ("positive", 1.0, "b", []),
    ("negative", 0.2, "a", ["price", "old", "old/gone"]),
    ("negative", -1.0, "b", ["price", "price/expensive"]),
]
TOPICS = {"delivery": "active", "price": "active", "refund": "active", "old": "deleted"}
SUBTOPICS = {"delivery/late": "delivery", "price/expensive": "price", "old/gone": "old"}


def record(i: int, cohort: str) -> dict[str, Any]:
    return {
        "source_type": "review",
        "source_name": "store",
        "submission_id": f"t{i}",
        "field_id": "comment",
        "field_type": "text",
        "value": f"text {i}",
        "collected_at": AT.isoformat(),
        "metadata": {"cohort": cohort},
    }


@pytest.fixture
def texts(admin_api: TestClient, db: Database, workspace: Workspace) -> None:
    """The five texts with their sentiment, no topics yet (`assign` adds them)."""
    r = admin_api.post("/api/v1/feedback/bulk", json=[record(i, c) for i, (_, _, c, _) in enumerate(TEXTS)])
    assert r.status_code == 200, r.text
    with db.unit_of_work() as session:
        stored = session.scalars(select(FeedbackRecord).order_by(FeedbackRecord.submission_id)).all()
        for row, (label, score, _, _) in zip(stored, TEXTS, strict=True):
            row.sentiment_label, row.sentiment_score = label, score


def assign(db: Database, workspace_id: int) -> dict[str, int]:
    """Topics and record_topic rows as cem.text.topics writes them (the tombstone's rows left in on purpose)."""
    ids: dict[str, int] = {}
    with db.unit_of_work() as session:
        for key, status in TOPICS.items():
            topic = Topic(workspace_id=workspace_id, key=key, label=key, status=status)
            session.add(topic)
            session.flush()
            ids[key] = topic.id
        for key, parent in SUBTOPICS.items():
            sub = Topic(workspace_id=workspace_id, key=key, label=key, parent_id=ids[parent], status=TOPICS[parent])
            session.add(sub)
            session.flush()
            ids[key] = sub.id
        records = _record_ids(session)
        rows = [
            {"record_id": records[i], "topic_id": ids[key], "score": 1.0}
            for i, (_, _, _, keys) in enumerate(TEXTS)
            for key in keys
        ]
        session.execute(insert(RecordTopic), rows)
    return ids


def _record_ids(session: Session) -> list[int]:
    return list(session.scalars(select(FeedbackRecord.id).order_by(FeedbackRecord.submission_id)))


def figures(engine: MetricEngine, workspace_id: int, session: Session | None = None, **raw: Any) -> list[Any]:
    """(segment values..., n, value) per row."""
    query = MetricQuery(min_n=1, **raw)
    rows = service.compute(session, workspace_id=workspace_id, query=query, engine=engine).rows
    return [(*row.segment.values(), row.n, None if row.value is None else round(row.value, 9)) for row in rows]


def engines(session: Session, tmp_path: Path) -> list[MetricEngine]:
    """SQL on the store, DuckDB attached to the store, DuckDB over a fresh snapshot."""
    snap = Snapshot(tmp_path / "snap")
    snap.refresh(session)
    files = snap.files()
    assert files is not None
    url = session.get_bind().engine.url.render_as_string(hide_password=False)
    return [SqlEngine(session), attached.cached(url), DuckEngine.over(files)]


def test_a_record_counts_in_each_of_its_topics(texts: None, db: Database, workspace: Workspace, tmp_path: Path) -> None:
    ws = workspace.id
    ungrouped = ("feedback_volume", "sentiment_mean")
    with db.unit_of_work(readonly=True) as session:
        before = [figures(SqlEngine(session), ws, metric=m) for m in ungrouped]
    assert before == [[(5, 5.0)], [(5, 0.04)]]
    assign(db, ws)
    with db.unit_of_work(readonly=True) as session:
        for engine in engines(session, tmp_path):  # the snapshot refreshed incrementally: record topics rewritten
            run = lambda **raw: figures(engine, ws, session, **raw)  # noqa: E731, B023
            # Not grouped or filtered by topic: exactly what it was before any record had a topic.
            assert [run(metric=m) for m in ungrouped] == before, engine.name
            # t0 counts for delivery and refund, t3 for price only (the tombstone is gone), t2 under null: 6 > 5.
            volume = run(metric="feedback_volume", group_by=["topic"])
            assert volume == [("delivery", 2, 2.0), ("price", 2, 2.0), ("refund", 1, 1.0), (None, 1, 1.0)], engine.name
            mean = run(metric="sentiment_mean", group_by=["topic"])
            assert mean == [
                ("delivery", 2, 0.0),
                ("price", 2, -0.4),
                ("refund", 1, -0.5),
                (None, 1, 1.0),
            ], engine.name
            # Subtopics: null holds the records with no subtopic at all (t1, t2, t3).
            assert run(metric="feedback_volume", group_by=["subtopic"]) == [
                ("delivery/late", 1, 1.0),
                ("price/expensive", 1, 1.0),
                (None, 3, 3.0),
            ], engine.name
            assert run(metric="feedback_volume", group_by=["topic", "subtopic"]) == [
                ("delivery", "delivery/late", 1, 1.0),
                ("delivery", None, 1, 1.0),
                ("price", "price/expensive", 1, 1.0),
                ("price", None, 1, 1.0),
                ("refund", None, 1, 1.0),
                (None, None, 1, 1.0),
            ], engine.name
            # A filter keeps the records having the topic, each once; with subtopics grouped: that topic's.
            assert run(metric="sentiment_mean", filters=["topic=price"]) == [(2, -0.4)], engine.name
            assert run(metric="feedback_volume", filters=["topic=delivery"]) == [(2, 2.0)], engine.name
            assert run(metric="feedback_volume", filters=["subtopic=delivery/late"]) == [(1, 1.0)], engine.name
            assert run(metric="feedback_volume", group_by=["subtopic"], filters=["topic=delivery"]) == [
                ("delivery/late", 1, 1.0),
                (None, 1, 1.0),
            ], engine.name
            assert run(metric="feedback_volume", filters=["topic=old"]) == [(0, 0.0)], engine.name


def test_api_cli_and_compare_accept_topics(
    texts: None, admin_api: TestClient, db: Database, workspace: Workspace, cli: CliRunner
) -> None:
    assign(db, workspace.id)
    params: dict[str, Any] = {"metric": "feedback_volume", "group_by": ["topic"], "min_n": 1}
    for engine in ("sql", "duckdb"):
        body = admin_api.get("/api/v1/metrics", params={**params, "engine": engine}).json()
        assert [(r["segment"]["topic"], r["n"]) for r in body["rows"]] == [
            ("delivery", 2),
            ("price", 2),
            ("refund", 1),
            (None, 1),
        ]
        filtered = admin_api.get("/api/v1/metrics", params={**params, "filter": "topic=delivery", "engine": engine})
        assert [(r["segment"]["topic"], r["n"]) for r in filtered.json()["rows"]] == [("delivery", 2)]
    # Topics are feedback records' dimension: survey responses have none.
    refused = admin_api.get("/api/v1/metrics", params={"metric": "completion_rate", "group_by": "topic"})
    assert refused.status_code == 422 and "topic" in refused.json()["detail"]
    docs = admin_api.get("/openapi.json").json()["paths"]["/api/v1/metrics"]["get"]["parameters"]
    assert "counts once in each" in next(p for p in docs if p["name"] == "group_by")["description"]

    args = ["metrics", "feedback_volume", "--workspace", "acme", "--by", "topic", "--format", "json"]
    out = cli.invoke(app, [*args, "--filter", "topic=price"])
    assert out.exit_code == 0, out.output
    assert [(r["segment"], r["n"]) for r in json.loads(out.output)["rows"]] == [({"topic": "price"}, 2)]
    by_sub = cli.invoke(app, ["metrics", "feedback_volume", "--workspace", "acme", "--by", "subtopic"])
    assert by_sub.exit_code == 0 and "delivery/late" in by_sub.output

    # Comparisons filter records by topic too, each record once (t0 carries three topic rows).
    compare = {"metric": "sentiment_negative", "variant_source": "feedback", "variant_key": "cohort", "min_n": 0}
    body = admin_api.get("/api/v1/analyses/compare", params={**compare, "filter": "topic=delivery"}).json()
    assert [(v["variant"], v["n"], v["value"]) for v in body["variants"]] == [("a", 1, 100.0), ("b", 1, 0.0)]


def test_snapshot_rewrites_record_topics_when_assignments_change(
    texts: None, db: Database, workspace: Workspace, tmp_path: Path
) -> None:
    ids = assign(db, workspace.id)
    snap = Snapshot(tmp_path / "snap")

    def refreshed() -> tuple[str, list[Any]]:
        with db.unit_of_work(readonly=True) as session:
            snap.refresh(session)
        files = snap.files()
        assert files is not None
        volume = figures(DuckEngine.over(files), workspace.id, metric="feedback_volume", group_by=["topic"])
        return files.record_topics, [(k, n) for k, n, _ in volume]

    first, volume = refreshed()
    assert volume == [("delivery", 2), ("price", 2), ("refund", 1), (None, 1)]
    assert refreshed()[0] == first  # nothing changed: the file stays
    # t1 moves from delivery to price: as many rows as before, other topics.
    with db.unit_of_work() as session:
        t1 = _record_ids(session)[1]
        session.execute(delete(RecordTopic).where(RecordTopic.record_id == t1))
        session.execute(insert(RecordTopic).values(record_id=t1, topic_id=ids["price"], score=1.0))
    moved, volume = refreshed()
    assert moved != first and volume == [("delivery", 1), ("price", 3), ("refund", 1), (None, 1)]
    # A topic deleted (a tombstone now) drops out even before its rows are gone.
    with db.unit_of_work() as session:
        session.execute(update(Topic).where(Topic.id == ids["refund"]).values(status="deleted"))
    _, volume = refreshed()
    assert volume == [("delivery", 1), ("price", 3), (None, 1)]


class _Counting:
    name = "counting"

    def __init__(self) -> None:
        self.queries: list[AggregateQuery] = []

    def aggregate(self, query: AggregateQuery) -> list[AggregateRow]:
        self.queries.append(query)
        return []


def test_dashboard_rollup_never_sums_over_topics() -> None:
    inner = _Counting()
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    rollup = RollupEngine(inner, dimensions=("source_name", "topic"), start=start, end=end)
    nps = METRICS["nps"]
    base = AggregateQuery(1, nps.field_types, nps.answered_only, nps.aggregates, by_day=True, start=start, end=end)
    rollup.aggregate(replace(base, dimensions=("source_name",)))
    # Summing the (source, topic) cells would count a record once per topic: the engine answers instead.
    assert rollup.wide_queries == 0 and inner.queries[-1].dimensions == ("source_name",)
    rollup.aggregate(replace(base, dimensions=("topic",)))
    assert rollup.wide_queries == 1
    assert [q.dimensions for q in inner.queries] == [("source_name",), ("source_name", "topic")]
