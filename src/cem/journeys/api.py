"""Journeys, stages and touchpoints over JSON."""

from __future__ import annotations

from fastapi import APIRouter

from cem.api.body import StrictJsonRoute
from cem.api.deps import DbSession, JourneyManager, Reader
from cem.journeys import service
from cem.journeys.schemas import (
    JourneyIn,
    JourneyRead,
    JourneyUpdate,
    ReorderIn,
    StageIn,
    StageRead,
    StageUpdate,
    TouchpointIn,
    TouchpointRead,
    TouchpointUpdate,
)
from cem.schemas import Id

router = APIRouter(tags=["journeys"], route_class=StrictJsonRoute)


@router.get("/journeys", response_model=list[JourneyRead], summary="List journeys")
def list_journeys(session: DbSession, actor: Reader, include_archived: bool = False) -> list[JourneyRead]:
    journeys = service.list_journeys(session, workspace_id=actor.workspace_id, include_archived=include_archived)
    return [service.read_journey(session, workspace_id=actor.workspace_id, journey_id=j.id) for j in journeys]


@router.post("/journeys", response_model=JourneyRead, status_code=201, summary="Create a journey")
def create_journey(session: DbSession, actor: JourneyManager, journey_in: JourneyIn) -> JourneyRead:
    journey = service.create_journey(session, actor=actor, journey_in=journey_in)
    return service.read_journey(session, workspace_id=actor.workspace_id, journey_id=journey.id)


@router.get("/journeys/{journey_id}", response_model=JourneyRead, summary="Get a journey")
def get_journey(session: DbSession, actor: Reader, journey_id: Id) -> JourneyRead:
    return service.read_journey(session, workspace_id=actor.workspace_id, journey_id=journey_id)


@router.patch("/journeys/{journey_id}", response_model=JourneyRead, summary="Rename or archive a journey")
def update_journey(session: DbSession, actor: JourneyManager, journey_id: Id, update: JourneyUpdate) -> JourneyRead:
    service.update_journey(session, actor=actor, journey_id=journey_id, update=update)
    return service.read_journey(session, workspace_id=actor.workspace_id, journey_id=journey_id)


@router.post("/journeys/{journey_id}/stages", response_model=StageRead, status_code=201, summary="Add a stage")
def add_stage(session: DbSession, actor: JourneyManager, journey_id: Id, stage_in: StageIn) -> StageRead:
    stage = service.add_stage(session, actor=actor, journey_id=journey_id, stage_in=stage_in)
    return StageRead.model_validate(stage)


@router.put("/journeys/{journey_id}/stages/order", response_model=JourneyRead, summary="Reorder stages")
def reorder_stages(session: DbSession, actor: JourneyManager, journey_id: Id, order: ReorderIn) -> JourneyRead:
    service.reorder_stages(session, actor=actor, journey_id=journey_id, ids=order.ids)
    return service.read_journey(session, workspace_id=actor.workspace_id, journey_id=journey_id)


@router.patch("/stages/{stage_id}", response_model=StageRead, summary="Rename or archive a stage")
def update_stage(session: DbSession, actor: JourneyManager, stage_id: Id, update: StageUpdate) -> StageRead:
    return StageRead.model_validate(service.update_stage(session, actor=actor, stage_id=stage_id, update=update))


@router.post(
    "/stages/{stage_id}/touchpoints",
    response_model=TouchpointRead,
    status_code=201,
    summary="Add a touchpoint",
)
def add_touchpoint(session: DbSession, actor: JourneyManager, stage_id: Id, tp_in: TouchpointIn) -> TouchpointRead:
    return TouchpointRead.model_validate(service.add_touchpoint(session, actor=actor, stage_id=stage_id, tp_in=tp_in))


@router.put("/stages/{stage_id}/touchpoints/order", response_model=StageRead, summary="Reorder touchpoints")
def reorder_touchpoints(session: DbSession, actor: JourneyManager, stage_id: Id, order: ReorderIn) -> StageRead:
    return StageRead.model_validate(service.reorder_touchpoints(session, actor=actor, stage_id=stage_id, ids=order.ids))


@router.patch("/touchpoints/{touchpoint_id}", response_model=TouchpointRead, summary="Edit or archive a touchpoint")
def update_touchpoint(
    session: DbSession, actor: JourneyManager, touchpoint_id: Id, update: TouchpointUpdate
) -> TouchpointRead:
    tp = service.update_touchpoint(session, actor=actor, touchpoint_id=touchpoint_id, update=update)
    return TouchpointRead.model_validate(tp)
