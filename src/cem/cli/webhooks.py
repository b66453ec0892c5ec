"""`cem webhooks list|deliveries`: an operator's view of a workspace's subscriptions and delivery log."""

from __future__ import annotations

import typer

from cem.cli.app import app, echo, fail, friendly_errors, open_db
from cem.cli.workspaces import workspace_named
from cem.webhooks import service

webhooks_app = typer.Typer(help="Outbound webhooks: subscriptions and their delivery log.", no_args_is_help=True)
app.add_typer(webhooks_app, name="webhooks")

WORKSPACE = typer.Option(..., "--workspace", help="The workspace (slug).")
STATUSES = ("pending", "succeeded", "failed", "cancelled")


@webhooks_app.command("list")
@friendly_errors
def list_subscriptions(workspace: str = WORKSPACE) -> None:
    """One line per subscription: id, state, events, URL, and why it was disabled."""
    with open_db().unit_of_work(readonly=True) as session:
        ws = workspace_named(session, workspace)
        rows = service.list_subscriptions(session, workspace_id=ws.id)
    if not rows:
        echo("No webhook subscriptions.")
    for s in rows:
        state = "enabled" if s.enabled else "disabled"
        echo(f"{s.id}\t{state}\t{','.join(s.event_types)}\t{s.url}")
        if s.disabled_reason:
            echo(f"\tdisabled: {s.disabled_reason}")


@webhooks_app.command("deliveries")
@friendly_errors
def list_deliveries(
    workspace: str = WORKSPACE,
    status: str | None = typer.Option(None, help=f"Only this status: {', '.join(STATUSES)}."),
    subscription: int | None = typer.Option(None, help="Only this subscription id."),
    limit: int = typer.Option(50, min=1, max=service.MAX_DELIVERIES_PAGE),
) -> None:
    """The newest deliveries: id, created, event, status, HTTP code, attempts, message id, last error."""
    if status is not None and status not in STATUSES:
        fail(f"--status must be one of {', '.join(STATUSES)}, not {status!r}.", 2)
    with open_db().unit_of_work(readonly=True) as session:
        ws = workspace_named(session, workspace)
        rows = service.list_deliveries(
            session, workspace_id=ws.id, subscription_id=subscription, status=status, limit=limit
        )
    if not rows:
        echo("No deliveries.")
    for d in rows:
        code = d.last_status_code if d.last_status_code is not None else "-"
        line = f"{d.id}\t{d.created_at:%Y-%m-%d %H:%M:%S}\t{d.event_type}\t{d.status}\t{code}\t{d.attempts}"
        echo(f"{line}\t{d.message_id}\t{d.last_error[:200]}")
