"""`cem churn`: cross-validate the churn model on any customer table."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import typer

from cem.churn import service
from cem.churn.model import cross_validate
from cem.cli.app import app, echo, fail, friendly_errors
from cem.cli.options import Workspace
from cem.cli.workspaces import report_from

churn_app = typer.Typer(help="Churn risk: the supervised churn model.", no_args_is_help=True)
app.add_typer(churn_app, name="churn")


@churn_app.command("cv")
@friendly_errors
def cv_command(
    table: Path = typer.Option(..., "--csv", exists=True, dir_okay=False, help="One row per customer, with a header."),
    target: str = typer.Option(..., "--target", help="The churn column (yes/no, true/false or 1/0)."),
    id_column: str = typer.Option(None, "--id", help="An id column to leave out of the features."),
    folds: int = typer.Option(5, "--folds", min=2, max=20),
    seed: int = typer.Option(42, "--seed"),
    fmt: str = typer.Option("table", "--format", help="table or json."),
) -> None:
    """Stratified k-fold cross-validation: ROC AUC, PR-AUC and Brier score (mean and standard deviation)."""
    with table.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        fail(f"{table.name} has no rows", 2)
    result = cross_validate(rows, target=target, id_column=id_column, folds=folds, seed=seed)
    scores = result.summary()
    if fmt == "json":
        payload = {
            **scores,
            "folds": folds,
            "seed": seed,
            "customers": result.n,
            "churned": result.positives,
            "calibration": [{"predicted": p, "observed": o, "n": n} for p, o, n in result.calibration],
        }
        echo(json.dumps(payload, indent=2))
        return
    echo(f"{result.n} customers, {result.positives} churned; {folds}-fold stratified cross-validation (seed {seed})")
    for name, label in (("roc_auc", "ROC AUC"), ("pr_auc", "PR-AUC"), ("brier", "Brier score")):
        echo(f"  {label:<12} {scores[name]['mean']:.4f} +/- {scores[name]['std']:.4f}")


@churn_app.command("score")
@friendly_errors
def score_command(
    workspace: Workspace = "default", fmt: str = typer.Option("table", "--format", help="table or json.")
) -> None:
    """Train on the customers with a churn flag and store every current customer's risk with its reasons."""
    report = report_from(workspace, service.score_workspace, fmt)
    if report is None:
        return
    echo(
        f"Trained on {report.trained_on:,} customers ({report.churned:,} churned): cross-validated ROC AUC "
        f"{report.roc_auc:.3f} +/- {report.roc_auc_std:.3f}; scored {report.scored:,} current customers"
    )
