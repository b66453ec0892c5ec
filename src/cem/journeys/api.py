"""Journeys, stages and touchpoints over JSON."""

from __future__ import annotations

from fastapi import APIRouter

from cem.api.body import StrictJsonRoute
from cem.api.deps import DbSession, JourneyManager, Reader
from cem.journeys import schemas, service
from cem.schemas import Id

router = APIRouter(tags=["journeys"], route_class=StrictJsonRoute)


@router.get("/journeys", response_model=list[schemas.JourneyRead], summary="List journeys")
def list_journeys(session: DbSession, actor: Reader, include_archived: bool = False) -> list[schemas.JourneyRead]:
    journeys = service.list_journeys(session, workspace_id=actor.workspace_id, include_archived=include_archived)
    return [service.read_journey(session, workspace_id=actor.workspace_id, journey_id=j.id) for j in journeys]


@router.post("/journeys", response_model=schemas.JourneyRead, status_code=201, summary="Create a journey")
def create_journey(session: DbSession, actor: JourneyManager, journey_in: schemas.JourneyIn) -> schemas.JourneyRead:
    journey = service.create_journey(session, actor=actor, journey_in=journey_in)
    return service.read_journey(session, workspace_id=actor.workspace_id, journey_id=journey.id)


@router.get("/journeys/{journey_id}", response_model=schemas.JourneyRead, summary="Get a journey")
def get_journey(session: DbSession, actor: Reader, journey_id: Id) -> schemas.JourneyRead:
    return service.read_journey(session, workspace_id=actor.workspace_id, journey_id=journey_id)


@router.patch("/journeys/{journey_id}", response_model=schemas.JourneyRead, summary="Rename or archive a journey")
def update_journey(
    session: DbSession, actor: JourneyManager, journey_id: Id, update: schemas.JourneyUpdate
) -> schemas.JourneyRead:
    service.update_journey(session, actor=actor, journey_id=journey_id, update=update)
    return service.read_journey(session, workspace_id=actor.workspace_id, journey_id=journey_id)


@router.post("/journeys/{journey_id}/stages", response_model=schemas.StageRead, status_code=201, summary="Add a stage")
def add_stage(
    session: DbSession, actor: JourneyManager, journey_id: Id, stage_in: schemas.StageIn
) -> schemas.StageRead:
    stage = service.add_stage(session, actor=actor, journey_id=journey_id, stage_in=stage_in)
    return schemas.StageRead.model_validate(stage)


@router.put("/journeys/{journey_id}/stages/order", response_model=schemas.JourneyRead, summary="Reorder stages")
def reorder_stages(
    session: DbSession, actor: JourneyManager, journey_id: Id, order: schemas.ReorderIn
) -> schemas.JourneyRead:
    service.reorder_stages(session, actor=actor, journey_id=journey_id, ids=order.ids)
    return service.read_journey(session, workspace_id=actor.workspace_id, journey_id=journey_id)


@router.patch("/stages/{stage_id}", response_model=schemas.StageRead, summary="Rename or archive a stage")
def update_stage(
    session: DbSession, actor: JourneyManager, stage_id: Id, update: schemas.StageUpdate
) -> schemas.StageRead:
    return schemas.StageRead.model_validate(
        service.update_stage(session, actor=actor, stage_id=stage_id, update=update)
    )


@router.post(
    "/stages/{stage_id}/touchpoints",
    response_model=schemas.TouchpointRead,
    status_code=201,
    summary="Add a touchpoint",
)
def add_touchpoint(
    session: DbSession, actor: JourneyManager, stage_id: Id, tp_in: schemas.TouchpointIn
) -> schemas.TouchpointRead:
    return schemas.TouchpointRead.model_validate(
        service.add_touchpoint(session, actor=actor, stage_id=stage_id, tp_in=tp_in)
    )


@router.put("/stages/{stage_id}/touchpoints/order", response_model=schemas.StageRead, summary="Reorder touchpoints")
def reorder_touchpoints(
    session: DbSession, actor: JourneyManager, stage_id: Id, order: schemas.ReorderIn
) -> schemas.StageRead:
    return schemas.StageRead.model_validate(
        service.reorder_touchpoints(session, actor=actor, stage_id=stage_id, ids=order.ids)
    )


@router.patch(
    "/touchpoints/{touchpoint_id}", response_model=schemas.TouchpointRead, summary="Edit or archive a touchpoint"
)
def update_touchpoint(
    session: DbSession, actor: JourneyManager, touchpoint_id: Id, update: schemas.TouchpointUpdate
) -> schemas.TouchpointRead:
    tp = service.update_touchpoint(session, actor=actor, touchpoint_id=touchpoint_id, update=update)
    return schemas.TouchpointRead.model_validate(tp)
