"""`cem import` through Typer's CliRunner against the test database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cem.cli import app
from cem.config import get_settings
from cem.db.session import Database
from tests.imports.conftest import feedback_count, records


def test_cli_import_summary_errors_csv_and_saved_mapping(cli: CliRunner, tmp_path: Path, db: Database) -> None:
    data = tmp_path / "survey.csv"
    data.write_text("rid|score|note\nr1|10|good\nr2|x|bad\nr3|11|ugly\n", encoding="utf-8")
    mapping = tmp_path / "m.json"
    mapping.write_text(
        json.dumps(
            {
                "submission_id": "rid",
                "fields": [{"column": "score", "field_type": "nps"}, {"column": "note", "field_type": "text"}],
            }
        )
    )
    errors = tmp_path / "errors.csv"
    args = [
        "import",
        str(data),
        "--workspace",
        "acme",
        "--mapping-file",
        str(mapping),
        "--save-mapping",
        "pipes",
        "--errors-csv",
        str(errors),
    ]
    result = cli.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "3 rows read, 1 stored, 2 rejected" in result.output
    assert "line 3, column score: 'x' is not a number" in result.output
    assert errors.read_text().splitlines()[1:] == [
        "3,score,'x' is not a number,x",
        "4,score,a nps value must be between 0 and 10,11",
    ]
    assert feedback_count(db) == 2
    again = cli.invoke(app, ["import", str(data), "--workspace", "acme", "--mapping", "pipes"])
    assert again.exit_code == 0 and "1 stored" in again.output
    assert feedback_count(db) == 2


def test_cli_default_mapping_is_explained(cli: CliRunner, tmp_path: Path, db: Database) -> None:
    data = tmp_path / "d.csv"
    data.write_text("submission_id,email,nps,comment\ns1,a@example.com,7,ok\n")
    result = cli.invoke(app, ["import", str(data), "--workspace", "acme"])
    assert result.exit_code == 0, result.output
    assert "default mapping: submission_id <- 'submission_id'; customer email <- 'email'" in result.output
    assert len(records(db)) == 2


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (b"submission_id,comment\ns1,caf\xe9\n", [], "not valid UTF-8 at byte 28 (line 2)"),
        (b"", [], "The file is empty."),
        (b"a,b\n1,2\n", ["--mapping", "nope"], "No saved mapping is named 'nope'"),
        (b"a,b\n1,2\n", ["--workspace", "ghost"], "Workspace 'ghost' does not exist"),
    ],
)
def test_cli_file_level_errors_exit_non_zero(
    cli: CliRunner, tmp_path: Path, db: Database, content: bytes, args: list[str], message: str
) -> None:
    data = tmp_path / "bad.csv"
    data.write_bytes(content)
    result = cli.invoke(app, ["import", str(data), "--workspace", "acme", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert feedback_count(db) == 0


def test_cli_missing_file(cli: CliRunner, tmp_path: Path) -> None:
    result = cli.invoke(app, ["import", str(tmp_path / "nope.csv"), "--workspace", "acme"])
    assert result.exit_code == 2 and "File not found" in result.output


def test_a_missing_workspace_says_which_exist_and_how_to_create_one(cli: CliRunner, tmp_path: Path) -> None:
    data = tmp_path / "f.csv"
    data.write_text("submission_id,nps\ns1,9\n")
    for command in (["import", str(data)], ["user", "token", "--name", "ci"]):
        result = cli.invoke(app, [*command, "--workspace", "ghost"])
        assert result.exit_code == 2, result.output
        assert "Workspaces in this store: acme (pass --workspace)." in result.output
        assert "cem user create --email you@example.com --workspace ghost" in result.output


def test_a_fresh_store_says_it_has_no_workspace_yet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CEM_DATA_DIR", str(tmp_path / "fresh"))
    monkeypatch.setenv("CEM_DATABASE_URL", "")  # the embedded default, as on a new machine
    get_settings.cache_clear()
    try:
        data = tmp_path / "f.csv"
        data.write_text("submission_id,nps\ns1,9\n")
        result = CliRunner().invoke(app, ["import", str(data)])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2, result.output
    assert "Workspace 'default' does not exist. This store has no workspace yet." in result.output
    assert "cem user create --email you@example.com --workspace default" in result.output
