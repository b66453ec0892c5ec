"""Domain events of the closed loop, emitted through the `domain_event` hook (webhook subscribers receive them).

Payloads stay thin: ids, status, priority and short labels, never feedback text or customer contact details.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from cem import hooks
from cem.cases.models import Case

ALERT_FIRED = "alert.fired"
CASE_CREATED = "case.created"
CASE_UPDATED = "case.updated"
CASE_CLOSED = "case.closed"
SLA_BREACHED = "sla.breached"


def emit(session: Session, *, workspace_id: int, event_type: str, data: dict[str, Any]) -> None:
    hooks.domain_event(session, workspace_id=workspace_id, event_type=event_type, data=data)


def case_data(case: Case, **extra: Any) -> dict[str, Any]:
    return {
        "case_id": case.id,
        "status": case.status,
        "priority": case.priority,
        "owner_id": case.owner_id,
        "team_id": case.team_id,
        "customer_id": case.customer_id,
        "rule_id": case.rule_id,
        **extra,
    }


def case_event(session: Session, case: Case, event_type: str, **extra: Any) -> None:
    emit(session, workspace_id=case.workspace_id, event_type=event_type, data=case_data(case, **extra))
