"""`cem export parquet`: the feedback store as a Parquet snapshot (for DuckDB, Spark or any Parquet reader)."""

from __future__ import annotations

from pathlib import Path

import typer

from cem.analytics.settings import AnalyticsSettings
from cem.analytics.snapshot import Snapshot
from cem.cli.app import app, echo, fail, friendly_errors, open_db
from cem.config import get_settings

export_app = typer.Typer(help="Export data for analytical tools.", no_args_is_help=True)
app.add_typer(export_app, name="export")


@export_app.command("parquet")
@friendly_errors
def export_parquet(
    out: Path = typer.Option(None, "--out", help="Snapshot directory (default: the one the DuckDB engine reads)."),
    full: bool = typer.Option(False, "--full", help="Rewrite everything instead of exporting only what changed."),
) -> None:
    """Write (or bring up to date) the Parquet snapshot: feedback records, customers and touchpoints.

    Incremental by default: only records created or changed since the last export are read; deletions
    (e.g. privacy erasures) make it rebuild, so erased data does not linger in the snapshot.
    """
    settings = get_settings()
    directory = out or AnalyticsSettings().resolved_snapshot_dir(settings)
    if directory.exists() and not directory.is_dir():
        fail(f"{directory} is a file, not a directory.", 2)
    db = open_db(settings)
    with db.unit_of_work(readonly=True) as session:
        try:
            report = Snapshot(directory).refresh(session, full=full)
        except OSError as exc:
            fail(f"Cannot write the snapshot to {directory}: {exc.strerror or exc}", 2)
            raise  # unreachable: fail() exits
    echo(
        f"{report.mode} export to {directory}: {report.appended} new, {report.updated} changed, "
        f"{report.rows} records in the snapshot ({report.seconds:.1f} s)"
    )
    for note in report.notes:
        echo(f"note: {note}")
