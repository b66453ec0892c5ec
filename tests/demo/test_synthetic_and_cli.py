"""The synthetic fallback, bad data and options, the data-folder lookup, and the `cem demo` command's output."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from statistics import mean

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from cem.auth import credentials
from cem.auth.models import AuditLog, Workspace
from cem.cli import app
from cem.config import Settings, get_settings
from cem.customers.models import Customer, Event
from cem.db.session import Database
from cem.demo import synthetic
from cem.demo.olist import FILES
from cem.demo.service import ADMIN_EMAIL, build_demo
from cem.demo.sources import CsvTable, DemoDataError, resolve_data_dir
from cem.errors import InvalidInput
from cem.feedback.models import FeedbackRecord
from tests.conftest import PASSWORD


def _counts(db: Database) -> tuple[int, int, int]:
    with db.unit_of_work(readonly=True) as session:
        return (
            session.scalar(select(func.count()).select_from(Customer)) or 0,
            session.scalar(select(func.count()).select_from(Event)) or 0,
            session.scalar(select(func.count()).select_from(FeedbackRecord)) or 0,
        )


def test_missing_data_folder_builds_a_synthetic_program_of_the_same_shape(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    lines: list[str] = []
    missing = tmp_path / "no-such-folder"
    build_demo(db, settings=settings, data=missing, password=PASSWORD, progress=lines.append)
    assert f"Data folder {missing} not found" in lines[0]
    first = _counts(db)
    assert first == (552, 1938, 809)  # seeded: the same program on every machine
    with db.unit_of_work(readonly=True) as session:
        sources = set(session.scalars(select(FeedbackRecord.source_name).distinct()))
        languages = set(session.scalars(select(FeedbackRecord.language).where(FeedbackRecord.field_type == "text")))
        scores = session.execute(
            select(FeedbackRecord.value_number, FeedbackRecord.meta).where(FeedbackRecord.field_id == "review_score")
        ).all()
        delivered = session.scalars(select(Event.properties).where(Event.type == "order.delivered")).all()
    assert sources == {"synthetic-shop", "synthetic-social"}
    assert languages == {"pt", "en"}
    assert any(not p["on_time"] for p in delivered) and any(p["on_time"] for p in delivered)
    late = [v for v, m in scores if m["delivered_late"] is True]
    on_time = [v for v, m in scores if m["delivered_late"] is False]
    assert mean(on_time) - mean(late) > 1.5
    build_demo(db, settings=settings, data=missing, password=PASSWORD)
    assert _counts(db) == first


def test_a_single_missing_dataset_is_replaced_and_the_rest_is_real(
    db: Database, settings: Settings, shared_data: Path, tmp_path: Path
) -> None:
    (tmp_path / "telco-churn").symlink_to(shared_data / "telco-churn")
    lines: list[str] = []
    build_demo(db, settings=settings, data=tmp_path, password=PASSWORD, progress=lines.append)
    assert any(line.startswith("olist:") and "synthetic" in line for line in lines)
    assert any(line.startswith("airline tweets:") and "synthetic" in line for line in lines)
    with db.unit_of_work(readonly=True) as session:
        telco = session.scalar(select(func.count()).where(Customer.external_id.like("telco:%")))
    assert telco == 7043


def _write_olist(folder: Path, tables: dict[str, CsvTable]) -> None:
    folder.mkdir(parents=True)
    for key, (name, _) in FILES.items():
        rows = tables[key].rows
        with (folder / name).open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


@pytest.mark.parametrize(
    ("table", "column", "value", "message"),
    [
        ("reviews", "review_score", "9", "olist_order_reviews_dataset.csv line 4: review_score must be"),
        ("orders", "order_purchase_timestamp", "yesterday", "olist_orders_dataset.csv line 4: 'yesterday' is not"),
        ("orders", "order_status", "lost", "olist_orders_dataset.csv line 4: unknown order_status 'lost'"),
        ("reviews", "order_id", "nope", "olist_order_reviews_dataset.csv line 4: order_id 'nope' is not in"),
    ],
)
def test_bad_data_is_reported_with_file_and_line_and_stores_nothing(
    db: Database, settings: Settings, tmp_path: Path, table: str, column: str, value: str, message: str
) -> None:
    tables = vars(synthetic.olist_tables(customers=5, orders=8))
    tables[table].rows[2][column] = value
    _write_olist(tmp_path / "olist-ecommerce-subset", tables)
    with pytest.raises(DemoDataError) as caught:
        build_demo(db, settings=settings, data=tmp_path, password=PASSWORD)
    assert message in caught.value.detail
    assert _counts(db) == (0, 0, 0)
    with db.unit_of_work(readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(Workspace)) == 0


def test_a_missing_column_is_named(db: Database, settings: Settings, tmp_path: Path) -> None:
    tables = vars(synthetic.olist_tables(customers=5, orders=8))
    for row in tables["orders"].rows:
        del row["order_estimated_delivery_date"]
    _write_olist(tmp_path / "olist-ecommerce-subset", tables)
    with pytest.raises(DemoDataError, match="missing column\\(s\\) order_estimated_delivery_date"):
        build_demo(db, settings=settings, data=tmp_path, password=PASSWORD)
    assert _counts(db) == (0, 0, 0)


@pytest.mark.parametrize(
    ("workspace", "password", "message"),
    [("Demo Space", PASSWORD, "is not a workspace slug"), ("demo", "short", "at least 10 characters")],
)
def test_bad_options_are_refused_before_anything_is_written(
    db: Database, settings: Settings, tmp_path: Path, workspace: str, password: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        build_demo(db, settings=settings, data=tmp_path / "none", workspace=workspace, password=password)
    assert _counts(db) == (0, 0, 0)


def test_data_folder_lookup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    given = tmp_path / "given"
    defaults = Settings.model_construct(_fields_set=set(), shared_data_dir=tmp_path / "repo-default-missing")
    assert resolve_data_dir(defaults, given) == given  # --data wins, even when missing (reported later)
    monkeypatch.setenv("CEM_SHARED_DATA_DIR", str(given))
    assert resolve_data_dir(Settings(), None) == given
    # A clone placed elsewhere: `../shared/data` next to the working directory is found.
    (tmp_path / "shared" / "data").mkdir(parents=True)
    (tmp_path / "clone").mkdir()
    monkeypatch.chdir(tmp_path / "clone")
    assert resolve_data_dir(defaults, None) == (tmp_path / "shared" / "data").resolve()
    monkeypatch.chdir(tmp_path)
    assert resolve_data_dir(defaults, None) == (tmp_path / "shared" / "data").resolve()


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point the CLI's own settings at the test database."""
    monkeypatch.setenv("CEM_ENV", "test")
    monkeypatch.setenv("CEM_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("CEM_DATA_DIR", str(settings.data_dir))
    monkeypatch.delenv("CEM_DEMO_PASSWORD", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _password_line(output: str) -> str:
    return next(line for line in output.splitlines() if "Password" in line).split()[-1]


def test_cli_prints_the_login_and_only_resets_the_password_when_asked(
    db: Database, cli_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    monkeypatch.setenv("CEM_DEMO_PASSWORD", PASSWORD)
    first = runner.invoke(app, ["demo", "--data", str(tmp_path / "none")])
    assert first.exit_code == 0, first.output
    assert "not found: building a smaller synthetic program" in first.output
    assert "http://127.0.0.1:8000/login" in first.output
    assert ADMIN_EMAIL in first.output and f"Password   {PASSWORD}" in first.output

    monkeypatch.delenv("CEM_DEMO_PASSWORD")
    second = runner.invoke(app, ["demo", "--data", str(tmp_path / "none")])
    assert second.exit_code == 0, second.output
    assert "already existed; run `cem demo --reset`" in second.output
    _login(db, PASSWORD)

    third = runner.invoke(app, ["demo", "--data", str(tmp_path / "none"), "--reset"])
    assert third.exit_code == 0, third.output
    new_password = _password_line(third.output)
    assert new_password != PASSWORD and len(new_password) >= 10
    _login(db, new_password)
    with db.unit_of_work(readonly=True) as session:
        actions = set(session.scalars(select(AuditLog.action)))
    assert {"user.add", "user.password_reset", "demo.build", "feedback.ingest", "event.ingest"} <= actions


def _login(db: Database, password: str) -> None:
    with db.unit_of_work() as session:
        credentials.login(session, email=ADMIN_EMAIL, password=password, workspace_slug="demo", hours=1)


def test_cli_reports_bad_input_without_a_traceback(db: Database, cli_env: None, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--data", str(tmp_path), "--workspace", "Not A Slug"])
    assert result.exit_code == 2
    assert "is not a workspace slug" in result.output
    assert "Traceback" not in result.output
    assert _counts(db) == (0, 0, 0)
