"""Per-row context (channel, agent, team, touchpoint, language, collected_at from a column or a constant) and stable
row keys for files without an id column, on real public exports: NYC 311 requests (a channel per row, the agency
that handled each one) and Olist reviews imported without their id column."""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from cem.cli import app
from cem.db.session import Database
from cem.feedback.models import FeedbackRecord
from cem.feedback.row_keys import PREFIX
from cem.feedback.schemas import normal_channel
from cem.imports.runner import Outcome
from tests.imports.conftest import feedback_count, records

NYC311 = Path(__file__).parents[1] / "fixtures" / "nyc311" / "service_requests_sample.csv"
MAPPING_311: dict[str, Any] = {
    "source_type": "ticket",
    "source_name": "nyc311",
    "submission_id": "Unique Key",
    "collected_at": "Created Date",
    "collected_at_format": "%m/%d/%Y %I:%M:%S %p",
    "channel": "Open Data Channel Type",
    "team": "Agency",
    "language_value": "en",
    "fields": [
        {"column": "Complaint Type", "field_id": "complaint", "field_type": "choice"},
        {"column": "Resolution Description", "field_id": "resolution", "field_type": "text"},
    ],
}
Run = Callable[..., Outcome]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _metric(client: TestClient, **params: str) -> dict[tuple[str | None, ...], int]:
    r = client.get("/api/v1/metrics", params={"metric": "feedback_volume", **params})
    assert r.status_code == 200, r.text
    return {tuple(row["segment"].values()): row["n"] for row in r.json()["rows"]}


def test_311_channel_per_row_groups_metrics_by_channel_and_team(
    run_import: Run, db: Database, admin_api: TestClient
) -> None:
    rows = _rows(NYC311)
    out = run_import(NYC311, mapping=MAPPING_311)
    assert (out.counts.ok, out.counts.errors) == (len(rows), 0)
    expected_channels = Counter(row["Open Data Channel Type"].lower() for row in rows for _ in range(2))
    assert set(expected_channels) == {"phone", "online", "mobile", "unknown"}  # ONLINE / MOBILE / PHONE per row
    stored = records(db)
    assert Counter(r.channel for r in stored) == expected_channels
    assert Counter(r.team for r in stored) == Counter(row["Agency"] for row in rows for _ in range(2))
    assert {r.agent for r in stored} == {None} and {r.language for r in stored} == {"en"}
    by_channel = _metric(admin_api, group_by="channel")
    assert by_channel == {(channel,): n for channel, n in expected_channels.items()}
    by_team = _metric(admin_api, group_by="team", filters="channel=phone")
    phone_teams = Counter(row["Agency"] for row in rows if row["Open Data Channel Type"] == "PHONE")
    assert by_team == {(team,): 2 * n for team, n in phone_teams.items()}
    # the explorer API filters by the same channel
    listed = admin_api.get("/api/v1/feedback", params={"channel": "Mobile", "limit": 50}).json()["items"]
    assert {(r["submission_id"], r["channel"], r["team"]) for r in listed} == {("33913755", "mobile", "NYPD")}


def test_channel_without_its_own_value_falls_back_to_the_source_type(
    run_import: Run, write: Callable[..., Path], admin_api: TestClient
) -> None:
    path = write("id,score,via,who\nt1,4,Phone,ana\nt2,5,,bo\nt3,2,E-Mail,\n")
    mapping = {
        "source_type": "ticket",
        "submission_id": "id",
        "channel": "via",
        "agent": "who",
        "team_value": "Care Desk",
        "fields": [{"column": "score", "field_type": "rating"}],
    }
    assert run_import(path, mapping=mapping).counts.ok == 3
    assert _metric(admin_api, group_by="channel") == {("phone",): 1, ("ticket",): 1, ("e-mail",): 1}
    assert _metric(admin_api, group_by="agent") == {("ana",): 1, ("bo",): 1, (None,): 1}
    assert _metric(admin_api, group_by="team", filters="agent=bo") == {("Care Desk",): 1}
    assert _metric(admin_api, group_by="source_type") == {("ticket",): 3}


def test_every_context_value_can_be_a_constant(run_import: Run, write: Callable[..., Path], db: Database) -> None:
    path = write("id,score\nr1,4\n")
    mapping = {
        "submission_id": "id",
        "channel_value": "In Store",
        "agent_value": "kiosk-7",
        "team_value": "Lisbon",
        "language_value": "pt",
        "collected_at_value": "2024-03-01T09:30:00+01:00",
        "fields": [{"column": "score", "field_type": "csat"}],
    }
    assert run_import(path, mapping=mapping).counts.ok == 1
    (record,) = records(db)
    assert (record.channel, record.agent, record.team, record.language) == ("in-store", "kiosk-7", "Lisbon", "pt")
    assert record.collected_at.isoformat() == "2024-03-01T08:30:00+00:00"


def test_bad_context_cells_are_row_errors(run_import: Run, write: Callable[..., Path], db: Database) -> None:
    long_agent = "a" * 201
    path = write(f"id,score,via,who\nr1,4,---,x\nr2,4,web,{long_agent}\nr3,5,web,ok\n")
    mapping = {
        "submission_id": "id",
        "channel": "via",
        "agent": "who",
        "fields": [{"column": "score", "field_type": "csat"}],
    }
    out = run_import(path, mapping=mapping)
    assert (out.counts.ok, out.counts.errors) == (1, 2)
    first, second = out.counts.first_errors
    assert (first["line"], first["column"], first["value"]) == (2, "via", "---")
    assert "needs a letter or digit" in first["reason"]
    assert (second["line"], second["column"]) == (3, "who") and "200 characters" in second["reason"]
    assert [r.submission_id for r in records(db)] == ["r3"]


# -- stable row keys -----------------------------------------------------------------------------------------------

OLIST = ("olist-ecommerce-subset", "olist_order_reviews_dataset.csv")
REVIEW_FIELDS = [
    {"column": "review_score", "field_id": "score", "field_type": "rating"},
    {"column": "review_comment_message", "field_id": "comment", "field_type": "text"},
]


def _submissions(db: Database) -> int:
    with db.unit_of_work(readonly=True) as session:
        return int(session.scalar(select(func.count(func.distinct(FeedbackRecord.submission_id)))) or 0)


@pytest.mark.parametrize(
    "row_key",
    [["order_id", "review_creation_date", "review_answer_timestamp"], "content"],
    ids=["columns", "content"],
)
def test_review_export_without_id_imports_twice_without_duplicates(
    run_import: Run, db: Database, shared_data: Path, row_key: list[str] | str
) -> None:
    path = shared_data.joinpath(*OLIST)
    rows = _rows(path)
    names = list(rows[0]) if row_key == "content" else row_key
    distinct = {tuple(row[c].strip() for c in names) for row in rows}
    mapping = {
        "source_type": "review",
        "source_name": "olist",
        "row_key": row_key,
        "collected_at": "review_creation_date",
        "channel_value": "web",
        "fields": REVIEW_FIELDS,
    }
    first = run_import(path, mapping=mapping)
    assert first.counts.processed == len(rows)
    assert first.counts.ok == len(distinct)  # repeated keys within the file are reported, not stored twice
    assert all("already seen" in e["reason"] for e in first.counts.first_errors)
    stored = feedback_count(db)
    before = {(r.submission_id, r.field_id): r.id for r in records(db)}
    assert _submissions(db) == len(distinct)
    assert all(sub.startswith(PREFIX) and len(sub) == len(PREFIX) + 32 for sub, _f in before)

    second = run_import(path, mapping=mapping)
    assert second.counts.ok == first.counts.ok
    assert feedback_count(db) == stored  # the same records, updated in place
    assert {(r.submission_id, r.field_id): r.id for r in records(db)} == before


def test_editing_a_keyed_cell_makes_a_new_record(run_import: Run, write: Callable[..., Path], db: Database) -> None:
    mapping = {"row_key": ["author", "date"], "fields": [{"column": "stars", "field_type": "rating"}]}
    run_import(write("author,date,stars\nAna,2024-01-02,4\nBo,2024-01-03,5\n"), mapping=mapping)
    first = {r.submission_id: r.value_number for r in records(db)}
    # a changed score keeps the record; a corrected author is another row key, so another record
    run_import(write("author,date,stars\nAna,2024-01-02,3\nBob,2024-01-03,5\n"), mapping=mapping)
    second = {r.submission_id: r.value_number for r in records(db)}
    assert len(first) == 2 and len(second) == 3
    ana = next(sub for sub, v in first.items() if v == 4)
    assert second[ana] == 3


def test_row_key_cells_all_empty_are_a_row_error(run_import: Run, write: Callable[..., Path]) -> None:
    path = write("author,date,stars\n,,4\nAna,,5\n")
    out = run_import(
        path, mapping={"row_key": ["author", "date"], "fields": [{"column": "stars", "field_type": "rating"}]}
    )
    assert (out.counts.ok, out.counts.errors) == (1, 1)
    assert out.counts.first_errors[0]["column"] == "author, date"
    assert "row key" in out.counts.first_errors[0]["reason"]


def test_row_keys_do_not_collide_by_concatenation() -> None:
    from cem.feedback.row_keys import row_key_id

    assert row_key_id(["a|b", "c"]) != row_key_id(["a", "b|c"])
    assert row_key_id(["ab", ""]) != row_key_id(["a", "b"])
    assert row_key_id(["x", "y"]) == row_key_id(["x", "y"])


# -- bad mappings: located errors, nothing stored --------------------------------------------------------------------

CSV = "id,score,via,who\nr1,4,web,ana\n"
FIELDS = [{"column": "score", "field_type": "csat"}]
BAD_MAPPINGS = [
    ({"submission_id": "id", "channel": "via", "channel_value": "web", "fields": FIELDS}, ["mapping", "channel_value"]),
    ({"submission_id": "id", "agent": "who", "agent_value": "ana", "fields": FIELDS}, ["mapping", "agent_value"]),
    (
        {"submission_id": "id", "touchpoint": "via", "touchpoint_key": "web", "fields": FIELDS},
        ["mapping", "touchpoint_key"],
    ),
    (
        {"submission_id": "id", "language": "via", "language_value": "en", "fields": FIELDS},
        ["mapping", "language_value"],
    ),
    (
        {"submission_id": "id", "collected_at": "via", "collected_at_value": "2024-01-01", "fields": FIELDS},
        ["mapping", "collected_at_value"],
    ),
    (
        {"submission_id": "id", "collected_at_value": "last tuesday", "fields": FIELDS},
        ["mapping", "collected_at_value"],
    ),
    ({"submission_id": "id", "row_key": ["who"], "fields": FIELDS}, ["mapping", "row_key"]),
    ({"row_key": [], "fields": FIELDS}, ["mapping", "row_key"]),
    ({"row_key": "whole row", "fields": FIELDS}, ["mapping", "row_key"]),
    ({"row_key": ["id", " "], "fields": FIELDS}, ["mapping", "row_key", "names", 1]),
    ({"fields": FIELDS}, ["mapping"]),
    ({"row_key": ["id", "author"], "fields": FIELDS}, ["file", "header"]),
]


@pytest.mark.parametrize(("mapping", "loc"), BAD_MAPPINGS)
def test_bad_mappings_are_located_and_store_nothing(
    admin_api: TestClient, db: Database, mapping: dict[str, Any], loc: list[str]
) -> None:
    r = admin_api.post(
        "/api/v1/imports", files={"file": ("f.csv", CSV, "text/csv")}, data={"mapping": json.dumps(mapping)}
    )
    assert r.status_code in (400, 422), r.text
    body = r.json()
    assert set(body) == {"error", "detail", "status", "errors"}
    assert body["errors"][0]["loc"] == loc, body
    if loc == ["file", "header"]:
        assert "no column named 'author'" in body["errors"][0]["msg"]
    assert admin_api.get("/api/v1/imports").json() == []
    assert feedback_count(db) == 0


def test_channel_keys_are_short_and_lowercase() -> None:
    assert [normal_channel(v) for v in ("ONLINE", " Phone ", "Walk_In", "e-mail", "Web / App")] == [
        "online",
        "phone",
        "walk-in",
        "e-mail",
        "web-app",
    ]
    for bad in ("", "--", "x" * 65):
        with pytest.raises(ValueError):
            normal_channel(bad)


def test_cli_import_then_metrics_by_channel(cli: CliRunner, tmp_path: Path) -> None:
    """The path a user takes: `cem import` with a mapping file, then `cem metrics --by channel`."""
    mapping = tmp_path / "311.json"
    mapping.write_text(json.dumps(MAPPING_311), encoding="utf-8")
    imported = cli.invoke(app, ["import", str(NYC311), "--workspace", "acme", "--mapping-file", str(mapping)])
    assert imported.exit_code == 0, imported.output
    args = ["metrics", "feedback_volume", "--workspace", "acme", "--by", "channel", "--format", "json"]
    out = cli.invoke(app, args)
    assert out.exit_code == 0, out.output
    counts = {row["segment"]["channel"]: row["n"] for row in json.loads(out.output)["rows"]}
    rows = _rows(NYC311)
    assert counts == dict(Counter(row["Open Data Channel Type"].lower() for row in rows for _ in range(2)))
