"""Core commands: serve, db upgrade, users, tokens (`cem worker` lives in cli/jobs.py)."""

from __future__ import annotations

import getpass
import os

import typer

from cem.admin import service as admin_service
from cem.auth.permissions import permissions_for
from cem.auth.principal import Principal
from cem.cli.app import app, db_app, echo, friendly_errors, open_db, user_app
from cem.cli.options import Workspace
from cem.cli.workspaces import workspace_named
from cem.config import get_settings


@app.command()
def serve(
    host: str = typer.Option(None, help="Interface to bind (default from CEM_HOST, 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default from CEM_PORT, 8000)."),
    workers: int = typer.Option(1, help="Web worker processes."),
) -> None:
    """Serve the web app and API (migrations apply on start)."""
    import uvicorn

    settings = get_settings()
    settings.check_secrets()
    uvicorn.run(
        "cem.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level="info",
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    db = open_db()
    echo(f"Database at {db.engine.url.render_as_string(hide_password=True)} is up to date.")


@user_app.command("create")
@friendly_errors
def user_create(
    email: str = typer.Option(..., help="Login email."),
    role: str = typer.Option("admin", help="admin, analyst, agent or viewer."),
    workspace: str = typer.Option("default", help="Workspace slug (created if missing)."),
    name: str = typer.Option("", help="Display name."),
    password: str = typer.Option(None, help="Password (prompted, or CEM_NEW_PASSWORD)."),
) -> None:
    """Create a user (or change their role) in a workspace."""
    secret = password or os.environ.get("CEM_NEW_PASSWORD") or getpass.getpass("Password: ")
    db = open_db()
    with db.unit_of_work() as session:
        ws = admin_service.ensure_workspace(session, slug=workspace, name=workspace.replace("-", " ").title())
        user = admin_service.create_user(session, email=email, password=secret, name=name, workspace=ws, role=role)
        echo(f"User {user.email} is {role} in workspace {ws.slug}.")


@user_app.command("token")
@friendly_errors
def token_create(
    name: str = typer.Option(..., help="What the token is for."),
    workspace: Workspace = "default",
    role: str = typer.Option("analyst", help="Role of the token."),
    scope: list[str] = typer.Option([], help="Narrow to these permissions (repeatable)."),
) -> None:
    """Issue an API token and print it once."""
    db = open_db()
    with db.unit_of_work() as session:
        ws = workspace_named(session, workspace)
        actor = Principal(
            workspace_id=ws.id,
            role="admin",
            actor_type="cli",
            actor_id=None,
            label="cli",
            permissions=permissions_for("admin"),
        )
        issued = admin_service.create_token(session, actor=actor, name=name, role=role, scopes=scope)
        echo(issued.secret)
