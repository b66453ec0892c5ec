"""SLA policies on cases: which policy applies, due times from the case's status history, and its state.

Modelled on Zammad and Frappe Helpdesk: a policy (first matching by position) has a business-hours calendar and
first-response, update and resolution targets in business minutes. Only a reply the customer sees counts as a
response. While the case waits on the customer the update and resolution clocks stop (the first-response clock
does not). Due times are recomputed from the status history (case_activity) on every change, so a changed
calendar, policy or priority never leaves stored counters drifting; the stored copies only let the sweep find
what is due with one indexed query.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from cem.cases.calendar import Calendar, Span, open_end
from cem.cases.models import OPEN_STATUSES, BusinessCalendar, Case, CaseActivity, SlaPolicy
from cem.cases.schemas import SlaRead
from cem.customers.models import Customer

PAUSED_STATUS = "waiting_on_customer"
State = Literal["none", "running", "paused", "breached", "met"]


def calendar_of(cal: BusinessCalendar) -> Calendar:
    return Calendar.from_config(cal.timezone, cal.hours, cal.holidays)


def choose_policy(session: Session, case: Case) -> SlaPolicy | None:
    """The first active policy (by position) whose conditions the case meets."""
    policies = session.scalars(
        select(SlaPolicy)
        .where(SlaPolicy.workspace_id == case.workspace_id, SlaPolicy.active.is_(True))
        .order_by(SlaPolicy.position, SlaPolicy.id)
    )
    attributes: dict[str, Any] | None = None
    for policy in policies:
        cond = policy.conditions or {}
        if cond.get("priorities") and case.priority not in cond["priorities"]:
            continue
        if cond.get("team_ids") and case.team_id not in cond["team_ids"]:
            continue
        wanted = cond.get("customer_attribute")
        if wanted:
            if attributes is None:
                attributes = _customer_attributes(session, case.customer_id)
            if str(attributes.get(wanted["key"], "")).casefold() != str(wanted["value"]).casefold():
                continue
        return policy
    return None


def _customer_attributes(session: Session, customer_id: int | None) -> dict[str, Any]:
    if customer_id is None:
        return {}
    return session.scalar(select(Customer.attributes).where(Customer.id == customer_id)) or {}


def paused_spans(session: Session, case: Case) -> list[Span]:
    """When the case waited on the customer, from its status history (the last span open if it still waits)."""
    changes = session.execute(
        select(CaseActivity.at, CaseActivity.data)
        .where(CaseActivity.case_id == case.id, CaseActivity.kind == "status")
        .order_by(CaseActivity.at, CaseActivity.id)
    )
    spans: list[Span] = []
    since: datetime | None = None
    for at, data in changes:
        if data.get("to") == PAUSED_STATUS and since is None:
            since = at
        elif data.get("to") != PAUSED_STATUS and since is not None:
            spans.append((since, at))
            since = None
    if since is not None:
        spans.append((since, open_end()))
    return spans


def refresh(session: Session, case: Case, *, rechoose: bool = False) -> None:
    """Recompute the case's due times (and, with `rechoose`, its policy) and the sweep's next look."""
    session.flush()
    if rechoose or (case.sla_policy_id is None and case.status in OPEN_STATUSES):
        policy = choose_policy(session, case)
        case.sla_policy_id = policy.id if policy is not None else None
    policy = session.get(SlaPolicy, case.sla_policy_id) if case.sla_policy_id is not None else None
    if policy is None:
        case.first_response_due_at = case.update_due_at = case.resolution_due_at = case.next_deadline_at = None
        return
    cal = calendar_of(session.get_one(BusinessCalendar, policy.calendar_id))
    paused = paused_spans(session, case)
    case.first_response_due_at = cal.add(case.created_at, policy.first_response_minutes)
    case.resolution_due_at = cal.add(case.created_at, policy.resolution_minutes, paused)
    case.update_due_at = None
    if policy.update_minutes and case.last_response_at is not None and case.status in OPEN_STATUSES:
        case.update_due_at = cal.add(case.last_response_at, policy.update_minutes, paused)
    reschedule(case, policy)


def reschedule(case: Case, policy: SlaPolicy) -> None:
    """When the sweep must look at the case next, from its stored due times."""
    case.next_deadline_at = _next_look(case, policy)


def pending_due(case: Case) -> datetime | None:
    """The earliest target the case has not met yet (None when nothing is pending)."""
    if case.status not in OPEN_STATUSES:
        return None
    dues = [case.resolution_due_at, case.update_due_at]
    if case.first_response_at is None:
        dues.append(case.first_response_due_at)
    present = [d for d in dues if d is not None]
    return min(present) if present else None


def _next_look(case: Case, policy: SlaPolicy) -> datetime | None:
    due = pending_due(case)
    if due is None or case.escalated_at is not None:
        return None
    if case.sla_warned_at is None:
        return due - timedelta(minutes=policy.warning_minutes)
    return due


def state(case: Case, now: datetime) -> State:
    if case.sla_policy_id is None and case.first_response_due_at is None:
        return "none"
    if case.breached_at is not None or _missed(case, now):
        return "breached"
    if case.status not in OPEN_STATUSES:
        return "met"
    return "paused" if case.status == PAUSED_STATUS else "running"


def _missed(case: Case, now: datetime) -> bool:
    is_open = case.status in OPEN_STATUSES
    fr_due, res_due = case.first_response_due_at, case.resolution_due_at
    if fr_due is not None:
        if case.first_response_at is not None and case.first_response_at > fr_due:
            return True
        if case.first_response_at is None and is_open and now > fr_due:
            return True
    finished = case.resolved_at or case.closed_at
    if res_due is not None and ((finished if not is_open and finished else now) > res_due):
        return True
    return case.update_due_at is not None and is_open and now > case.update_due_at


def read(case: Case, now: datetime) -> SlaRead:
    return SlaRead(
        policy_id=case.sla_policy_id,
        state=state(case, now),
        first_response_due_at=case.first_response_due_at,
        update_due_at=case.update_due_at,
        resolution_due_at=case.resolution_due_at,
        escalated=case.escalated_at is not None,
    )
