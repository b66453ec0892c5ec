"""Formula injection: every CSV / XLSX that cem writes turns formula-like text into plain text (issue 12, item 4).

Each export path gets payloads a spreadsheet would run (`=HYPERLINK`, `+1`, `-2+3`, `@SUM`, tab- and CR-led)
and must write them with a leading quote, while genuine numbers stay numbers; XLSX files must hold no formula.
"""

from __future__ import annotations

import ast
import csv
import io
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from typer.testing import CliRunner

import cem
from cem.cli import app
from cem.db.session import Database
from cem.exports_safety import FORMULA_TRIGGERS, SafeDictWriter, csv_writer, neutralise
from cem.jobs.worker import Worker
from tests.analytics.dashboards.seed import nps_values, records, store
from tests.conftest import Workspace

PAYLOADS = ['=HYPERLINK("http://x","y")', "+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]
# Names are stripped of surrounding whitespace on input, so the tab/CR payloads cannot be names.
NAME_PAYLOADS = PAYLOADS[:4]
MARCH = date(2026, 3, 1)


def quoted(payload: str) -> str:
    return "'" + payload


def is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def assert_no_live_cell(rows: Iterable[Iterable[Any]]) -> None:
    """No text cell starts like a formula (a CSV cell holding a plain number such as -1.5 is a number)."""
    live = [
        c for row in rows for c in row if isinstance(c, str) and c.startswith(FORMULA_TRIGGERS) and not is_number(c)
    ]
    assert not live, f"cells a spreadsheet would run: {live!r}"


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def xlsx_rows(content: bytes) -> list[tuple[Any, ...]]:
    """The cells' values, after checking that no cell of any sheet is a formula."""
    book = load_workbook(io.BytesIO(content))
    formulas = [
        c.coordinate for sheet in book.worksheets for row in sheet.iter_rows() for c in row if c.data_type == "f"
    ]
    assert not formulas, f"formula cells: {formulas}"
    sheet = book.active
    assert sheet is not None
    return list(sheet.iter_rows(values_only=True))


def test_the_helper_quotes_text_and_keeps_numbers() -> None:
    assert [neutralise(p) for p in PAYLOADS] == [quoted(p) for p in PAYLOADS]
    assert [neutralise(v) for v in (-5, -2.5, 0, True, None, "plain", "a=b", "'=already")] == [
        -5,
        -2.5,
        0,
        True,
        None,
        "plain",
        "a=b",
        "'=already",
    ]
    buffer = io.StringIO()
    csv_writer(buffer).writerows([PAYLOADS, [-5, 1.5, None]])
    rows = csv_rows(buffer.getvalue())
    assert rows == [[quoted(p) for p in PAYLOADS], ["-5", "1.5", ""]]
    buffer = io.StringIO()
    writer = SafeDictWriter(buffer, fieldnames=["=head", "n"])
    writer.writeheader()
    writer.writerows([{"=head": p, "n": -1} for p in PAYLOADS])
    rows = csv_rows(buffer.getvalue())
    assert rows[0] == ["'=head", "n"] and [r[0] for r in rows[1:]] == [quoted(p) for p in PAYLOADS]
    assert {r[1] for r in rows[1:]} == {"-1"}


def test_feedback_csv_export(admin_api: TestClient) -> None:
    items = [
        {
            "source_type": "api",
            "source_name": NAME_PAYLOADS[n % len(NAME_PAYLOADS)],
            "submission_id": f"s{n}",
            "field_id": "comment",
            "field_type": "text",
            "value": payload,
        }
        for n, payload in enumerate(PAYLOADS)
    ]
    items.append(
        {"source_type": "api", "source_name": "n", "submission_id": "num", "field_id": "x", "field_type": "number"}
        | {"value": -5}
    )
    assert admin_api.post("/api/v1/feedback/bulk", json=items).status_code == 200
    r = admin_api.get("/api/v1/feedback/export.csv")
    assert r.status_code == 200
    rows = csv_rows(r.text)
    header, body = rows[0], rows[1:]
    assert_no_live_cell(body)
    value, source = header.index("value"), header.index("source_name")
    assert sorted(row[value] for row in body) == sorted([quoted(p) for p in PAYLOADS] + ["-5"])
    assert {row[source] for row in body} == {quoted(p) for p in NAME_PAYLOADS} | {"n"}


def _payload_csv() -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["submission_id", "nps"])
    writer.writerows([f"s{n}", payload] for n, payload in enumerate(PAYLOADS))
    writer.writerow(["ok", "9"])
    return buffer.getvalue()


def test_import_errors_csv_over_the_api(admin_api: TestClient, db: Database) -> None:
    run = admin_api.post("/api/v1/imports", files={"file": ("f.csv", _payload_csv(), "text/csv")}).json()
    Worker(db).run_until_idle()
    done = admin_api.get(f"/api/v1/imports/{run['id']}").json()
    # "+1" is a valid score (stored as the number 1); every other payload is rejected with its value.
    assert (done["status"], done["ok_rows"], done["error_rows"]) == ("done", 2, len(PAYLOADS) - 1)
    rows = csv_rows(admin_api.get(f"/api/v1/imports/{run['id']}/errors.csv").text)
    assert rows[0] == ["line", "column", "reason", "value"]
    assert_no_live_cell(rows[1:])
    values = [row[3] for row in rows[1:]]
    assert values and all(v.startswith("'") for v in values)
    assert quoted('=HYPERLINK("http://x","y")') in values and quoted("-2+3") in values


def test_import_errors_csv_from_the_cli(cli: CliRunner, tmp_path: Path) -> None:
    source = tmp_path / "f.csv"
    source.write_text(_payload_csv(), encoding="utf-8")
    report = tmp_path / "errors.csv"
    result = cli.invoke(app, ["import", str(source), "--workspace", "acme", "--errors-csv", str(report)])
    assert result.exit_code == 0, result.output
    rows = csv_rows(report.read_text(encoding="utf-8"))
    assert len(rows) == len(PAYLOADS)  # header + every payload but "+1"
    assert_no_live_cell(rows[1:])
    assert quoted("@SUM(A1)") in [row[3] for row in rows[1:]]


@pytest.fixture
def payload_sources(db: Database, workspace: Workspace) -> Workspace:
    """NPS answers from sources whose names are formula payloads (40 each, above the minimum n)."""
    items = [r for name in NAME_PAYLOADS for r in records("nps", nps_values(20, 10, 10), MARCH, source=name)]
    store(db, workspace, items)
    return workspace


def test_dashboard_widget_csv_and_xlsx(payload_sources: Workspace, api: Callable[..., TestClient]) -> None:
    analyst = api("analyst")
    widget = {"metric": "nps", "chart": "table", "group_by": ["source_name"]}
    dash = analyst.post("/api/v1/dashboards", json={"name": "S", "widgets": [widget]}).json()
    url = f"/api/v1/dashboards/{dash['id']}/widgets/{dash['widgets'][0]['id']}/export"
    rows = csv_rows(analyst.get(url).text)
    assert_no_live_cell(rows)
    assert sorted(row[0] for row in rows[1:]) == sorted(quoted(p) for p in NAME_PAYLOADS)
    assert {float(row[1]) for row in rows[1:]} == {25.0}  # numbers stay numbers: (20 - 10) / 40
    xrows = xlsx_rows(analyst.get(url, params={"format": "xlsx"}).content)
    assert_no_live_cell(xrows)
    assert sorted(row[0] for row in xrows[1:]) == sorted(quoted(p) for p in NAME_PAYLOADS)
    assert {row[1] for row in xrows[1:]} == {25.0}


def test_metrics_csv_from_the_cli(cli: CliRunner, payload_sources: Workspace) -> None:
    result = cli.invoke(app, ["metrics", "nps", "--workspace", "acme", "--by", "source_name", "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = csv_rows(result.stdout)
    assert_no_live_cell(rows)
    assert sorted(row[0] for row in rows[1:]) == sorted(quoted(p) for p in NAME_PAYLOADS)


def test_no_writer_bypasses_the_guard() -> None:
    """`csv.writer` / `csv.DictWriter` are built only inside cem/exports_safety.py; XLSX writers import the guard."""
    src = Path(cem.__file__).resolve().parent
    raw_writers, unguarded_xlsx = [], []
    for path in sorted(src.rglob("*.py")):
        rel = path.relative_to(src).as_posix()
        text = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(text)):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("writer", "DictWriter")
                and isinstance(node.value, ast.Name)
                and node.value.id == "csv"
                and rel != "exports_safety.py"
            ):
                raw_writers.append(f"{rel}:{node.lineno}")
        if "from openpyxl import Workbook" in text and "neutralise_row" not in text:
            unguarded_xlsx.append(rel)
    assert not raw_writers, f"use cem.exports_safety.csv_writer / SafeDictWriter instead: {raw_writers}"
    assert not unguarded_xlsx, f"XLSX writers must append rows through neutralise_row: {unguarded_xlsx}"
