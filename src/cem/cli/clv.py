"""`cem clv`: fit the buy-till-you-die models on a customer summary, or build the summary from transactions."""

from __future__ import annotations

import io
import json
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

import typer

from cem.cli.app import app, echo, fail, friendly_errors, open_db
from cem.cli.options import Workspace
from cem.cli.workspaces import report_from, workspace_named
from cem.clv import btyd, service
from cem.clv.summary import summarise
from cem.clv.tables import read_purchases, read_summary
from cem.clv.validation import validate
from cem.exports_safety import csv_writer

clv_app = typer.Typer(help="Customer lifetime value: BG/NBD, Pareto/NBD and Gamma-Gamma.", no_args_is_help=True)
app.add_typer(clv_app, name="clv")

MODELS = tuple(btyd.FITTERS)


@clv_app.command("fit")
@friendly_errors
def fit_command(
    summary: Path = typer.Option(..., "--summary", exists=True, dir_okay=False, help="Per-customer summary CSV."),
    model: str = typer.Option("bgnbd", "--model", help="bgnbd, pnbd or ggamma (the spend model)."),
    frequency: str = typer.Option(None, "--frequency-column", help="Repeat purchases (default: frequency or x)."),
    recency: str = typer.Option(None, "--recency-column", help="Time of the last purchase (default: recency or t_x)."),
    age: str = typer.Option(None, "--t-column", help="Time since the first purchase (default: T)."),
    monetary: str = typer.Option(
        None, "--monetary-column", help="Mean repeat-purchase value, for ggamma (default: monetary_value or zbar)."
    ),
    fmt: str = typer.Option("table", "--format", help="table or json."),
) -> None:
    """Fit a model by maximum likelihood; prints its parameters (named as in the papers) and log-likelihood."""
    if model not in MODELS:
        fail(f"--model must be one of {', '.join(MODELS)}", 2)
    columns = {"frequency": frequency, "recency": recency, "T": age, "monetary_value": monetary}
    table = read_summary(summary, columns=columns, with_spend=model == "ggamma")
    result = btyd.fit(model, table)
    payload: dict[str, Any] = {
        "model": result.model,
        "params": result.params,
        "log_likelihood": result.log_likelihood,
        "customers": result.n,
        "converged": result.converged,
    }
    if fmt == "json":
        echo(json.dumps(payload, indent=2))
        return
    echo(f"{result.model}: {result.n} customers, log-likelihood {result.log_likelihood:.3f}")
    for name, value in result.params.items():
        echo(f"  {name:<6} {value:.6g}")


@clv_app.command("summarise")
@friendly_errors
def summarise_command(
    transactions: Path = typer.Option(..., "--transactions", exists=True, dir_okay=False, help="Purchases file."),
    calibration_end: str = typer.Option(..., "--calibration-end", help="Last day of the calibration (YYYY-MM-DD)."),
    customer: str = typer.Option("customer_id", "--customer-column"),
    day: str = typer.Option("date", "--date-column"),
    value: str = typer.Option("value", "--value-column"),
    date_format: str = typer.Option(None, "--date-format", help="strftime format, e.g. %Y%m%d; ISO if unset."),
    unit_days: float = typer.Option(7.0, "--unit-days", help="Days per time unit (7: weeks, as in the papers)."),
) -> None:
    """Build the per-customer summary (frequency, recency, T, monetary_value) as CSV on standard output."""
    end = _iso(calibration_end, "--calibration-end")
    purchases = read_purchases(
        transactions, customer_column=customer, date_column=day, value_column=value, date_format=date_format
    )
    table = summarise(purchases, calibration_end=end, unit_days=unit_days)
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(["customer_id", "frequency", "recency", "T", "monetary_value"])
    for i, cid in enumerate(table.customers):
        writer.writerow(
            [
                cid,
                int(table.frequency[i]),
                round(float(table.recency[i]), 4),
                round(float(table.T[i]), 4),
                round(float(table.monetary_value[i]), 4),
            ]
        )
    echo(out.getvalue().rstrip("\n"))


@clv_app.command("validate")
@friendly_errors
def validate_command(
    transactions: Path = typer.Option(..., "--transactions", exists=True, dir_okay=False, help="Purchases file."),
    start: str = typer.Option(..., "--start", help="First day of the observation (YYYY-MM-DD)."),
    calibration_end: str = typer.Option(..., "--calibration-end", help="Last day of the calibration (YYYY-MM-DD)."),
    holdout_end: str = typer.Option(..., "--holdout-end", help="Last day of the holdout (YYYY-MM-DD)."),
    model: str = typer.Option("bgnbd", "--model", help="bgnbd or pnbd."),
    customer: str = typer.Option("customer_id", "--customer-column"),
    day: str = typer.Option("date", "--date-column"),
    value: str = typer.Option("value", "--value-column"),
    date_format: str = typer.Option(None, "--date-format", help="strftime format, e.g. %Y%m%d; ISO if unset."),
    unit_days: float = typer.Option(7.0, "--unit-days", help="Days per time unit (7: weeks)."),
    fmt: str = typer.Option("table", "--format", help="table or json."),
) -> None:
    """Fit on the calibration period; compare expected and actual holdout purchases by calibration frequency, and
    cumulative repeat purchases period by period (the paper's two validation charts, as tables)."""
    if model not in ("bgnbd", "pnbd"):
        fail("--model must be bgnbd or pnbd (a purchase model)", 2)
    dates = [_iso(start, "--start"), _iso(calibration_end, "--calibration-end"), _iso(holdout_end, "--holdout-end")]
    purchases = read_purchases(
        transactions, customer_column=customer, date_column=day, value_column=value, date_format=date_format
    )
    result = validate(
        purchases, model=model, start=dates[0], calibration_end=dates[1], holdout_end=dates[2], unit_days=unit_days
    )
    if fmt == "json":
        echo(
            json.dumps(
                {
                    "model": model,
                    "params": result.fit.params,
                    "log_likelihood": result.fit.log_likelihood,
                    "holdout": {"actual": result.holdout_actual, "expected": result.holdout_expected},
                    "by_frequency": [asdict(row) for row in result.by_frequency],
                    "tracking": [asdict(row) for row in result.tracking],
                },
                indent=2,
            )
        )
        return
    echo(
        f"{model} on {len(result.calibration)} customers; holdout purchases: actual {result.holdout_actual:.0f}, "
        f"expected {result.holdout_expected:.1f}"
    )
    echo("repeat purchases in calibration -> mean holdout purchases (actual / expected)")
    for row in result.by_frequency:
        echo(f"  {row.frequency:>3}  {row.customers:>6} customers  {row.actual:7.3f}  {row.expected:7.3f}")


def _iso(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{option}: {text!r} is not a date (YYYY-MM-DD)", 2)
        raise  # unreachable: fail() exits


@clv_app.command("score")
@friendly_errors
def score_command(
    workspace: Workspace = "default", fmt: str = typer.Option("table", "--format", help="table or json.")
) -> None:
    """Fit on the workspace's purchase events and store every customer's P(alive), expected purchases and value."""
    report = report_from(workspace, service.score_workspace, fmt)
    if report is None:
        return
    echo(
        f"Scored {report.customers:,} customers ({report.repeat_buyers:,} bought again); "
        f"BG/NBD log-likelihood {report.log_likelihood:.1f}"
    )
    if report.note:
        echo(report.note)


@clv_app.command("segments")
@friendly_errors
def segments_command(
    workspace: Workspace = "default", fmt: str = typer.Option("table", "--format", help="table or json.")
) -> None:
    """The RFM segments of the latest scoring: size, share, mean expected value, P(alive) and total spend."""
    if fmt not in ("table", "json"):
        fail(f"--format: {fmt!r} is not table or json", 2)
    with open_db().unit_of_work(readonly=True) as session:
        sizes = service.segment_sizes(session, workspace_named(session, workspace).id)
    if not any(size.customers for size in sizes):
        fail("No RFM segments yet: run `cem clv score` (purchase events needed).", 1)
    if fmt == "json":
        echo(json.dumps([asdict(size) for size in sizes], indent=2))
        return
    echo(f"{'segment':<20} {'customers':>9} {'share':>6} {'mean CLV':>10} {'P(alive)':>8} {'mean spend':>11}")
    for size in sizes:
        clv = "-" if size.mean_clv is None else f"{size.mean_clv:,.2f}"
        alive = "-" if size.mean_p_alive is None else f"{100 * size.mean_p_alive:.0f} %"
        spend = "-" if size.mean_monetary is None else f"{size.mean_monetary:,.2f}"
        echo(f"{size.segment:<20} {size.customers:>9,} {100 * size.share:>5.1f}% {clv:>10} {alive:>8} {spend:>11}")
