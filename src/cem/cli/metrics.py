"""`cem metrics`: a metric with its interval and n, as a table, CSV or JSON."""

from __future__ import annotations

import io
import json
from datetime import date
from typing import Any

import typer
from pydantic import ValidationError

from cem.analytics import dimensions, service
from cem.analytics.metrics import METRICS
from cem.analytics.schemas import MIN_N_HELP, MetricQuery, MetricResult, MetricRow
from cem.analytics.stats import DEFAULT_CONFIDENCE, DEFAULT_MIN_N
from cem.cli.app import app, echo, fail, friendly_errors, open_db
from cem.cli.options import Workspace
from cem.cli.workspaces import workspace_named
from cem.exports_safety import csv_writer

FORMATS = ("table", "csv", "json")


@app.command("metrics")
@friendly_errors
def metrics_command(
    metric: str = typer.Argument(..., help=f"Metric slug: {', '.join(METRICS)}."),
    by: list[str] = typer.Option([], "--by", help=f"Group by (repeatable): {dimensions.names_help()}."),
    interval: str = typer.Option(None, help="Time buckets: day, week, month or quarter."),
    filters: list[str] = typer.Option([], "--filter", help="FIELD=VALUE (repeatable)."),
    date_from: str = typer.Option(None, "--from", help="First day (YYYY-MM-DD)."),
    date_to: str = typer.Option(None, "--to", help="Last day (YYYY-MM-DD), inclusive."),
    compare_to: str = typer.Option(None, "--compare-to", help="'previous': each bucket (or range) vs the one before."),
    min_n: int = typer.Option(DEFAULT_MIN_N, "--min-n", help=MIN_N_HELP),
    confidence: float = typer.Option(DEFAULT_CONFIDENCE, help="Confidence level of the intervals."),
    workspace: Workspace = "default",
    engine: str = typer.Option(
        "sql",
        help=(
            "sql (SQL in the operational store), duckdb (DuckDB attached to the store), "
            "spark (the Parquet snapshot, refreshed when stale), or auto."
        ),
    ),
    fmt: str = typer.Option("table", "--format", help="table, csv or json."),
) -> None:
    """Compute a metric with its interval, n and (with --compare-to previous) the change's p-value."""
    if fmt not in FORMATS:
        fail(f"Unknown format {fmt!r}; use table, csv or json.", 2)
    query = _query(
        metric=metric,
        group_by=by,
        interval=interval,
        filters=filters,
        date_from=date_from,
        date_to=date_to,
        compare_to=compare_to,
        min_n=min_n,
        confidence=confidence,
    )
    db = open_db()
    with db.unit_of_work(readonly=True) as session:
        ws = workspace_named(session, workspace)
        # A Spark session lives as long as this command's process: started once, ended with it.
        runner = service.make_engine(session, name=engine, workspace_id=ws.id)
        result = service.compute(session, workspace_id=ws.id, query=query, engine=runner)
    echo({"json": _json, "csv": _csv, "table": _table}[fmt](result))


def _query(**raw: Any) -> MetricQuery:
    """The metric query from the options; a bad value fails naming its option."""
    try:
        return MetricQuery.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        option = {"group_by": "--by", "date_from": "--from", "date_to": "--to"}.get(str(first["loc"][0]))
        fail(f"{option or '--' + str(first['loc'][0]).replace('_', '-')}: {first['msg']}", 2)
        raise  # unreachable: fail() exits


def _columns(result: MetricResult) -> list[str]:
    cols = (["bucket"] if result.interval else []) + list(result.group_by) + ["value", "lower", "upper", "n"]
    if result.compare_to:
        cols += ["previous", "previous_n", "change", "p_value", "q_value", "significant"]
    return cols


def _cells(row: MetricRow, cols: list[str]) -> list[Any]:
    data = row.model_dump()
    return [row.segment.get(c) if c in row.segment else data.get(c) for c in cols]


def _json(result: MetricResult) -> str:
    return json.dumps(result.model_dump(mode="json"), indent=2)


def _csv(result: MetricResult) -> str:
    buffer = io.StringIO()
    writer = csv_writer(buffer, lineterminator="\n")
    cols = _columns(result)
    writer.writerow(cols)
    for row in result.rows:
        writer.writerow(["" if v is None else v for v in _cells(row, cols)])
    return buffer.getvalue().rstrip("\n")


def _fmt(value: Any, col: str, row: MetricRow) -> str:
    if value is None:
        return "not enough data" if col == "value" and row.status == "not_enough_data" else "-"
    if col in ("p_value", "q_value"):
        return f"{value:.4f}"
    if isinstance(value, float) and not isinstance(value, bool):
        return f"{value:.1f}"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _table(result: MetricResult) -> str:
    cols = _columns(result)
    body = [[_fmt(v, c, row) for v, c in zip(_cells(row, cols), cols, strict=True)] for row in result.rows]
    widths = [max(len(c), *(len(r[i]) for r in body)) if body else len(c) for i, c in enumerate(cols)]
    lines = [f"{result.label} ({result.unit}), {round(result.confidence * 100)} % interval, minimum n {result.min_n}"]
    lines.append("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in body]
    return "\n".join(line.rstrip() for line in lines)
