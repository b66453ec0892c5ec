"""Cases: open (by a rule or by hand), change status with allowed transitions, assign, note, reply, close.

Every change is a row of the case's timeline (case_activity), recomputes the SLA due times (cem.cases.sla) and
emits a domain event (cem.cases.events). Replies and notification emails are sent by jobs (cem.cases.tasks), so
a slow SMTP server never holds a request and a retried job sends once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from cem.auth import audit
from cem.auth.permissions import Role
from cem.auth.principal import Principal
from cem.cases import clock, events, sla, teams
from cem.cases.models import OPEN_STATUSES, PRIORITIES, Case, CaseActivity
from cem.cases.schemas import (
    ActivityRead,
    AssignIn,
    CaseDetail,
    CaseIn,
    CaseRead,
    CaseUpdate,
    CloseIn,
    NoteIn,
    ReplyIn,
)
from cem.customers.models import Customer
from cem.errors import Conflict, InvalidInput, NotFound
from cem.jobs.queue import enqueue
from cem.pagination import decode_cursor, encode_cursor
from cem.schemas import Page

SEND_REPLY = "cases.send_reply"
NOTIFY = "cases.notify"

# Which status may follow which. Closing goes through close() (it records the outcome); a closed or resolved
# case reopens to "open".
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"open", "waiting_on_customer", "resolved"}),
    "open": frozenset({"waiting_on_customer", "resolved"}),
    "waiting_on_customer": frozenset({"open", "resolved"}),
    "resolved": frozenset({"open"}),
    "closed": frozenset({"open"}),
}


@dataclass(frozen=True)
class Actor:
    """Who did something to a case, as the timeline shows it."""

    label: str
    user_id: int | None = None

    @classmethod
    def of(cls, session: Session, principal: Principal) -> Actor:
        return cls(label=principal.label, user_id=teams.acting_user_id(session, principal))


SYSTEM = Actor(label="system")


def log(session: Session, case: Case, kind: str, actor: Actor, *, body: str | None = None, **data: Any) -> None:
    session.add(
        CaseActivity(
            case_id=case.id,
            workspace_id=case.workspace_id,
            at=clock.now(),
            kind=kind,
            actor_user_id=actor.user_id,
            actor_label=actor.label,
            body=body,
            data=data,
        )
    )


def open_case(
    session: Session,
    *,
    workspace_id: int,
    title: str,
    actor: Actor,
    customer_id: int | None = None,
    priority: str = "normal",
    team_id: int | None = None,
    owner_id: int | None = None,
    tags: list[str] | None = None,
    **origin: Any,
) -> Case:
    """A new case (status new) with its SLA; `origin` names the rule, submission and record that raised it."""
    now = clock.now()
    case = Case(
        workspace_id=workspace_id,
        title=title[:300],
        customer_id=customer_id,
        priority=priority,
        team_id=team_id,
        owner_id=owner_id,
        tags=tags or [],
        status="new",
        created_at=now,
        updated_at=now,
        **origin,
    )
    session.add(case)
    session.flush()
    log(session, case, "created", actor, priority=priority, owner_id=owner_id, team_id=team_id, **origin)
    sla.refresh(session, case, rechoose=True)
    events.case_event(session, case, events.CASE_CREATED)
    if owner_id is not None:
        notify(session, case, "assigned", [owner_id])
    return case


def create_case(session: Session, *, actor: Principal, case_in: CaseIn) -> Case:
    if case_in.customer_id is not None:
        customer = session.get(Customer, case_in.customer_id)
        if customer is None or customer.workspace_id != actor.workspace_id:
            msg = f"Customer {case_in.customer_id} does not exist."
            raise InvalidInput(msg, errors=[{"loc": ["customer_id"], "msg": msg}])
    teams.check_assignment(session, workspace_id=actor.workspace_id, owner_id=case_in.owner_id, team_id=case_in.team_id)
    who = Actor.of(session, actor)
    owner_id = case_in.owner_id
    if owner_id is None and case_in.team_id is None and actor.role == Role.agent:
        owner_id = who.user_id  # an agent's own case stays visible to it
    case = open_case(
        session,
        workspace_id=actor.workspace_id,
        title=case_in.title,
        actor=who,
        customer_id=case_in.customer_id,
        priority=case_in.priority,
        team_id=case_in.team_id,
        owner_id=owner_id,
        tags=case_in.tags,
    )
    audit.record(session, actor, "case.create", entity_type="case", entity_id=case.id)
    return case


def get_case(session: Session, *, actor: Principal, case_id: int, for_update: bool = False) -> Case:
    """The case if the caller may see it (an agent: its own and its teams'); NotFound otherwise."""
    stmt = select(Case).where(Case.id == case_id, teams.visible_cases(session, actor))
    if for_update:
        stmt = stmt.with_for_update()
    case = session.scalar(stmt)
    if case is None:
        raise NotFound(f"Case {case_id} does not exist.")
    return case


def list_cases(
    session: Session,
    *,
    actor: Principal,
    status: list[str] | None = None,
    team_id: int | None = None,
    owner_id: int | None = None,
    priority: str | None = None,
    overdue: bool = False,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[CaseRead]:
    """Newest first; `overdue`: open cases past a due time they have not met (soonest breached first)."""
    now = clock.now()
    stmt = visible_filtered(
        session,
        actor=actor,
        status=status,
        team_id=team_id,
        owner_id=owner_id,
        priority=priority,
        overdue=overdue,
        now=now,
    )
    after = decode_cursor(cursor)
    if after:
        stmt = stmt.where(Case.id < int(after[0]))
    rows = list(session.scalars(stmt.order_by(Case.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page[CaseRead](
        items=[read_case(c, now) for c in rows], next_cursor=encode_cursor([rows[-1].id]) if more else None
    )


def visible_filtered(
    session: Session,
    *,
    actor: Principal,
    status: list[str] | None,
    team_id: int | None,
    owner_id: int | None,
    priority: str | None,
    overdue: bool,
    now: datetime,
) -> Select[Case]:
    """The cases the caller sees, narrowed by the list filters (shared by the API's list and the inbox page)."""
    stmt = select(Case).where(teams.visible_cases(session, actor))
    if status:
        stmt = stmt.where(Case.status.in_(status))
    if team_id is not None:
        stmt = stmt.where(Case.team_id == team_id)
    if owner_id is not None:
        stmt = stmt.where(Case.owner_id == owner_id)
    if priority is not None:
        stmt = stmt.where(Case.priority == priority)
    if overdue:
        # The stored due times are the ones the sweep uses; a case is overdue when one has passed unmet.
        stmt = stmt.where(Case.status.in_(OPEN_STATUSES), (Case.breached_at.is_not(None)) | overdue_clause(now))
    return stmt


def count_open_cases(session: Session, *, actor: Principal, overdue: bool = False) -> int:
    """How many open cases the caller sees (as list_cases, without reading them); `overdue`: of those, the ones
    past a due time they have not met."""
    stmt = select(func.count()).select_from(Case).where(teams.visible_cases(session, actor))
    stmt = stmt.where(Case.status.in_(OPEN_STATUSES))
    if overdue:
        stmt = stmt.where((Case.breached_at.is_not(None)) | overdue_clause(clock.now()))
    return int(session.scalar(stmt) or 0)


def overdue_clause(now: Any) -> Any:
    return (
        (Case.first_response_at.is_(None) & (Case.first_response_due_at < now))
        | (Case.resolution_due_at < now)
        | (Case.update_due_at < now)
    )


def read_case(case: Case, now: Any = None) -> CaseRead:
    data = CaseRead.model_validate({**_columns(case), "sla": sla.read(case, now or clock.now())})
    return data


def _columns(case: Case) -> dict[str, Any]:
    return {name: getattr(case, name) for name in CaseRead.model_fields if name != "sla"}


def detail(session: Session, case: Case) -> CaseDetail:
    activity = session.scalars(
        select(CaseActivity).where(CaseActivity.case_id == case.id).order_by(CaseActivity.at, CaseActivity.id)
    )
    return CaseDetail.model_validate(
        {
            **read_case(case).model_dump(),
            "activity": [ActivityRead.model_validate(a) for a in activity],
        }
    )


def set_status(session: Session, case: Case, status: str, actor: Actor) -> None:
    if status == case.status:
        return
    if status not in TRANSITIONS[case.status]:
        allowed = ", ".join(sorted(TRANSITIONS[case.status])) or "none"
        msg = f"A {case.status} case cannot become {status}; it may become: {allowed}."
        raise InvalidInput(msg, errors=[{"loc": ["status"], "msg": msg}])
    now = clock.now()
    log(session, case, "status", actor, **{"from": case.status, "to": status})
    case.status = status
    if status == "resolved":
        case.resolved_at = now
        _finish(case, now)
    elif status == "open":
        case.resolved_at = case.closed_at = case.outcome = None  # the old outcome stays on the timeline
        case.resolution_minutes = case.within_sla = case.closed_loop = case.recovered = None


def update_case(session: Session, *, actor: Principal, case_id: int, update: CaseUpdate) -> Case:
    case = get_case(session, actor=actor, case_id=case_id, for_update=True)
    who = Actor.of(session, actor)
    changed: dict[str, Any] = {}
    if update.status is not None and update.status != case.status:
        set_status(session, case, update.status, who)
        changed["status"] = case.status
    if update.priority is not None and update.priority != case.priority:
        log(session, case, "priority", who, **{"from": case.priority, "to": update.priority})
        case.priority = changed["priority"] = update.priority
    if update.tags is not None and update.tags != case.tags:
        log(
            session,
            case,
            "tags",
            who,
            added=sorted(set(update.tags) - set(case.tags)),
            removed=sorted(set(case.tags) - set(update.tags)),
        )
        case.tags = changed["tags"] = list(dict.fromkeys(update.tags))
    if update.title is not None and update.title != case.title:
        log(session, case, "title", who, **{"from": case.title, "to": update.title})
        case.title = changed["title"] = update.title
    if changed:
        case.updated_at = clock.now()
        sla.refresh(session, case, rechoose="priority" in changed)
        events.case_event(session, case, events.CASE_UPDATED, changed=sorted(changed))
        audit.record(session, actor, "case.update", entity_type="case", entity_id=case.id, details=changed)
    return case


def assign(session: Session, *, actor: Principal, case_id: int, assignment: AssignIn) -> Case:
    case = get_case(session, actor=actor, case_id=case_id, for_update=True)
    _assign(session, case, assignment, Actor.of(session, actor))
    audit.record(session, actor, "case.assign", entity_type="case", entity_id=case.id)
    return case


def bulk_assign(session: Session, *, actor: Principal, case_ids: list[int], assignment: AssignIn) -> list[int]:
    """All or nothing: an unknown or invisible case, or a bad assignee, changes no case."""
    who = Actor.of(session, actor)
    cases = []
    for index, case_id in enumerate(dict.fromkeys(case_ids)):
        try:
            cases.append(get_case(session, actor=actor, case_id=case_id, for_update=True))
        except NotFound as exc:
            raise InvalidInput(exc.detail, errors=[{"loc": ["case_ids", index], "msg": exc.detail}]) from None
    for case in cases:
        _assign(session, case, assignment, who)
    audit.record(session, actor, "case.bulk_assign", entity_type="case", details={"case_ids": [c.id for c in cases]})
    return [c.id for c in cases]


def _assign(session: Session, case: Case, assignment: AssignIn, who: Actor) -> None:
    given = assignment.model_fields_set
    owner = assignment.owner_id if "owner_id" in given else case.owner_id
    team = assignment.team_id if "team_id" in given else case.team_id
    teams.check_assignment(session, workspace_id=case.workspace_id, owner_id=owner, team_id=team)
    if (owner, team) == (case.owner_id, case.team_id):
        return
    log(session, case, "assigned", who, owner_from=case.owner_id, owner_to=owner, team_from=case.team_id, team_to=team)
    new_owner = owner is not None and owner != case.owner_id
    team_changed = team != case.team_id
    case.owner_id, case.team_id = owner, team
    case.updated_at = clock.now()
    sla.refresh(session, case, rechoose=team_changed)
    events.case_event(session, case, events.CASE_UPDATED, changed=["assignment"])
    if new_owner and owner is not None:
        notify(session, case, "assigned", [owner])


def add_note(session: Session, *, actor: Principal, case_id: int, note: NoteIn) -> Case:
    """An internal note: on the timeline, never sent, and not a response for the SLA."""
    case = get_case(session, actor=actor, case_id=case_id, for_update=True)
    log(session, case, "note", Actor.of(session, actor), body=note.body)
    case.updated_at = clock.now()
    return case


def add_reply(session: Session, *, actor: Principal, case_id: int, reply: ReplyIn) -> Case:
    """A reply to the customer: emailed by a job, logged on the case, and the case's (first) response."""
    case = get_case(session, actor=actor, case_id=case_id, for_update=True)
    if case.status == "closed":
        raise Conflict("The case is closed; reopen it to reply.")
    email = _customer_email(session, case)
    if email is None:
        msg = "The case's customer has no email address to reply to."
        raise InvalidInput(msg, errors=[{"loc": ["case_id"], "msg": msg}])
    now = clock.now()
    who = Actor.of(session, actor)
    subject = reply.subject or f"Re: {case.title}"
    activity = CaseActivity(
        case_id=case.id,
        workspace_id=case.workspace_id,
        at=now,
        kind="reply",
        actor_user_id=who.user_id,
        actor_label=who.label,
        body=reply.body,
        data={"to": email, "subject": subject, "delivery": "queued"},
    )
    session.add(activity)
    if case.status == "new":
        set_status(session, case, "open", who)
    if case.first_response_at is None:
        case.first_response_at = now
        case.first_response_minutes = _minutes(case.created_at, now)
    case.last_response_at = now
    case.updated_at = now
    session.flush()
    enqueue(session, SEND_REPLY, workspace_id=case.workspace_id, activity_id=activity.id)
    sla.refresh(session, case)
    events.case_event(session, case, events.CASE_UPDATED, changed=["reply"])
    return case


def _customer_email(session: Session, case: Case) -> str | None:
    if case.customer_id is None:
        return None
    return session.scalar(select(Customer.email).where(Customer.id == case.customer_id))


def close(session: Session, *, actor: Principal, case_id: int, outcome: CloseIn) -> Case:
    case = get_case(session, actor=actor, case_id=case_id, for_update=True)
    if case.status == "closed":
        raise Conflict(f"Case {case_id} is already closed.")
    now = clock.now()
    who = Actor.of(session, actor)
    log(session, case, "status", who, **{"from": case.status, "to": "closed"})
    case.status = "closed"
    case.resolved_at = case.resolved_at or now
    case.closed_at = now
    case.outcome = outcome.model_dump()
    case.updated_at = now
    log(session, case, "closed", who, **case.outcome)
    sla.refresh(session, case)
    _finish(case, now)
    in_time = case.first_response_due_at is None or (
        case.first_response_at is not None and case.first_response_at <= case.first_response_due_at
    )
    case.closed_loop = 1.0 if outcome.contacted and in_time else 0.0
    case.recovered = 1.0 if outcome.recovered else 0.0
    events.case_event(session, case, events.CASE_CLOSED, outcome=case.outcome)
    audit.record(session, actor, "case.close", entity_type="case", entity_id=case.id)
    return case


def _minutes(start: datetime, end: datetime) -> float:
    return round((end - start).total_seconds() / 60, 2)


def _finish(case: Case, now: datetime) -> None:
    """The loop measures of a finished case: time to resolution and whether it met its SLA."""
    case.resolution_minutes = _minutes(case.created_at, case.resolved_at or now)
    state = sla.state(case, now)
    case.within_sla = None if state == "none" else (0.0 if state == "breached" else 1.0)


def raise_priority(priority: str) -> str:
    return PRIORITIES[min(PRIORITIES.index(priority) + 1, len(PRIORITIES) - 1)]


def notify(session: Session, case: Case, kind: str, user_ids: list[int]) -> None:
    """Email users about the case (assigned, sla_warning, escalated) through a job, once per case and moment."""
    recipients = sorted({u for u in user_ids if u is not None})
    if recipients:
        enqueue(
            session,
            NOTIFY,
            workspace_id=case.workspace_id,
            case_id=case.id,
            kind=kind,
            user_ids=recipients,
            at=clock.now().isoformat(),
        )
