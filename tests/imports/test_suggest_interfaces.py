"""`cem import FILE --suggest-mapping`, `cem import --help` and `POST /api/v1/imports/suggest-mapping`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cem.cli import app
from cem.config import Settings
from cem.db.session import Database
from tests.imports.conftest import feedback_count
from tests.imports.test_suggest import REVIEW_SCORE

REVIEWS = Path("olist-ecommerce-subset") / "olist_order_reviews_dataset.csv"


def test_cli_prints_the_mapping_as_json_and_notes_on_stderr(cli: CliRunner, shared_data: Path, db: Database) -> None:
    result = cli.invoke(app, ["import", str(shared_data / REVIEWS), "--suggest-mapping"])
    assert result.exit_code == 0, result.output
    mapping = json.loads(result.stdout)  # stdout is only the mapping, ready for `> mapping.json`
    assert mapping["row_key"] == ["review_id", "order_id"]
    assert mapping["fields"][0] == REVIEW_SCORE
    assert "Guessed from the first 1000 rows." in result.stderr
    assert "  review_score: integer, 5 distinct, 0 empty ('1', '5', '3')" in result.stderr
    assert "Note: review_score: rating scale 1-5 assumed" in result.stderr
    assert "pass it back with --mapping-file" in result.stderr
    assert feedback_count(db) == 0  # a suggestion imports nothing


def test_cli_suggestion_for_customers(cli: CliRunner, shared_data: Path) -> None:
    path = shared_data / "telco-churn" / "WA_Fn-UseC_-Telco-Customer-Churn.csv"
    result = cli.invoke(app, ["import", str(path), "--suggest-mapping", "--target", "customers"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["external_id"] == "customerID"


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (b"", [], "Error: The file is empty."),
        (b"id,score\n", [], "Error: The file has a header but no data rows."),
        (b"id,score\n1,5\n", ["--target", "orders"], "Error: Unknown import target 'orders'"),
        (b"id,comment\n1,caf\xe9\n", [], "Error: The file is not valid UTF-8 at byte 16 (line 2)"),
        (b"id,score\n1,5\n", ["--mapping", "saved"], "Error: --suggest-mapping guesses a mapping and imports nothing"),
    ],
)
def test_cli_bad_input(cli: CliRunner, tmp_path: Path, content: bytes, args: list[str], message: str) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(content)
    result = cli.invoke(app, ["import", str(path), "--suggest-mapping", *args])
    assert result.exit_code == 2 and message in result.stderr and result.stdout == ""


def test_import_help_documents_the_mapping_per_target(cli: CliRunner) -> None:
    text = cli.invoke(app, ["import", "--help"]).stdout
    assert "cem import FILE --suggest-mapping > mapping.json" in text
    assert "cem import FILE --mapping-file mapping.json" in text
    for heading in ("feedback (one record per field per row):", "customers (one customer per row", "events (one"):
        assert heading in text
    for key in ("row_key", "collected_at_format", "channel_value", "agent_value", "team_value", "touchpoint_key"):
        assert key in text
    assert '"scale_min": 1, "scale_max": 5' in text and '"occurred_at": "order_purchase_timestamp"' in text


def upload(client: TestClient, content: bytes, name: str = "f.csv", **data: str) -> object:
    return client.post("/api/v1/imports/suggest-mapping", files={"file": (name, content, "text/csv")}, data=data)


def uploads(settings: Settings) -> set[Path]:
    """The files waiting in the upload folder (other tests' queued runs leave theirs)."""
    return set((settings.data_dir / "imports").glob("*"))


def test_api_suggests_a_mapping(admin_api: TestClient, shared_data: Path, settings: Settings) -> None:
    before = uploads(settings)
    r = upload(admin_api, (shared_data / REVIEWS).read_bytes(), name="Olist reviews.csv")
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    body = r.json()  # type: ignore[attr-defined]
    assert set(body) == {"target", "sample_rows", "mapping", "columns", "notes"}
    assert body["mapping"]["source_name"] == "Olist-reviews"  # from the uploaded name, not the stored one
    assert body["mapping"]["collected_at"] == "review_answer_timestamp"
    assert body["columns"][2] == {
        "name": "review_score",
        "guessed_type": "integer",
        "examples": ["1", "5", "3"],
        "distinct": 5,
        "empty": 0,
    }
    assert any(n.startswith("review_score: rating scale 1-5 assumed") for n in body["notes"])
    events = upload(admin_api, b"customer_id,event_type,ts\nc1,visit,2024-05-01\nc2,buy,2024-05-02\n", target="events")
    assert events.json()["mapping"] == {  # type: ignore[attr-defined]
        "customer": {"external_id": "customer_id"},
        "type": "event_type",
        "occurred_at": "ts",
        "properties": [],
    }
    assert uploads(settings) == before  # the upload is not kept


@pytest.mark.parametrize(
    ("content", "data", "status", "message"),
    [
        (b"", {}, 422, "The file is empty."),
        (b"id,score\n", {}, 422, "The file has a header but no data rows."),
        (b"id,score\n1,5\n", {"target": "orders"}, 422, "Unknown import target 'orders'"),
        (b"id;comment\n1;caf\xe9\n", {}, 422, "not valid UTF-8"),
        (b"id,score\n1,5\n", {"delimiter": "x"}, 422, "Unsupported delimiter"),
    ],
)
def test_api_bad_input_has_the_one_error_shape(
    admin_api: TestClient, settings: Settings, content: bytes, data: dict[str, str], status: int, message: str
) -> None:
    before = uploads(settings)
    r = upload(admin_api, content, **data)
    body = r.json()  # type: ignore[attr-defined]
    assert r.status_code == status, body  # type: ignore[attr-defined]
    assert set(body) == {"error", "detail", "status", "errors"} and message in body["detail"]
    assert uploads(settings) == before


def test_cli_shows_hostile_headers_escaped(cli: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("id,\x1b[31mred\x1b[0m rating\n1,4\n2,5\n", encoding="utf-8")
    result = cli.invoke(app, ["import", str(path), "--suggest-mapping"])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stderr and "\\x1b[31mred\\x1b[0m rating: integer" in result.stderr
    assert json.loads(result.stdout)["fields"][0]["column"] == "\x1b[31mred\x1b[0m rating"  # JSON escapes it
