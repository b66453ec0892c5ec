"""SLA pages: policies (conditions, calendar, targets in hours and minutes) and business-hours calendars (time zone,
work periods per weekday, holidays) as plain forms; included in cem.cases.web_setup's router."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from cem.api.deps import get_db
from cem.auth.permissions import Permission
from cem.auth.principal import Principal
from cem.cases import policies, teams
from cem.cases.calendar import WEEKDAYS
from cem.cases.models import BusinessCalendar, SlaPolicy
from cem.cases.schemas import CalendarIn, SlaPolicyIn
from cem.errors import CEMError, InvalidInput
from cem.schemas import Id
from cem.web.deps import page_permission, render
from cem.web.forms import see_other, validation_message

PageLoop = Annotated[Principal, Depends(page_permission(Permission.loop))]
DAY_NAMES = dict(
    zip(WEEKDAYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"), strict=True)
)
PRIORITIES = ("low", "normal", "high", "urgent")
TARGETS = {"first_response": "First response", "update": "Update", "resolution": "Resolution"}
_PERIOD = re.compile(r"^\s*(\d{1,2}:\d{2})\s*[-\u2013]\s*(\d{1,2}:\d{2})\s*$")

router = APIRouter()


# -- form <-> body ----------------------------------------------------------------------------------------------


def calendar_in(data: Any) -> CalendarIn:
    """The calendar form as the API's body; InvalidInput naming the weekday or holiday that is wrong."""
    hours: dict[str, list[tuple[str, str]]] = {}
    for day in WEEKDAYS:
        text = str(data.get(f"hours-{day}", "")).strip()
        spans = []
        for part in filter(None, (p.strip() for p in text.split(","))):
            found = _PERIOD.match(part)
            if found is None:
                raise InvalidInput(f"{DAY_NAMES[day]}: “{part}” is not a period like 09:00-17:00.")
            spans.append((found.group(1).zfill(5), found.group(2).zfill(5)))
        if spans:
            hours[day] = spans
    holidays = []
    for part in re.split(r"[\s,]+", str(data.get("holidays", "")).strip()):
        if not part:
            continue
        try:
            holidays.append(date.fromisoformat(part))
        except ValueError:
            raise InvalidInput(f"Holidays: “{part}” is not a date like 2026-12-25.") from None
    try:
        name, timezone = (str(data.get(k, "")).strip() for k in ("name", "timezone"))
        return CalendarIn.model_validate({"name": name, "timezone": timezone, "hours": hours, "holidays": holidays})
    except ValidationError as exc:
        raise InvalidInput(validation_message(exc)) from None


def calendar_form(calendar: BusinessCalendar | None) -> dict[str, Any]:
    if calendar is None:
        hours = {d: "09:00-17:00" if d not in ("sat", "sun") else "" for d in WEEKDAYS}
        return {"name": "", "timezone": "UTC", "hours": hours, "holidays": ""}
    return {
        "name": calendar.name,
        "timezone": calendar.timezone,
        "hours": {d: ", ".join(f"{a}-{b}" for a, b in calendar.hours.get(d, [])) for d in WEEKDAYS},
        "holidays": "\n".join(calendar.holidays),
    }


def posted_calendar_form(data: Any) -> dict[str, Any]:
    """What was typed, to show a refused form again unchanged."""
    return {
        "name": str(data.get("name", "")),
        "timezone": str(data.get("timezone", "")),
        "hours": {d: str(data.get(f"hours-{d}", "")) for d in WEEKDAYS},
        "holidays": str(data.get("holidays", "")),
    }


def _minutes(data: Any, name: str, *, required: bool) -> int | None:
    hours, minutes = (str(data.get(f"{name}_{unit}", "")).strip() for unit in ("hours", "minutes"))
    if not hours and not minutes:
        if required:
            raise InvalidInput(f"{TARGETS[name]} target: enter hours and/or minutes.")
        return None
    if not (hours or "0").isdigit() or not (minutes or "0").isdigit():
        raise InvalidInput(f"{TARGETS[name]} target: hours and minutes are whole numbers.")
    total = int(hours or 0) * 60 + int(minutes or 0)
    if not 1 <= total <= 525_600:
        raise InvalidInput(f"{TARGETS[name]} target: between 1 minute and 365 days.")
    return total


def policy_in(data: Any) -> SlaPolicyIn:
    """The policy form as the API's body; InvalidInput naming the field that is wrong."""
    calendar = str(data.get("calendar_id", ""))
    if not calendar.isdigit():
        raise InvalidInput("Calendar: choose the business hours the targets count in (add a calendar first).")
    key, value = (str(data.get(f"attribute_{p}", "")).strip() for p in ("key", "value"))
    body = {
        "name": str(data.get("name", "")).strip(),
        "position": int(p) if (p := str(data.get("position", "0")).strip()).isdigit() else 0,
        "active": data.get("active") == "on",
        "calendar_id": int(calendar),
        "first_response_minutes": _minutes(data, "first_response", required=True),
        "update_minutes": _minutes(data, "update", required=False),
        "resolution_minutes": _minutes(data, "resolution", required=True),
        "warning_minutes": int(w) if (w := str(data.get("warning_minutes", "15")).strip()).isdigit() else 15,
        "conditions": {
            "priorities": [p for p in data.getlist("priorities") if p in PRIORITIES],
            "team_ids": [int(t) for t in data.getlist("team_ids") if str(t).isdigit()],
            "customer_attribute": {"key": key, "value": value} if key else None,
        },
    }
    try:
        return SlaPolicyIn.model_validate(body)
    except ValidationError as exc:
        raise InvalidInput(validation_message(exc)) from None


def policy_form(policy: SlaPolicy | None) -> dict[str, Any]:
    def split(total: int | None) -> tuple[str, str]:
        return ("", "") if total is None else (str(total // 60), str(total % 60))

    if policy is None:
        targets = {"first_response": ("4", "0"), "update": ("", ""), "resolution": ("24", "0")}
        return {
            "name": "",
            "position": "0",
            "active": True,
            "calendar_id": None,
            "targets": targets,
            "warning_minutes": "15",
            "priorities": [],
            "team_ids": [],
            "attribute_key": "",
            "attribute_value": "",
        }
    attribute = policy.conditions.get("customer_attribute") or {}
    return {
        "name": policy.name,
        "position": str(policy.position),
        "active": policy.active,
        "calendar_id": policy.calendar_id,
        "targets": {
            "first_response": split(policy.first_response_minutes),
            "update": split(policy.update_minutes),
            "resolution": split(policy.resolution_minutes),
        },
        "warning_minutes": str(policy.warning_minutes),
        "priorities": policy.conditions.get("priorities", []),
        "team_ids": policy.conditions.get("team_ids", []),
        "attribute_key": attribute.get("key", ""),
        "attribute_value": str(attribute.get("value", "")),
    }


def posted_policy_form(data: Any) -> dict[str, Any]:
    """What was typed, to show a refused form again unchanged."""
    form = policy_form(None)
    form.update(
        {k: str(data.get(k, "")) for k in ("name", "position", "warning_minutes", "attribute_key", "attribute_value")}
    )
    form["active"] = data.get("active") == "on"
    form["calendar_id"] = int(c) if (c := str(data.get("calendar_id", ""))).isdigit() else None
    form["targets"] = {n: (str(data.get(f"{n}_hours", "")), str(data.get(f"{n}_minutes", ""))) for n in TARGETS}
    form["priorities"] = list(data.getlist("priorities"))
    form["team_ids"] = [int(t) for t in data.getlist("team_ids") if str(t).isdigit()]
    return form


def _words(minutes: int | None) -> str:
    if minutes is None:
        return "—"
    hours, rest = divmod(minutes, 60)
    return " ".join(p for p in (f"{hours} h" if hours else "", f"{rest} min" if rest else "") if p)


# -- pages ------------------------------------------------------------------------------------------------------


def _slas_page(request: Request, principal: Principal, *, status: int = 200, **context: Any) -> Response:
    with get_db(request).unit_of_work(readonly=True) as session:
        calendars = policies.list_calendars(session, workspace_id=principal.workspace_id)
        found = policies.list_policies(session, workspace_id=principal.workspace_id)
        team_list = teams.list_teams(session, workspace_id=principal.workspace_id)
        for row in (*calendars, *found):
            session.expunge(row)
    context.setdefault("policy_form", policy_form(None))
    context.setdefault("calendar_form", calendar_form(None))
    response = render(
        request,
        "loop/slas.html",
        principal,
        calendars=calendars,
        policies=found,
        teams=team_list,
        calendar_names={c.id: c.name for c in calendars},
        team_names={t.id: t.name for t in team_list},
        weekdays=DAY_NAMES,
        priorities=PRIORITIES,
        targets=TARGETS,
        words=_words,
        **context,
    )
    response.status_code = status
    return response


@router.get("/slas")
def slas_page(request: Request, principal: PageLoop) -> Response:
    """Every SLA policy in the order tried and every business-hours calendar, with forms to add either."""
    return _slas_page(request, principal)


def _saved(request: Request, save: Callable[[Session], object]) -> CEMError | None:
    """Run one save in a unit of work; the refusal to show on the form (nothing stored), or None when saved. An
    unknown id stays a 404 page."""
    try:
        with get_db(request).unit_of_work() as session:
            save(session)
    except CEMError as exc:
        if exc.status_code == 404:
            raise
        return exc
    return None


@router.post("/slas/calendars")
async def create_calendar(request: Request, principal: PageLoop) -> Response:
    data = await request.form()
    refused = _saved(request, lambda s: policies.save_calendar(s, actor=principal, calendar_in=calendar_in(data)))
    if refused is None:
        return see_other("/slas")
    typed = posted_calendar_form(data)
    return _slas_page(
        request, principal, status=refused.status_code, calendar_error=refused.detail, calendar_form=typed
    )


@router.get("/slas/calendars/{calendar_id}")
def calendar_page(request: Request, principal: PageLoop, calendar_id: Id) -> Response:
    with get_db(request).unit_of_work(readonly=True) as session:
        calendar = policies.get_calendar(session, workspace_id=principal.workspace_id, calendar_id=calendar_id)
        form = calendar_form(calendar)
    return render(request, "loop/calendar.html", principal, calendar_id=calendar_id, form=form, weekdays=DAY_NAMES)


@router.post("/slas/calendars/{calendar_id}")
async def update_calendar(request: Request, principal: PageLoop, calendar_id: Id) -> Response:
    data = await request.form()
    refused = _saved(
        request,
        lambda s: policies.save_calendar(s, actor=principal, calendar_in=calendar_in(data), calendar_id=calendar_id),
    )
    if refused is None:
        return see_other("/slas")
    typed = posted_calendar_form(data)
    response = render(
        request,
        "loop/calendar.html",
        principal,
        calendar_id=calendar_id,
        form=typed,
        weekdays=DAY_NAMES,
        error=refused.detail,
    )
    response.status_code = refused.status_code
    return response


@router.post("/slas/calendars/{calendar_id}/delete")
def delete_calendar(request: Request, principal: PageLoop, calendar_id: Id) -> Response:
    refused = _saved(request, lambda s: policies.delete_calendar(s, actor=principal, calendar_id=calendar_id))
    if refused is None:
        return see_other("/slas")
    return _slas_page(request, principal, status=refused.status_code, calendar_error=refused.detail)


@router.post("/slas")
async def create_policy(request: Request, principal: PageLoop) -> Response:
    data = await request.form()
    refused = _saved(request, lambda s: policies.save_policy(s, actor=principal, policy_in=policy_in(data)))
    if refused is None:
        return see_other("/slas")
    form = posted_policy_form(data)
    return _slas_page(request, principal, status=refused.status_code, policy_error=refused.detail, policy_form=form)


@router.get("/slas/{policy_id}")
def policy_page(request: Request, principal: PageLoop, policy_id: Id) -> Response:
    with get_db(request).unit_of_work(readonly=True) as session:
        policy = policies.get_policy(session, workspace_id=principal.workspace_id, policy_id=policy_id)
        form = policy_form(policy)
    return _policy_page(request, principal, policy_id, form)


def _policy_page(
    request: Request, principal: Principal, policy_id: int, form: dict[str, Any], *, status: int = 200, **context: Any
) -> Response:
    with get_db(request).unit_of_work(readonly=True) as session:
        calendars = [(c.id, c.name) for c in policies.list_calendars(session, workspace_id=principal.workspace_id)]
        team_list = teams.list_teams(session, workspace_id=principal.workspace_id)
    response = render(
        request,
        "loop/policy.html",
        principal,
        policy_id=policy_id,
        form=form,
        calendars=calendars,
        teams=team_list,
        priorities=PRIORITIES,
        targets=TARGETS,
        **context,
    )
    response.status_code = status
    return response


@router.post("/slas/{policy_id}")
async def update_policy(request: Request, principal: PageLoop, policy_id: Id) -> Response:
    data = await request.form()
    refused = _saved(
        request, lambda s: policies.save_policy(s, actor=principal, policy_in=policy_in(data), policy_id=policy_id)
    )
    if refused is None:
        return see_other("/slas")
    form = posted_policy_form(data)
    return _policy_page(request, principal, policy_id, form, status=refused.status_code, error=refused.detail)


@router.post("/slas/{policy_id}/delete")
def delete_policy(request: Request, principal: PageLoop, policy_id: Id) -> Response:
    with get_db(request).unit_of_work() as session:
        policies.delete_policy(session, actor=principal, policy_id=policy_id)
    return see_other("/slas")
