"""The workspace a command names, with directions when it does not exist (a fresh store has none until its first
user is created, and nothing else tells a new operator so)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from sqlalchemy.orm import Session

from cem.admin import service as admin_service
from cem.auth.models import Workspace
from cem.cli.app import echo, open_db
from cem.errors import NotFound


def workspace_named(session: Session, slug: str) -> Workspace:
    """The workspace `slug`; NotFound says which exist and how to create one (the CLI runs on the operator's own
    machine, so naming the store's workspaces tells nobody anything new)."""
    try:
        return admin_service.get_workspace_by_slug(session, slug)
    except NotFound:
        existing = admin_service.workspace_slugs(session)
        here = (
            f"Workspaces in this store: {', '.join(existing)} (pass --workspace)."
            if existing
            else ("This store has no workspace yet.")
        )
        raise NotFound(
            f"Workspace {slug!r} does not exist. {here} A workspace is created with its first user: "
            f"cem user create --email you@example.com --workspace {slug}"
        ) from None


def report_from(workspace: str, work: Callable[[Session, int], Any], fmt: str) -> Any | None:
    """Run `work` in the named workspace (one unit of work) and print its report as JSON when `fmt` is json;
    returns the report for a table to be printed, else None."""
    with open_db().unit_of_work() as session:
        report = work(session, workspace_named(session, workspace).id)
    if fmt == "json":
        echo(json.dumps(asdict(report), indent=2))
        return None
    return report
