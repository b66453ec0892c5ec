"""The SLA sweep (every minute, cem.cases.tasks): warn before a breach, escalate at the breach.

It reads only cases whose stored next deadline has come (one indexed range scan), so its cost follows the
number of cases due, not the number open. Escalation, once per case: reassign to the team lead, raise the
priority one step, mark the case escalated, email the lead and the previous owner, emit `sla.breached`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cem.cases import events, service, sla
from cem.cases.models import OPEN_STATUSES, Case, SlaPolicy, Team

BATCH = 1000


def run(session: Session, *, now: datetime, workspace_id: int | None = None) -> dict[str, int]:
    warned = escalated = 0
    stmt = (
        select(Case)
        .where(Case.next_deadline_at <= now, Case.status.in_(OPEN_STATUSES))
        .order_by(Case.next_deadline_at, Case.id)
        .limit(BATCH)
        .with_for_update(skip_locked=True)
    )
    if workspace_id is not None:
        stmt = stmt.where(Case.workspace_id == workspace_id)
    policies: dict[int, SlaPolicy | None] = {}
    for case in session.scalars(stmt).all():
        # The stored due times are current: every change to a case recomputes them (sla.refresh).
        policy_id = case.sla_policy_id or 0
        if policy_id not in policies:
            policies[policy_id] = session.get(SlaPolicy, policy_id) if policy_id else None
        policy = policies[policy_id]
        due = sla.pending_due(case)
        if policy is None or due is None:
            case.next_deadline_at = None
            continue
        if now >= due and case.escalated_at is None:
            escalate(session, case, now=now, due=due)
            escalated += 1
        elif now >= due - timedelta(minutes=policy.warning_minutes) and case.sla_warned_at is None:
            case.sla_warned_at = now
            service.log(session, case, "sla_warning", service.SYSTEM, due_at=due.isoformat())
            service.notify(session, case, "sla_warning", [case.owner_id] if case.owner_id else _lead(session, case))
            warned += 1
        sla.reschedule(case, policy)
    return {"warned": warned, "escalated": escalated}


def _lead(session: Session, case: Case) -> list[int]:
    if case.team_id is None:
        return []
    lead = session.scalar(select(Team.lead_user_id).where(Team.id == case.team_id))
    return [lead] if lead is not None else []


def escalate(session: Session, case: Case, *, now: datetime, due: datetime) -> None:
    previous_owner, previous_priority = case.owner_id, case.priority
    leads = _lead(session, case)
    case.breached_at = case.breached_at or now
    case.escalated_at = now
    case.sla_warned_at = case.sla_warned_at or now
    service.log(session, case, "sla_breached", service.SYSTEM, due_at=due.isoformat())
    if leads and leads[0] != case.owner_id:
        service.log(
            session,
            case,
            "assigned",
            service.SYSTEM,
            owner_from=case.owner_id,
            owner_to=leads[0],
            team_from=case.team_id,
            team_to=case.team_id,
            reason="escalation",
        )
        case.owner_id = leads[0]
    case.priority = service.raise_priority(case.priority)
    service.log(
        session,
        case,
        "escalated",
        service.SYSTEM,
        priority_from=previous_priority,
        priority_to=case.priority,
        owner_from=previous_owner,
        owner_to=case.owner_id,
    )
    case.updated_at = now
    service.notify(session, case, "escalated", [*leads, *([previous_owner] if previous_owner else [])])
    events.case_event(session, case, events.SLA_BREACHED, due_at=due.isoformat(), escalated_to=case.owner_id)
