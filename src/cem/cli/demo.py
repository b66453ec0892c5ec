"""`cem demo`: build the demo workspace from the public data (or a synthetic stand-in) and print the login."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from cem.cli.app import app, echo, friendly_errors, open_db
from cem.config import get_settings
from cem.demo.service import DemoReport, build_demo


@app.command()
@friendly_errors
def demo(
    data: Path = typer.Option(None, help="Folder with the public datasets (default: the shared data folder)."),
    workspace: str = typer.Option("demo", help="Workspace slug to build."),
    reset: bool = typer.Option(False, "--reset", help="Set a new admin password even if the admin exists."),
) -> None:
    """Build the demo workspace (idempotent) and print the admin login; password from CEM_DEMO_PASSWORD."""
    settings = get_settings()
    db = open_db(settings)
    try:
        report = build_demo(
            db,
            settings=settings,
            data=data,
            workspace=workspace,
            reset=reset,
            password=os.environ.get("CEM_DEMO_PASSWORD") or None,
            progress=lambda line: echo(f"  {line}"),
        )
    finally:
        db.dispose()
    _print_login(report, f"http://{settings.host}:{settings.port}/login")


def _print_login(report: DemoReport, url: str) -> None:
    login = report.login
    echo(f"\nDemo workspace {report.workspace!r} is ready ({report.seconds:.1f} s).")
    echo(f"  Log in at  {url}")
    echo(f"  Email      {login.email}")
    if login.password:
        echo(f"  Password   {login.password}")
    else:
        echo("  Password   (unchanged: this admin already existed; run `cem demo --reset` to set a new one)")
