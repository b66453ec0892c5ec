"""`cem cases list [--overdue] [--team T]`: the closed loop's cases as a table or JSON."""

from __future__ import annotations

import json

import typer

from cem.auth.principal import system_principal
from cem.cases import service, teams
from cem.cases.schemas import CaseRead
from cem.cli.app import app, echo, fail, friendly_errors, open_db
from cem.cli.options import Workspace
from cem.cli.workspaces import workspace_named

CASE_STATUSES = tuple(service.TRANSITIONS)  # every status (each has its allowed next ones)
cases_app = typer.Typer(help="Closed-loop cases.", no_args_is_help=True)
app.add_typer(cases_app, name="cases")


@cases_app.command("list")
@friendly_errors
def cases_list(
    overdue: bool = typer.Option(False, "--overdue", help="Only open cases past an SLA due time."),
    team: str = typer.Option(None, "--team", help="Team name or id."),
    status: list[str] = typer.Option([], "--status", help=f"Repeatable: {', '.join(CASE_STATUSES)}."),
    limit: int = typer.Option(100, min=1, max=500, help="Most recent cases to show."),
    workspace: Workspace = "default",
    fmt: str = typer.Option("table", "--format", help="table or json."),
) -> None:
    """List cases, newest first, with their SLA state and the next due time."""
    if fmt not in ("table", "json"):
        fail(f"Unknown format {fmt!r}; use table or json.", 2)
    unknown = [s for s in status if s not in CASE_STATUSES]
    if unknown:
        fail(f"Unknown status {', '.join(unknown)}; use {', '.join(CASE_STATUSES)}.", 2)
    db = open_db()
    with db.unit_of_work(readonly=True) as session:
        ws = workspace_named(session, workspace)
        team_id = teams.find_team(session, workspace_id=ws.id, ref=team).id if team else None
        page = service.list_cases(
            session,
            actor=system_principal(ws.id),
            status=status or None,
            team_id=team_id,
            overdue=overdue,
            limit=limit,
        )
    if fmt == "json":
        echo(json.dumps([c.model_dump(mode="json") for c in page.items], indent=2))
        return
    if not page.items:
        echo("No overdue cases." if overdue else "No cases.")
        return
    echo(f"{'ID':>7}  {'STATUS':<19}  {'PRIORITY':<8}  {'SLA':<8}  {'DUE (UTC)':<16}  {'OWNER':>5}  {'TEAM':>5}  TITLE")
    for case in page.items:
        echo(_row(case))


def _row(case: CaseRead) -> str:
    sla = case.sla
    dues = [
        sla.first_response_due_at if case.first_response_at is None else None,
        sla.update_due_at,
        sla.resolution_due_at,
    ]
    present = [d for d in dues if d is not None]
    due = min(present).strftime("%Y-%m-%d %H:%M") if present and case.status not in ("resolved", "closed") else ""
    owner = str(case.owner_id or "")
    team = str(case.team_id or "")
    title = case.title.replace("\n", " ")[:60]
    head = f"{case.id:>7}  {case.status:<19}  {case.priority:<8}  {sla.state:<8}  {due:<16}"
    return f"{head}  {owner:>5}  {team:>5}  {title}"
