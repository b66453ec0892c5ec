"""Any table or chart of the dashboards as a CSV or XLSX file (the numbers behind a chart are its table)."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from openpyxl import Workbook
from openpyxl.styles import Font

from cem.analytics.dashboards.schemas import ExportFormat, Overview
from cem.analytics.schemas import MetricResult
from cem.errors import InvalidInput
from cem.exports_safety import csv_writer, neutralise_row

Cell = str | int | float | bool | None
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
OVERVIEW_TABLES = ("tiles", "trends", "movers")


@dataclass
class Table:
    name: str  # also the file name and the sheet title
    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)


def metric_table(result: MetricResult, name: str | None = None) -> Table:
    """A metric answer: one row per bucket x segment; comparison columns only when it was compared."""
    columns = ["bucket"] if result.interval else []
    columns += [*result.group_by, "value", "lower", "upper", "n", "status"]
    compared = ["previous", "previous_n", "change", "p_value", "q_value", "significant"]
    if result.compare_to:
        columns += compared
    table = Table(name=name or result.metric, columns=columns)
    for row in result.rows:
        cells: list[Cell] = [row.bucket] if result.interval else []
        cells += [row.segment.get(g) for g in result.group_by]
        cells += [row.value, row.lower, row.upper, row.n, row.status]
        if result.compare_to:
            cells += [row.previous, row.previous_n, row.change, row.p_value, row.q_value, row.significant]
        table.rows.append(cells)
    return table


def check_overview_table(which: str) -> None:
    if which not in OVERVIEW_TABLES:
        raise InvalidInput(f"Unknown overview table {which!r}; use one of: {', '.join(OVERVIEW_TABLES)}.")


def overview_table(data: Overview, which: str) -> Table:
    """One of the overview's tables: the headline tiles, the trend series, or the top movers."""
    if which == "tiles":
        cols = ["metric", "label", "bucket", "value", "lower", "upper", "n", "status", "previous", "change", "p_value"]
        cols.append("significant")
        return Table("overview-tiles", cols, [[getattr(t, c) for c in cols] for t in data.tiles])
    if which == "trends":
        cols = ["metric", "bucket", "value", "lower", "upper", "n", "status"]
        rows: list[list[Cell]] = [
            [trend.metric, r.bucket, r.value, r.lower, r.upper, r.n, r.status]
            for trend in data.trends
            for r in trend.rows
        ]
        return Table("overview-trends", cols, rows)
    if which == "movers":
        cols = ["metric", "dimension", "segment", "value", "previous", "change", "n", "previous_n", "p_value"]
        cols += ["q_value", "significant"]
        return Table("overview-movers", cols, [[getattr(m, c) for c in cols] for m in data.movers])
    check_overview_table(which)
    raise AssertionError("unreachable")


def to_csv(table: Table) -> bytes:
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(table.columns)
    writer.writerows(table.rows)
    return out.getvalue().encode("utf-8")


def to_xlsx(table: Table) -> bytes:
    """One sheet, bold header, numbers stored as numbers (so a spreadsheet can chart them again)."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook always has one sheet
    sheet.title = table.name[:31]  # Excel's limit on sheet names
    sheet.append(neutralise_row(table.columns))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in table.rows:
        sheet.append(neutralise_row(row))
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def render(table: Table, fmt: ExportFormat) -> tuple[bytes, str, str]:
    """(content, media type, file name)."""
    content = to_csv(table) if fmt == "csv" else to_xlsx(table)
    return content, MEDIA_TYPES[fmt], f"{table.name}.{fmt}"
