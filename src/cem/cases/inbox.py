"""The frontline's inbox: the cases a person works on (mine, my teams', all), the most urgent first.

Visibility is the service's (cem.cases.teams.visible_cases through cem.cases.service.visible_filtered): a tab only
narrows what the caller may see anyway, so an agent's "All" would be its own and its teams' cases, and the page
refuses it rather than pretend otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, false
from sqlalchemy.orm import Session

from cem.admin import service as admin_service
from cem.auth.permissions import Permission, Role, permissions_for
from cem.auth.principal import Principal
from cem.cases import clock, service, sla, teams
from cem.cases.models import OPEN_STATUSES, Case
from cem.cases.schemas import CaseRead, TeamRead
from cem.customers import service as customer_service
from cem.errors import Forbidden

TABS = {"mine": "My cases", "team": "My team's queue", "all": "All"}
PAGE_SIZE = 50
# A running case whose next target is this close is "due soon" (the sweep's own warning also marks it).
DUE_SOON = timedelta(hours=2)
# External ids that are pseudonymised keys (hex digests, base64 tokens) read as noise; show "Customer #id".
_HASHLIKE = re.compile(r"[0-9a-fA-F]{24,}|[A-Za-z0-9+/=_-]{32,}")


@dataclass(frozen=True)
class InboxFilter:
    tab: str = "mine"
    status: tuple[str, ...] = OPEN_STATUSES  # empty: any status
    priority: str | None = None
    team_id: int | None = None
    owner_id: int | None = None
    overdue: bool = False


@dataclass
class InboxRow:
    case: CaseRead
    customer: str
    owner: str
    team: str
    urgency: str  # breached | due_soon | running | paused | met | none
    due_at: datetime | None


@dataclass
class People:
    """The workspace's users and teams by id, for labels and the assignment selects."""

    users: dict[int, str] = field(default_factory=dict)
    teams: list[TeamRead] = field(default_factory=list)
    # Who may own a case: members whose role works cases (a viewer could never open it), by name.
    assignable: list[tuple[int, str]] = field(default_factory=list)

    def team_name(self, team_id: int | None) -> str:
        return next((t.name for t in self.teams if t.id == team_id), "")

    def user_name(self, user_id: int | None) -> str:
        return self.users.get(user_id, f"user {user_id}") if user_id is not None else ""


def people(session: Session, workspace_id: int) -> People:
    members = admin_service.list_members(session, workspace_id=workspace_id)
    users = {u.id: (u.name or u.email) for u, _role in members}
    workers = [u.id for u, role in members if Permission.cases in permissions_for(role)]
    return People(
        users=users,
        teams=teams.list_teams(session, workspace_id=workspace_id),
        assignable=sorted(((uid, users[uid]) for uid in workers), key=lambda pair: pair[1].casefold()),
    )


def default_tab(actor: Principal) -> str:
    return "mine" if actor.role == Role.agent else "all"


def customer_labels(session: Session, workspace_id: int, ids: set[int]) -> dict[int, str]:
    """Name, else email, else a readable external id; never a raw hash."""
    names = customer_service.customer_names(session, workspace_id=workspace_id, ids=ids)
    return {cid: (f"Customer #{cid}" if _HASHLIKE.fullmatch(label) else label) for cid, label in names.items()}


def _least(a: Any, b: Any) -> Any:
    """The earlier of two nullable times, portably (SQLite's two-argument min() is NULL when either is)."""
    return case((a.is_(None), b), (b.is_(None), a), (a <= b, a), else_=b)


def pending_due_sql() -> Any:
    """cem.cases.sla.pending_due as an SQL expression: the earliest target an open case has not met."""
    first = case((Case.first_response_at.is_(None), Case.first_response_due_at), else_=None)
    return _least(_least(first, Case.update_due_at), Case.resolution_due_at)


def _tab_clause(session: Session, actor: Principal, tab: str) -> ColumnElement[bool] | None:
    me = teams.acting_user_id(session, actor)
    if tab == "mine":
        return Case.owner_id == me if me is not None else false()
    if tab == "team":
        mine = teams.team_ids_of(session, workspace_id=actor.workspace_id, user_id=me) if me is not None else []
        return Case.team_id.in_(mine) if mine else false()
    if actor.role == Role.agent:
        raise Forbidden("Agents see their own and their team's cases; the All tab is for analysts and admins.")
    return None


def urgency(case_read: CaseRead, due: datetime | None, now: datetime) -> str:
    state = case_read.sla.state
    if state == "running" and due is not None and due - now <= DUE_SOON:
        return "due_soon"
    return state


def list_inbox(
    session: Session, *, actor: Principal, flt: InboxFilter, page: int = 1, known: People | None = None
) -> tuple[list[InboxRow], bool]:
    """One page of the tab, open cases first, then by the earliest unmet due time (overdue first), newest last."""
    now = clock.now()
    stmt = service.visible_filtered(
        session,
        actor=actor,
        status=list(flt.status) or None,
        team_id=flt.team_id,
        owner_id=flt.owner_id,
        priority=flt.priority,
        overdue=flt.overdue,
        now=now,
    )
    narrowed = _tab_clause(session, actor, flt.tab)
    if narrowed is not None:
        stmt = stmt.where(narrowed)
    due = pending_due_sql()
    is_open = case((Case.status.in_(OPEN_STATUSES), 0), else_=1)
    stmt = stmt.order_by(is_open, case((due.is_(None), 1), else_=0), due, Case.id.desc())
    found = list(session.scalars(stmt.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)))
    more = len(found) > PAGE_SIZE
    found = found[:PAGE_SIZE]
    known = known or people(session, actor.workspace_id)
    customers = customer_labels(session, actor.workspace_id, {c.customer_id for c in found if c.customer_id})
    rows = []
    for c in found:
        read = service.read_case(c, now)
        next_due = sla.pending_due(c)
        rows.append(
            InboxRow(
                case=read,
                customer=customers.get(c.customer_id, "") if c.customer_id else "",
                owner=known.user_name(c.owner_id),
                team=known.team_name(c.team_id),
                urgency=urgency(read, next_due, now),
                due_at=next_due,
            )
        )
    return rows, more
