"""The Parquet snapshot: full and incremental export, updates compacted, deletions rebuild, staleness."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from fastapi.testclient import TestClient
from sqlalchemy import delete, select
from typer.testing import CliRunner

from cem.analytics import service
from cem.analytics.engines.duck import DuckEngine
from cem.analytics.schemas import MetricQuery
from cem.analytics.settings import AnalyticsSettings
from cem.analytics.snapshot import Snapshot
from cem.cli import app
from cem.config import Settings
from cem.customers.models import Customer
from cem.db.session import Database
from cem.feedback.models import FeedbackRecord
from tests.conftest import Workspace


def nps_record(i: int, score: int, **extra: Any) -> dict[str, Any]:
    return {
        "source_type": "survey",
        "source_name": "pulse",
        "submission_id": f"s{i}",
        "field_id": "nps",
        "field_type": "nps",
        "value": score,
        "collected_at": datetime(2026, 2, 1 + i % 20, tzinfo=UTC).isoformat(),
        **extra,
    }


def post(client: TestClient, records: list[dict[str, Any]]) -> None:
    r = client.post("/api/v1/feedback/bulk", json=records)
    assert r.status_code == 200, r.text


def snapshot_values(snap: Snapshot) -> dict[int, float]:
    files = snap.files()
    assert files is not None
    con = duckdb.connect()
    parts = list(files.feedback)
    rows = con.execute("SELECT id, value_number FROM read_parquet(?)", [parts]).fetchall()
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids)), "one row per record, never two versions"
    return {int(r[0]): float(r[1]) for r in rows}


def test_incremental_export_appends_compacts_and_rebuilds(admin_api: TestClient, db: Database, tmp_path: Path) -> None:
    snap = Snapshot(tmp_path / "snap")
    post(admin_api, [nps_record(i, 10) for i in range(30)])
    with db.unit_of_work(readonly=True) as session:
        assert snap.refresh(session).mode == "full"
        assert snap.refresh(session).mode == "unchanged"  # the look-back re-reads rows but finds no change
    assert len(snapshot_values(snap)) == 30

    post(admin_api, [nps_record(i, 0) for i in range(30, 40)])
    with db.unit_of_work(readonly=True) as session:
        report = snap.refresh(session)
    assert (report.mode, report.appended, report.updated, report.rows) == ("incremental", 10, 0, 40)
    assert len(snap.manifest()["feedback"]["parts"]) == 2  # type: ignore[index]

    post(admin_api, [nps_record(0, 3)])  # the same submission again: an update of record s0
    with db.unit_of_work(readonly=True) as session:
        report = snap.refresh(session)
    assert (report.mode, report.appended, report.updated, report.rows) == ("incremental", 0, 1, 40)
    assert len(snap.manifest()["feedback"]["parts"]) == 1  # type: ignore[index]  # compacted
    values = snapshot_values(snap)
    assert sorted(values.values()).count(3.0) == 1 and len(values) == 40

    with db.unit_of_work() as session:
        victim = session.scalars(select(FeedbackRecord.id).order_by(FeedbackRecord.id)).first()
        session.execute(delete(FeedbackRecord).where(FeedbackRecord.id == victim))
    with db.unit_of_work(readonly=True) as session:
        report = snap.refresh(session)
    assert report.mode == "full" and report.rows == 39 and "rebuilt" in report.notes[0]
    assert victim not in snapshot_values(snap)
    # After a deletion no older generation's file is kept: the deleted record is in no file at all.
    con = duckdb.connect()
    for part in (tmp_path / "snap" / "feedback").glob("*.parquet"):
        assert not con.execute("SELECT count(*) FROM read_parquet(?) WHERE id = ?", [str(part), victim]).fetchone()[0]


def test_customer_changes_reach_the_snapshot(admin_api: TestClient, db: Database, tmp_path: Path) -> None:
    customer = {"external_id": "k1", "attributes": {"churned": False, "segment": "smb"}}
    post(admin_api, [nps_record(i, 9, customer=customer) for i in range(3)])
    snap = Snapshot(tmp_path / "snap")
    query = MetricQuery(metric="churn_rate", group_by=["segment"], min_n=1)
    ws_id = _workspace_id(db)
    with db.unit_of_work(readonly=True) as session:
        snap.refresh(session)
    files = snap.files()
    assert files is not None
    (row,) = service.compute(None, workspace_id=ws_id, query=query, engine=DuckEngine.over(files)).rows
    assert (row.value, row.n, row.segment) == (0.0, 1, {"segment": "smb"})
    with db.unit_of_work() as session:
        stored = session.scalars(select(Customer)).one()
        stored.attributes = {"churned": True, "segment": "smb"}
    with db.unit_of_work(readonly=True) as session:
        snap.refresh(session)
    files = snap.files()
    assert files is not None
    (row,) = service.compute(None, workspace_id=ws_id, query=query, engine=DuckEngine.over(files)).rows
    assert (row.value, row.n) == (100.0, 1)


def _workspace_id(db: Database) -> int:
    with db.unit_of_work(readonly=True) as session:
        return int(session.scalars(select(FeedbackRecord.workspace_id)).first() or 0)


def test_duckdb_reads_the_live_store_and_the_spark_snapshot_refreshes_when_stale(
    admin_api: TestClient, db: Database, workspace: Workspace, settings: Settings, tmp_path: Path
) -> None:
    post(admin_api, [nps_record(i, 10) for i in range(5)])
    lazy = AnalyticsSettings(snapshot_dir=tmp_path / "s", max_staleness_seconds=3600)
    eager = AnalyticsSettings(snapshot_dir=tmp_path / "s", max_staleness_seconds=0)
    query = MetricQuery(metric="feedback_volume")

    def volume() -> float | None:
        with db.unit_of_work(readonly=True) as session:
            engine = service.make_engine(session, name="duckdb", workspace_id=workspace.id, settings=settings)
            assert engine.name == "duckdb"
            return service.compute(session, workspace_id=workspace.id, query=query, engine=engine).rows[0].value

    def snapshot_rows(analytics: AnalyticsSettings) -> int:
        with db.unit_of_work(readonly=True) as session:
            service.fresh_files(session, Snapshot(tmp_path / "s"), analytics.max_staleness_seconds)
        return Snapshot(tmp_path / "s").rows()

    assert volume() == 5
    assert snapshot_rows(lazy) == 5  # no snapshot yet: made on first use
    post(admin_api, [nps_record(i, 10) for i in range(5, 8)])
    assert volume() == 8  # DuckDB attached to the store sees every commit at once
    assert snapshot_rows(lazy) == 5  # within the allowed staleness: the snapshot as it was
    assert snapshot_rows(eager) == 8  # too old: refreshed (incrementally) first


def test_auto_engine_picks_by_snapshot_size(db: Database, workspace: Workspace, settings: Settings) -> None:
    with db.unit_of_work(readonly=True) as session:
        small = AnalyticsSettings(snapshot_dir=settings.data_dir / "none")
        assert (
            service.make_engine(session, name="auto", workspace_id=1, settings=settings, analytics=small).name == "sql"
        )
        forced = AnalyticsSettings(snapshot_dir=settings.data_dir / "forced", engine="duckdb")
        engine = service.make_engine(session, name="auto", workspace_id=1, settings=settings, analytics=forced)
        assert engine.name == "duckdb"


def test_api_duckdb_engine_matches_sql(admin_api: TestClient) -> None:
    post(admin_api, [nps_record(i, [10, 9, 7, 3][i % 4]) for i in range(40)])
    params = {"metric": "nps", "group_by": "source", "interval": "month", "min_n": 5}
    sql = admin_api.get("/api/v1/metrics", params={**params, "engine": "sql"}).json()
    duck = admin_api.get("/api/v1/metrics", params={**params, "engine": "duckdb"}).json()
    assert (sql["engine"], duck["engine"]) == ("sql", "duckdb")
    assert sql["rows"] == duck["rows"] and sql["rows"][0]["n"] == 40
    bad = admin_api.get("/api/v1/metrics", params={**params, "engine": "hive"})
    assert bad.status_code == 422 and bad.json()["error"]


def test_cli_export_parquet(cli: CliRunner, admin_api: TestClient, tmp_path: Path) -> None:
    post(admin_api, [nps_record(i, 8) for i in range(12)])
    out = tmp_path / "export"
    first = cli.invoke(app, ["export", "parquet", "--out", str(out)])
    assert first.exit_code == 0, first.output
    assert "full export" in first.output and "12 records in the snapshot" in first.output
    again = cli.invoke(app, ["export", "parquet", "--out", str(out)])
    assert again.exit_code == 0 and "unchanged export" in again.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["feedback"]["rows"] == 12
    rebuilt = cli.invoke(app, ["export", "parquet", "--out", str(out), "--full"])
    assert rebuilt.exit_code == 0 and "full export" in rebuilt.output
    blocker = tmp_path / "file"
    blocker.write_text("x")
    bad = cli.invoke(app, ["export", "parquet", "--out", str(blocker)])
    assert bad.exit_code == 2 and "is a file" in bad.output and "Traceback" not in bad.output


def test_periodic_task_refreshes_only_an_existing_snapshot(
    admin_api: TestClient, db: Database, settings: Settings
) -> None:
    from cem.analytics.tasks import refresh_snapshot
    from cem.jobs.registry import TaskContext

    directory = AnalyticsSettings().resolved_snapshot_dir(settings)
    shutil.rmtree(directory, ignore_errors=True)  # other tests' API and CLI calls leave one there
    post(admin_api, [nps_record(i, 10) for i in range(4)])

    def run_task() -> dict[str, Any]:
        with db.unit_of_work() as session:
            ctx = TaskContext(session=session, job_id=0, attempt=1, progress=lambda *_: None, db=db)
            return refresh_snapshot(ctx)

    try:
        assert run_task() == {"refreshed": False}  # no snapshot: small installs need none
        with db.unit_of_work(readonly=True) as session:
            Snapshot(directory).refresh(session)
        with db.unit_of_work() as session:
            session.execute(delete(FeedbackRecord).where(FeedbackRecord.submission_id == "s0"))
        result = run_task()
        assert result["refreshed"] and result["mode"] == "full" and result["rows"] == 3
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_erasure_queues_a_snapshot_refresh(admin_api: TestClient, db: Database, workspace: Workspace) -> None:
    from cem.jobs.models import Job
    from cem.privacy.service import erase_person

    post(admin_api, [nps_record(0, 9, customer={"external_id": "p1", "email": "gone@example.com"})])
    with db.unit_of_work() as session:
        erase_person(session, email="gone@example.com", workspace_id=workspace.id)
    with db.unit_of_work(readonly=True) as session:
        names = list(session.scalars(select(Job.name)))
    assert "analytics.refresh_snapshot" in names


def test_sentiment_from_enrichment_and_corrections_reaches_the_snapshot(
    admin_api: TestClient, db: Database, tmp_path: Path
) -> None:
    """Enrichment and label corrections move updated_at: an incremental refresh carries the new sentiment."""
    from cem.text.enrich import enrich_records

    texts = ["The crew was wonderful and the seats were comfortable.", "Lost my bag and nobody answered the phone."]
    post(
        admin_api,
        [
            {
                "source_type": "review",
                "source_name": "app",
                "submission_id": f"t{i}",
                "field_id": "body",
                "field_type": "text",
                "value": text,
            }
            for i, text in enumerate(texts)
        ],
    )
    snap = Snapshot(tmp_path / "snap")

    def labels() -> dict[int, str | None]:
        files = snap.files()
        assert files is not None
        rows = (
            duckdb.connect()
            .execute("SELECT id, sentiment_label FROM read_parquet(?)", [list(files.feedback)])
            .fetchall()
        )
        return {int(r[0]): r[1] for r in rows}

    with db.unit_of_work(readonly=True) as session:
        snap.refresh(session)
        ids = sorted(session.scalars(select(FeedbackRecord.id)))
    assert set(labels().values()) == {None}  # not enriched yet
    enrich_records(db, workspace_id=_workspace_id(db), record_ids=ids)
    with db.unit_of_work(readonly=True) as session:
        report = snap.refresh(session)
    assert (report.mode, report.updated) == ("incremental", 2)
    assert labels() == {ids[0]: "positive", ids[1]: "negative"}

    r = admin_api.put(f"/api/v1/feedback/{ids[0]}/label", json={"sentiment_label": "mixed"})
    assert r.status_code == 200, r.text
    with db.unit_of_work(readonly=True) as session:
        report = snap.refresh(session)
    assert (report.mode, report.updated) == ("incremental", 1)
    assert labels() == {ids[0]: "mixed", ids[1]: "negative"}
