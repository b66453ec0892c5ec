from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from cem.auth.models import AuditLog
from cem.cli import app
from cem.config import Settings, get_settings
from cem.db.session import Database
from tests.privacy.conftest import ANN, JOANN, People, traces


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """A runner whose commands open the test database."""
    monkeypatch.setenv("CEM_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("CEM_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CEM_ENV", "test")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_export_to_stdout_and_file(cli: CliRunner, people: People, tmp_path: Path) -> None:
    r = cli.invoke(app, ["privacy", "export", "--email", ANN])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert [c["email"] for c in data["tables"]["customer"]] == [ANN]
    out = tmp_path / "ann.json"
    r = cli.invoke(app, ["privacy", "export", "--email", ANN, "--workspace", "acme", "--output", str(out)])
    assert r.exit_code == 0, r.output
    assert json.loads(out.read_text())["tables"]["app_user"][0]["email"] == ANN


def test_erase_needs_yes_then_erases(cli: CliRunner, db: Database, people: People) -> None:
    r = cli.invoke(app, ["privacy", "erase", "--email", ANN])
    assert r.exit_code == 2
    assert "--yes" in r.stderr
    assert traces(db, ANN)
    r = cli.invoke(app, ["privacy", "erase", "--email", ANN, "--yes"])
    assert r.exit_code == 0, r.output
    assert "1 customer" in r.stdout
    assert traces(db, ANN) == {}
    assert traces(db, JOANN)
    with db.unit_of_work(readonly=True) as session:
        entry = session.scalars(select(AuditLog).where(AuditLog.action == "privacy.erase")).one()
    assert entry.actor_type == "cli" and entry.workspace_id is None


def test_bad_arguments_are_readable(cli: CliRunner, people: People) -> None:
    r = cli.invoke(app, ["privacy", "erase", "--email", "nobody", "--yes"])
    assert r.exit_code == 2 and "not an email address" in r.stderr
    r = cli.invoke(app, ["privacy", "export", "--email", ANN, "--workspace", "nope"])
    assert r.exit_code == 2 and "Workspace 'nope' does not exist" in r.stderr
