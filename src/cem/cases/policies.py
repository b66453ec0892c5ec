"""SLA policies and business-hours calendars: create, read, replace, delete (choosing and timing: cem.cases.sla)."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from cem.auth import audit
from cem.auth.principal import Principal
from cem.cases import teams
from cem.cases.calendar import Calendar, CalendarError
from cem.cases.models import BusinessCalendar, SlaPolicy
from cem.cases.schemas import CalendarIn, SlaPolicyIn
from cem.db.unique import flush_unique
from cem.errors import Conflict, InvalidInput, NotFound

Owned = TypeVar("Owned", BusinessCalendar, SlaPolicy)


def _owned(session: Session, model: type[Owned], row_id: int, workspace_id: int, what: str) -> Owned:
    row = session.get(model, row_id)
    if row is None or row.workspace_id != workspace_id:
        raise NotFound(f"{what} {row_id} does not exist.")
    return row


def get_calendar(session: Session, *, workspace_id: int, calendar_id: int) -> BusinessCalendar:
    return _owned(session, BusinessCalendar, calendar_id, workspace_id, "Business calendar")


def get_policy(session: Session, *, workspace_id: int, policy_id: int) -> SlaPolicy:
    return _owned(session, SlaPolicy, policy_id, workspace_id, "SLA policy")


def list_calendars(session: Session, *, workspace_id: int) -> list[BusinessCalendar]:
    stmt = select(BusinessCalendar).where(BusinessCalendar.workspace_id == workspace_id)
    return list(session.scalars(stmt.order_by(BusinessCalendar.name)))


def list_policies(session: Session, *, workspace_id: int) -> list[SlaPolicy]:
    stmt = select(SlaPolicy).where(SlaPolicy.workspace_id == workspace_id)
    return list(session.scalars(stmt.order_by(SlaPolicy.position, SlaPolicy.id)))


def save_calendar(
    session: Session, *, actor: Principal, calendar_in: CalendarIn, calendar_id: int | None = None
) -> BusinessCalendar:
    hours: dict[str, list[list[str]]] = {
        day: [list(span) for span in spans] for day, spans in calendar_in.hours.items()
    }
    holidays = sorted({d.isoformat() for d in calendar_in.holidays})
    existing = get_calendar(session, workspace_id=actor.workspace_id, calendar_id=calendar_id) if calendar_id else None
    try:
        Calendar.from_config(calendar_in.timezone, hours, holidays)
    except CalendarError as exc:
        loc = "timezone" if "time zone" in str(exc) else "hours"
        raise InvalidInput(str(exc), errors=[{"loc": [loc], "msg": str(exc)}]) from None
    row = existing or BusinessCalendar(workspace_id=actor.workspace_id)
    row.name, row.timezone, row.hours, row.holidays = calendar_in.name, calendar_in.timezone, hours, holidays
    session.add(row)
    flush_unique(session, f"A business calendar named {calendar_in.name!r}")
    audit.record(session, actor, "business_calendar.save", entity_type="business_calendar", entity_id=row.id)
    return row


def delete_calendar(session: Session, *, actor: Principal, calendar_id: int) -> None:
    row = get_calendar(session, workspace_id=actor.workspace_id, calendar_id=calendar_id)
    if session.scalar(select(exists().where(SlaPolicy.calendar_id == row.id))):
        raise Conflict("SLA policies use this calendar; give them another one first.")
    session.delete(row)
    audit.record(session, actor, "business_calendar.delete", entity_type="business_calendar", entity_id=calendar_id)


def save_policy(
    session: Session, *, actor: Principal, policy_in: SlaPolicyIn, policy_id: int | None = None
) -> SlaPolicy:
    existing = get_policy(session, workspace_id=actor.workspace_id, policy_id=policy_id) if policy_id else None
    try:
        get_calendar(session, workspace_id=actor.workspace_id, calendar_id=policy_in.calendar_id)
    except NotFound as exc:
        raise InvalidInput(exc.detail, errors=[{"loc": ["calendar_id"], "msg": exc.detail}]) from None
    for index, team_id in enumerate(policy_in.conditions.team_ids):
        try:
            teams.get_team(session, workspace_id=actor.workspace_id, team_id=team_id)
        except NotFound as exc:
            loc = ["conditions", "team_ids", index]
            raise InvalidInput(exc.detail, errors=[{"loc": loc, "msg": exc.detail}]) from None
    values = policy_in.model_dump(mode="json")
    row = existing or SlaPolicy(workspace_id=actor.workspace_id)
    for name, value in values.items():
        setattr(row, name, value)
    session.add(row)
    flush_unique(session, f"An SLA policy named {policy_in.name!r}")
    audit.record(session, actor, "sla_policy.save", entity_type="sla_policy", entity_id=row.id)
    return row


def delete_policy(session: Session, *, actor: Principal, policy_id: int) -> None:
    row = get_policy(session, workspace_id=actor.workspace_id, policy_id=policy_id)
    session.delete(row)
    audit.record(session, actor, "sla_policy.delete", entity_type="sla_policy", entity_id=policy_id)
