"""GDPR commands: export everything held about a person, or erase them (by email, external id or customer id)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from sqlalchemy.orm import Session

from cem.analytics.settings import AnalyticsSettings
from cem.auth.principal import Principal, system_principal
from cem.cli.app import app, echo, fail, friendly_errors, open_db
from cem.cli.workspaces import workspace_named
from cem.config import get_settings
from cem.privacy import service
from cem.privacy.mentions import Mention
from cem.privacy.schemas import PersonIn

privacy_app = typer.Typer(help="GDPR export and erasure of one person.", no_args_is_help=True)
app.add_typer(privacy_app, name="privacy")

EMAIL = typer.Option(None, "--email", help="The person's email address.")
EXTERNAL_ID = typer.Option(None, "--external-id", help="The external id of the person's customer record.")
CUSTOMER_ID = typer.Option(None, "--customer-id", help="The id of the person's customer record.")
WORKSPACE = typer.Option(None, "--workspace", help="Only this workspace (slug); default: every workspace.")


def _person(email: str | None, external_id: str | None, customer_id: int | None) -> dict[str, Any]:
    """The validated identifier (exactly one of the three), as keyword arguments for the service."""
    from pydantic import ValidationError

    try:
        return PersonIn(email=email, external_id=external_id, customer_id=customer_id).identifier()
    except ValidationError as exc:
        problem = exc.errors()[0]
        field = ".".join(str(p) for p in problem["loc"])
        if not field:
            fail("Name the person with exactly one of --email, --external-id or --customer-id.", 2)
        fail(
            f"--{field.replace('_', '-')}: {problem['msg']}"
            if field != "email"
            else f"{email!r} is not an email address.",
            2,
        )
    return {}


@privacy_app.command("export")
@friendly_errors
def export(
    email: str | None = EMAIL,
    external_id: str | None = EXTERNAL_ID,
    customer_id: int | None = CUSTOMER_ID,
    workspace: str | None = WORKSPACE,
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the JSON here instead of stdout."),
) -> None:
    """Write everything held about a person as JSON."""
    person = _person(email, external_id, customer_id)
    with open_db().unit_of_work() as session:
        ws_id, actor = _scope(session, workspace)
        data = service.export_person(session, **person, workspace_id=ws_id, actor=actor)
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
    email: str | None = EMAIL,
    external_id: str | None = EXTERNAL_ID,
    customer_id: int | None = CUSTOMER_ID,
    workspace: str | None = WORKSPACE,
    redact_mentions: bool = typer.Option(
        False, "--redact-mentions", help="Also replace mentions of the person in other customers' texts."
    ),
    yes: bool = typer.Option(False, "--yes", help="Confirm: erasure cannot be undone."),
) -> None:
    """Remove a person from every table; the audit log records that it happened, with counts only.

    Lists other customers' records whose text names the person (email, name, phone, handle);
    --redact-mentions replaces those mentions with [redacted].
    """
    person = _person(email, external_id, customer_id)
    settings = get_settings()
    if not yes:
        with open_db(settings).unit_of_work(readonly=True) as session:
            preview = service.preview_erasure(session, **person, workspace_id=_scope(session, workspace)[0])
        _echo_preview(preview)
        fail("Erasure cannot be undone; re-run with --yes to confirm (and --redact-mentions to redact mentions).", 2)
    with open_db(settings).unit_of_work() as session:
        ws_id, actor = _scope(session, workspace)
        report = service.erase_person(
            session,
            **person,
            workspace_id=ws_id,
            actor=actor,
            redact_mentions=redact_mentions,
            snapshot_dir=AnalyticsSettings().resolved_snapshot_dir(settings),
        )
    parts = [f"{n} {t}" for t, n in report.deleted.items()] or ["nothing"]
    echo(f"Deleted: {', '.join(parts)}.")
    if report.anonymised:
        echo(f"Anonymised: {', '.join(f'{n} {t}' for t, n in report.anonymised.items())}.")
    _echo_mentions(report, redacted=redact_mentions)


def _echo_preview(preview: service.ErasurePreview) -> None:
    rows = ", ".join(f"{n} {t}" for t, n in preview.rows.items()) or "nothing"
    echo(f"Would erase: {rows}.")
    _echo_records(preview.mentions, "Other records naming the person (--redact-mentions replaces the mentions):")


def _echo_mentions(report: service.ErasureReport, *, redacted: bool) -> None:
    if redacted:
        _echo_records(report.mentions, f"Redacted the mentions in {report.redacted} other record(s):")
    else:
        _echo_records(report.mentions, "Other records naming the person, left unchanged (see --redact-mentions):")


def _echo_records(mentions: list[Mention], heading: str) -> None:
    if not mentions:
        echo("No other record names the person.")
        return
    echo(heading)
    for m in mentions:
        echo(f"  feedback record {m.record_id} (customer {m.customer_id or '-'}, {m.field_id}): {', '.join(m.kinds)}")


def _scope(session: Session, workspace: str | None) -> tuple[int | None, Principal | None]:
    if workspace is None:
        return None, None
    ws = workspace_named(session, workspace)
    return ws.id, system_principal(ws.id, label="cli")
