"""The bulk upsert used by imports: values survive its encoding exactly, on SQLite's JSON path and elsewhere."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select

from cem.db.session import Database
from cem.feedback import bulk
from cem.feedback.models import FeedbackRecord
from cem.hooks.rows import FeedbackRow
from tests.conftest import Workspace

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
TRICKY_TEXTS = [
    'quote " backslash \\ tab \t newline \n end',
    "emoji 😀👍🏽 and ção, ñ, ß, 中文, עברית",
    "\u2028line separator\u2029 and \x01 control",
    "Robert'); DROP TABLE feedback_record;-- <script>alert(1)</script>",
    "x" * 100_000,
]


def row(workspace_id: int, i: int, **changes: Any) -> FeedbackRow:
    base: dict[str, Any] = {
        "workspace_id": workspace_id,
        "source_type": "csv",
        "source_name": "bulk-test",
        "submission_id": f"s{i}",
        "customer_id": None,
        "touchpoint_id": None,
        "collected_at": datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        "field_id": "f",
        "field_label": "Label \"quoted\" 'single'",
        "field_type": "text",
        "value_number": None,
        "value_text": None,
        "value_bool": None,
        "value_date": None,
        "language": "pt-BR",
        "metadata": {"nested": {"list": [1, 2.5, None, True]}, "emoji": "😀"},
    }
    return FeedbackRow(**(base | changes))


def stored(db: Database) -> dict[str, FeedbackRecord]:
    with db.unit_of_work(readonly=True) as session:
        return {r.submission_id: r for r in session.scalars(select(FeedbackRecord))}


def test_every_kind_of_value_round_trips(db: Database, workspace: Workspace) -> None:
    ws = workspace.id
    rows = [row(ws, i, value_text=t) for i, t in enumerate(TRICKY_TEXTS)]
    rows += [
        row(ws, 10, field_type="number", value_number=1e300),
        row(ws, 11, field_type="number", value_number=-1.5e-7),
        row(ws, 12, field_type="nps", value_number=10.0),
        row(ws, 13, field_type="boolean", value_bool=False),
        row(ws, 14, field_type="boolean", value_bool=True),
        row(ws, 15, field_type="date", value_date=date(1999, 12, 31)),
        row(ws, 16, field_type="text", value_text="", metadata={}),
    ]
    with db.unit_of_work() as session:
        assert bulk.upsert_records(session, rows=rows, now=NOW) == len(rows)
    got = stored(db)
    assert len(got) == len(rows)
    for i, text in enumerate(TRICKY_TEXTS):
        assert got[f"s{i}"].value_text == text
        assert got[f"s{i}"].meta == {"nested": {"list": [1, 2.5, None, True]}, "emoji": "😀"}
        assert got[f"s{i}"].field_label == "Label \"quoted\" 'single'"
        assert got[f"s{i}"].collected_at == datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
        assert got[f"s{i}"].language == "pt-BR" and got[f"s{i}"].value_number is None
    assert got["s10"].value_number == 1e300 and got["s11"].value_number == -1.5e-7
    assert got["s12"].value_number == 10.0
    assert got["s13"].value_bool is False and got["s14"].value_bool is True
    assert got["s15"].value_date == date(1999, 12, 31)
    assert got["s16"].value_text == "" and got["s16"].meta == {}
    assert got["s0"].created_at == NOW and got["s0"].updated_at == NOW


def test_resend_updates_and_keeps_customer_and_touchpoint_when_missing(db: Database, workspace: Workspace) -> None:
    ws = workspace.id
    with db.unit_of_work() as session:
        bulk.upsert_records(session, rows=[row(ws, 1, value_text="first", customer_id=None)], now=NOW)
    first = stored(db)["s1"]
    later = datetime(2026, 11, 24, tzinfo=UTC)
    with db.unit_of_work() as session:
        bulk.upsert_records(session, rows=[row(ws, 1, value_text="second")], now=later)
    again = stored(db)["s1"]
    assert again.id == first.id and again.value_text == "second"
    assert again.created_at == NOW and again.updated_at == later


def test_sqlite_batches_with_nul_characters_go_row_by_row() -> None:
    """SQLite's JSON functions stop a text at NUL, so such a batch must not take the JSON path."""
    rows = [row(1, 1, value_text="ok"), row(1, 2, value_text="a\x00b")]
    encoded = bulk.encode_records("sqlite", rows, NOW)
    assert encoded.sqlite_json is None and encoded.sqlite_params is not None
    clean = bulk.encode_records("sqlite", rows[:1], NOW)
    assert clean.sqlite_json is not None and clean.sqlite_params is None
    # The row-by-row statement keeps the text whole (checked on a bare in-memory table of the same columns).
    conn = sqlite3.connect(":memory:")
    conn.execute(f"CREATE TABLE feedback_record ({', '.join(bulk.COLUMNS)}, UNIQUE ({', '.join(bulk.IDENTITY)}))")
    conn.executemany(bulk.SQLITE_UPSERT_ROWS, encoded.sqlite_params)
    texts = [t for (t,) in conn.execute("SELECT value_text FROM feedback_record ORDER BY submission_id")]
    assert texts == ["ok", "a\x00b"]


def test_nul_in_a_text_value_is_a_row_error_not_a_truncated_record(
    tmp_path: Any, db: Database, workspace: Workspace
) -> None:
    from cem.imports.runner import LocalImport, run_local

    path = tmp_path / "nul.ndjson"
    lines = [
        '{"source_type": "api", "source_name": "n", "submission_id": "a", "field_id": "t", "field_type": "text", '
        '"value": "bad\\u0000text"}',
        '{"source_type": "api", "source_name": "n", "submission_id": "b", "field_id": "t", "field_type": "text", '
        '"value": "good"}',
    ]
    path.write_text("\n".join(lines) + "\n")
    out = run_local(db, workspace.principal(), LocalImport(path=path))
    assert (out.counts.ok, out.counts.errors) == (1, 1)
    assert "NUL" in out.counts.first_errors[0]["reason"] and out.counts.first_errors[0]["line"] == 1
    assert {s: r.value_text for s, r in stored(db).items()} == {"b": "good"}
