"""Audit log: every write by a user, token, CLI command or webhook is recorded here."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from cem.auth.models import AuditLog
from cem.auth.principal import Principal


def record(
    session: Session,
    actor: Principal,
    action: str,
    *,
    entity_type: str = "",
    entity_id: object = "",
    details: dict[str, Any] | None = None,
) -> None:
    """Append an audit entry in the caller's transaction (so it exists exactly when the change does)."""
    session.add(
        AuditLog(
            workspace_id=actor.workspace_id,
            actor_type=actor.actor_type,
            actor_id=actor.actor_id,
            actor_label=actor.label,
            action=action,
            entity_type=entity_type,
            entity_id=str(entity_id),
            details=details or {},
        )
    )
