"""GDPR commands: export everything held about a person, or erase them."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from sqlalchemy.orm import Session

from cem.admin import service as admin_service
from cem.admin.principal import Principal, system_principal
from cem.cli.app import app, echo, fail, friendly_errors, open_db
from cem.privacy import service
from cem.privacy.schemas import ExportIn

privacy_app = typer.Typer(help="GDPR export and erasure of one person.", no_args_is_help=True)
app.add_typer(privacy_app, name="privacy")

EMAIL = typer.Option(..., "--email", help="The person's email address.")
WORKSPACE = typer.Option(None, "--workspace", help="Only this workspace (slug); default: every workspace.")


def _checked_email(email: str) -> str:
    from pydantic import ValidationError

    try:
        return ExportIn(email=email).email
    except ValidationError:
        fail(f"{email!r} is not an email address.", 2)
    return email


@privacy_app.command("export")
@friendly_errors
def export(
    email: str = EMAIL,
    workspace: str | None = WORKSPACE,
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the JSON here instead of stdout."),
) -> None:
    """Write everything held about a person as JSON."""
    email = _checked_email(email)
    with open_db().unit_of_work() as session:
        ws_id, actor = _scope(session, workspace)
        data = service.export_person(session, email=email, workspace_id=ws_id, actor=actor)
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    if output is None:
        echo(text)
        return
    output.write_text(text + "\n", encoding="utf-8")
    rows = sum(len(r) for r in data["tables"].values())
    typer.echo(f"Wrote {rows} row(s) about the person to {output}.", err=True)


@privacy_app.command("erase")
@friendly_errors
def erase(
    email: str = EMAIL,
    workspace: str | None = WORKSPACE,
    yes: bool = typer.Option(False, "--yes", help="Confirm: erasure cannot be undone."),
) -> None:
    """Remove a person from every table; the audit log records that it happened, with counts only."""
    email = _checked_email(email)
    if not yes:
        fail("Erasure cannot be undone; re-run with --yes to confirm.", 2)
    with open_db().unit_of_work() as session:
        ws_id, actor = _scope(session, workspace)
        report = service.erase_person(session, email=email, workspace_id=ws_id, actor=actor)
    parts = [f"{n} {t}" for t, n in report.deleted.items()] or ["nothing"]
    echo(f"Deleted: {', '.join(parts)}.")
    if report.anonymised:
        echo(f"Anonymised: {', '.join(f'{n} {t}' for t, n in report.anonymised.items())}.")


def _scope(session: Session, workspace: str | None) -> tuple[int | None, Principal | None]:
    if workspace is None:
        return None, None
    ws = admin_service.get_workspace_by_slug(session, workspace)
    return ws.id, system_principal(ws.id, label="cli")
