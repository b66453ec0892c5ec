"""Journey pages: list and create, and the journey map with stages left to right and every edit form.

Each edit is a plain form POST (works without JavaScript) followed by a redirect; an error re-renders the
page with a readable message and the status code of the error, and the failed unit of work is rolled back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from cem.api.deps import get_db
from cem.auth.permissions import Permission
from cem.auth.principal import Principal
from cem.errors import CEMError, InvalidInput
from cem.journeys import service
from cem.journeys.models import CHANNELS
from cem.journeys.schemas import JourneyIn, JourneyUpdate, StageIn, StageUpdate, TouchpointIn, TouchpointUpdate
from cem.web.deps import PageJourneys, PageReader, render
from cem.web.forms import blank_to_none, see_other
from cem.web.refusals import refusal_message, refused

router = APIRouter()

Text = Annotated[str, Form(max_length=2000)]
Flag = Annotated[str, Form(max_length=5)]


def _journey_url(journey_id: int, show_archived: str = "") -> str:
    return f"/journeys/{journey_id}" + ("?archived=1" if show_archived == "1" else "")


def _list_page(request: Request, principal: Principal, *, show_archived: bool, **extra: Any) -> Response:
    with get_db(request).unit_of_work(readonly=True) as session:
        journeys = service.list_journeys(session, workspace_id=principal.workspace_id, include_archived=show_archived)
    context = {"journeys": journeys, "show_archived": show_archived, "error": None, "form": {}, **extra}
    return render(request, "journeys/list.html", principal, can_edit=principal.can(Permission.journeys), **context)


@router.get("/journeys")
def journey_list(request: Request, principal: PageReader, archived: str = "") -> Response:
    """All journeys (archived ones on request) and, for journey managers, the create form."""
    return _list_page(request, principal, show_archived=archived == "1")


@router.post("/journeys")
def journey_create(
    request: Request, principal: PageJourneys, key: Text, name: Text, description: Text = ""
) -> Response:
    """Create a journey, then open it; a bad or duplicate key re-renders the list with the reason."""
    form = {"key": key, "name": name, "description": description}
    try:
        journey_in = JourneyIn(key=key, name=name, description=description.strip())
        with get_db(request).unit_of_work() as session:
            journey = service.create_journey(session, actor=principal, journey_in=journey_in)
            journey_id = journey.id
    except (CEMError, ValidationError) as exc:
        return refused(_list_page(request, principal, show_archived=False, error=refusal_message(exc), form=form), exc)
    return see_other(_journey_url(journey_id))


def _map_page(request: Request, principal: Principal, journey_id: int, show_archived: bool, **extra: Any) -> Response:
    with get_db(request).unit_of_work(readonly=True) as session:
        journey = service.read_journey(session, workspace_id=principal.workspace_id, journey_id=journey_id)
    stages = [s for s in journey.stages if show_archived or s.archived_at is None]
    stage_orders = moves([s.id for s in journey.stages], [s.id for s in stages])
    views = []
    for stage in stages:
        tps = [t for t in stage.touchpoints if show_archived or t.archived_at is None]
        tp_orders = moves([t.id for t in stage.touchpoints], [t.id for t in tps])
        views.append({"stage": stage, "touchpoints": tps, "orders": stage_orders[stage.id], "tp_orders": tp_orders})
    context = {
        "journey": journey,
        "stages": views,
        "show_archived": show_archived,
        "channels": CHANNELS,
        "can_edit": principal.can(Permission.journeys),
        "error": None,
        **extra,
    }
    return render(request, "journeys/detail.html", principal, **context)


def moves(all_ids: list[int], visible: list[int]) -> dict[int, dict[str, str]]:
    """For each visible item, the full new order (comma-separated) after moving it before/after its visible
    neighbour. Hidden (archived) items keep their slots, because the service wants every id exactly once."""
    out: dict[int, dict[str, str]] = {}
    for index, item in enumerate(visible):
        orders: dict[str, str] = {}
        for direction, neighbour_index in (("up", index - 1), ("down", index + 1)):
            if 0 <= neighbour_index < len(visible):
                order = list(all_ids)
                a, b = order.index(item), order.index(visible[neighbour_index])
                order[a], order[b] = order[b], order[a]
                orders[direction] = ",".join(str(i) for i in order)
        out[item] = orders
    return out


@router.get("/journeys/{journey_id}")
def journey_map(request: Request, principal: PageReader, journey_id: int, archived: str = "") -> Response:
    """The journey map: stages left to right, each with its touchpoints in order."""
    return _map_page(request, principal, journey_id, archived == "1")


def _edit(
    request: Request,
    principal: Principal,
    journey_id: Callable[[Session], int],
    action: Callable[[Session], object],
    show_archived: str,
) -> Response:
    """Run one edit in its own unit of work; redirect to the journey, or re-render it with the error."""
    target: int | None = None
    try:
        with get_db(request).unit_of_work() as session:
            target = journey_id(session)
            action(session)
    except (CEMError, ValidationError) as exc:
        if target is None:
            raise  # the journey itself is unknown: the plain error page says so
        return refused(_map_page(request, principal, target, show_archived == "1", error=refusal_message(exc)), exc)
    return see_other(_journey_url(target, show_archived))


def _parse_ids(raw: str) -> list[int]:
    try:
        return [int(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        raise InvalidInput("The new order must be a comma-separated list of ids.") from None


def _journey_of_stage(principal: Principal, stage_id: int) -> Callable[[Session], int]:
    return lambda s: service.get_stage(s, workspace_id=principal.workspace_id, stage_id=stage_id).journey_id


def _journey_of_touchpoint(principal: Principal, touchpoint_id: int) -> Callable[[Session], int]:
    def find(session: Session) -> int:
        tp = service.get_touchpoint(session, workspace_id=principal.workspace_id, touchpoint_id=touchpoint_id)
        return service.get_stage(session, workspace_id=principal.workspace_id, stage_id=tp.stage_id).journey_id

    return find


def _journey(principal: Principal, journey_id: int) -> Callable[[Session], int]:
    return lambda s: service.get_journey(s, workspace_id=principal.workspace_id, journey_id=journey_id).id


@router.post("/journeys/{journey_id}/edit")
def journey_rename(
    request: Request,
    principal: PageJourneys,
    journey_id: int,
    name: Text,
    description: Text = "",
    archived: Flag = "",
) -> Response:
    """Rename a journey or change its description."""

    def act(s: Session) -> object:
        update = JourneyUpdate(name=name, description=description.strip())
        return service.update_journey(s, actor=principal, journey_id=journey_id, update=update)

    return _edit(request, principal, _journey(principal, journey_id), act, archived)


@router.post("/journeys/{journey_id}/archive")
def journey_archive(
    request: Request, principal: PageJourneys, journey_id: int, archive: Flag, archived: Flag = ""
) -> Response:
    """Archive (archive=1) or unarchive (archive=0) a journey."""
    update = JourneyUpdate(archived=archive == "1")
    return _edit(
        request,
        principal,
        _journey(principal, journey_id),
        lambda s: service.update_journey(s, actor=principal, journey_id=journey_id, update=update),
        archived,
    )


@router.post("/journeys/{journey_id}/stages")
def stage_create(
    request: Request, principal: PageJourneys, journey_id: int, key: Text, name: Text, archived: Flag = ""
) -> Response:
    """Add a stage at the end of the journey."""
    return _edit(
        request,
        principal,
        _journey(principal, journey_id),
        lambda s: service.add_stage(s, actor=principal, journey_id=journey_id, stage_in=StageIn(key=key, name=name)),
        archived,
    )


@router.post("/journeys/{journey_id}/stages/order")
def stage_reorder(
    request: Request, principal: PageJourneys, journey_id: int, ids: Text, archived: Flag = ""
) -> Response:
    """Save a new stage order (the complete list of stage ids)."""
    return _edit(
        request,
        principal,
        _journey(principal, journey_id),
        lambda s: service.reorder_stages(s, actor=principal, journey_id=journey_id, ids=_parse_ids(ids)),
        archived,
    )


@router.post("/stages/{stage_id}/edit")
def stage_rename(request: Request, principal: PageJourneys, stage_id: int, name: Text, archived: Flag = "") -> Response:
    """Rename a stage."""
    return _edit(
        request,
        principal,
        _journey_of_stage(principal, stage_id),
        lambda s: service.update_stage(s, actor=principal, stage_id=stage_id, update=StageUpdate(name=name)),
        archived,
    )


@router.post("/stages/{stage_id}/archive")
def stage_archive(
    request: Request, principal: PageJourneys, stage_id: int, archive: Flag, archived: Flag = ""
) -> Response:
    """Archive or unarchive a stage."""
    update = StageUpdate(archived=archive == "1")
    return _edit(
        request,
        principal,
        _journey_of_stage(principal, stage_id),
        lambda s: service.update_stage(s, actor=principal, stage_id=stage_id, update=update),
        archived,
    )


@router.post("/stages/{stage_id}/touchpoints")
def touchpoint_create(
    request: Request, principal: PageJourneys, stage_id: int, key: Text, name: Text, channel: Text, archived: Flag = ""
) -> Response:
    """Add a touchpoint at the end of a stage."""

    def act(s: Session) -> object:
        tp_in = TouchpointIn(key=key, name=name, channel=channel)
        return service.add_touchpoint(s, actor=principal, stage_id=stage_id, tp_in=tp_in)

    return _edit(request, principal, _journey_of_stage(principal, stage_id), act, archived)


@router.post("/stages/{stage_id}/touchpoints/order")
def touchpoint_reorder(
    request: Request, principal: PageJourneys, stage_id: int, ids: Text, archived: Flag = ""
) -> Response:
    """Save a new touchpoint order within a stage."""
    return _edit(
        request,
        principal,
        _journey_of_stage(principal, stage_id),
        lambda s: service.reorder_touchpoints(s, actor=principal, stage_id=stage_id, ids=_parse_ids(ids)),
        archived,
    )


@router.post("/touchpoints/{touchpoint_id}/edit")
def touchpoint_rename(
    request: Request, principal: PageJourneys, touchpoint_id: int, name: Text, channel: Text, archived: Flag = ""
) -> Response:
    """Rename a touchpoint or change its channel."""

    def act(s: Session) -> object:
        update = TouchpointUpdate(name=name, channel=blank_to_none(channel))
        return service.update_touchpoint(s, actor=principal, touchpoint_id=touchpoint_id, update=update)

    return _edit(request, principal, _journey_of_touchpoint(principal, touchpoint_id), act, archived)


@router.post("/touchpoints/{touchpoint_id}/archive")
def touchpoint_archive(
    request: Request, principal: PageJourneys, touchpoint_id: int, archive: Flag, archived: Flag = ""
) -> Response:
    """Archive or unarchive a touchpoint."""
    update = TouchpointUpdate(archived=archive == "1")
    return _edit(
        request,
        principal,
        _journey_of_touchpoint(principal, touchpoint_id),
        lambda s: service.update_touchpoint(s, actor=principal, touchpoint_id=touchpoint_id, update=update),
        archived,
    )
