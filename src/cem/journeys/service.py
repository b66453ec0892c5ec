"""Journeys with ordered stages and touchpoints: create, rename, reorder, archive."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from cem.auth import audit
from cem.auth.principal import Principal
from cem.db.base import utcnow
from cem.db.unique import flush_unique
from cem.errors import InvalidInput, NotFound
from cem.journeys.models import Journey, JourneyStage, Touchpoint
from cem.journeys.schemas import (
    JourneyIn,
    JourneyRead,
    JourneyUpdate,
    StageIn,
    StageRead,
    StageUpdate,
    TouchpointIn,
    TouchpointRead,
    TouchpointUpdate,
)

Owned = TypeVar("Owned", Journey, Touchpoint)


def get_journey(session: Session, *, workspace_id: int, journey_id: int) -> Journey:
    return _owned(session, Journey, journey_id, workspace_id, "Journey")


def get_stage(session: Session, *, workspace_id: int, stage_id: int) -> JourneyStage:
    stage = session.get(JourneyStage, stage_id)
    if stage is None:
        raise NotFound(f"Stage {stage_id} does not exist.")
    get_journey(session, workspace_id=workspace_id, journey_id=stage.journey_id)
    return stage


def get_touchpoint(session: Session, *, workspace_id: int, touchpoint_id: int) -> Touchpoint:
    return _owned(session, Touchpoint, touchpoint_id, workspace_id, "Touchpoint")


def _owned(session: Session, model: type[Owned], row_id: int, workspace_id: int, what: str) -> Owned:
    """The row of this workspace; another workspace's row does not exist for the caller."""
    row = session.get(model, row_id)
    if row is None or row.workspace_id != workspace_id:
        raise NotFound(f"{what} {row_id} does not exist.")
    return row


def create_journey(session: Session, *, actor: Principal, journey_in: JourneyIn) -> Journey:
    journey = Journey(
        workspace_id=actor.workspace_id,
        key=journey_in.key,
        name=journey_in.name,
        description=journey_in.description,
    )
    session.add(journey)
    flush_unique(session, f"A journey with the key {journey_in.key!r}")
    for stage_in in journey_in.stages:
        _add_stage(session, actor=actor, journey=journey, stage_in=stage_in)
    audit.record(session, actor, "journey.create", entity_type="journey", entity_id=journey.id)
    return journey


def _next_position(session: Session, column: InstrumentedAttribute[int], where: ColumnElement[bool]) -> int:
    current = session.scalar(select(func.max(column)).where(where))
    return int(current) + 1 if current is not None else 0


def _add_stage(session: Session, *, actor: Principal, journey: Journey, stage_in: StageIn) -> JourneyStage:
    position = _next_position(session, JourneyStage.position, JourneyStage.journey_id == journey.id)
    stage = JourneyStage(journey_id=journey.id, key=stage_in.key, name=stage_in.name, position=position)
    session.add(stage)
    flush_unique(session, f"A stage with the key {stage_in.key!r} in this journey")
    for tp_in in stage_in.touchpoints:
        _add_touchpoint(session, actor=actor, stage=stage, tp_in=tp_in)
    return stage


def add_stage(session: Session, *, actor: Principal, journey_id: int, stage_in: StageIn) -> JourneyStage:
    journey = get_journey(session, workspace_id=actor.workspace_id, journey_id=journey_id)
    stage = _add_stage(session, actor=actor, journey=journey, stage_in=stage_in)
    audit.record(session, actor, "journey_stage.create", entity_type="journey_stage", entity_id=stage.id)
    return stage


def _add_touchpoint(session: Session, *, actor: Principal, stage: JourneyStage, tp_in: TouchpointIn) -> Touchpoint:
    position = _next_position(session, Touchpoint.position, Touchpoint.stage_id == stage.id)
    tp = Touchpoint(
        workspace_id=actor.workspace_id,
        stage_id=stage.id,
        key=tp_in.key,
        name=tp_in.name,
        channel=tp_in.channel,
        position=position,
    )
    session.add(tp)
    flush_unique(session, f"A touchpoint with the key {tp_in.key!r}")
    return tp


def add_touchpoint(session: Session, *, actor: Principal, stage_id: int, tp_in: TouchpointIn) -> Touchpoint:
    stage = get_stage(session, workspace_id=actor.workspace_id, stage_id=stage_id)
    tp = _add_touchpoint(session, actor=actor, stage=stage, tp_in=tp_in)
    audit.record(session, actor, "touchpoint.create", entity_type="touchpoint", entity_id=tp.id)
    return tp


def _archive(obj: Journey | JourneyStage | Touchpoint, archived: bool | None) -> None:
    if archived is True and obj.archived_at is None:
        obj.archived_at = utcnow()
    elif archived is False:
        obj.archived_at = None


def update_journey(session: Session, *, actor: Principal, journey_id: int, update: JourneyUpdate) -> Journey:
    journey = get_journey(session, workspace_id=actor.workspace_id, journey_id=journey_id)
    if update.name is not None:
        journey.name = update.name
    if update.description is not None:
        journey.description = update.description
    _archive(journey, update.archived)
    audit.record(session, actor, "journey.update", entity_type="journey", entity_id=journey.id)
    return journey


def update_stage(session: Session, *, actor: Principal, stage_id: int, update: StageUpdate) -> JourneyStage:
    stage = get_stage(session, workspace_id=actor.workspace_id, stage_id=stage_id)
    if update.name is not None:
        stage.name = update.name
    _archive(stage, update.archived)
    audit.record(session, actor, "journey_stage.update", entity_type="journey_stage", entity_id=stage.id)
    return stage


def update_touchpoint(
    session: Session, *, actor: Principal, touchpoint_id: int, update: TouchpointUpdate
) -> Touchpoint:
    tp = get_touchpoint(session, workspace_id=actor.workspace_id, touchpoint_id=touchpoint_id)
    if update.name is not None:
        tp.name = update.name
    if update.channel is not None:
        tp.channel = update.channel
    _archive(tp, update.archived)
    audit.record(session, actor, "touchpoint.update", entity_type="touchpoint", entity_id=tp.id)
    return tp


def _apply_order(items: Iterable[JourneyStage | Touchpoint], ids: list[int], what: str) -> None:
    by_id = {i.id: i for i in items}
    if sorted(ids) != sorted(by_id) or len(set(ids)) != len(ids):
        raise InvalidInput(f"Reorder needs every {what} id exactly once: {sorted(by_id)}.")
    for position, item_id in enumerate(ids):
        by_id[item_id].position = position


def reorder_stages(session: Session, *, actor: Principal, journey_id: int, ids: list[int]) -> Journey:
    journey = get_journey(session, workspace_id=actor.workspace_id, journey_id=journey_id)
    stages = session.scalars(select(JourneyStage).where(JourneyStage.journey_id == journey.id))
    _apply_order(stages, ids, "stage")
    audit.record(session, actor, "journey.reorder_stages", entity_type="journey", entity_id=journey.id)
    return journey


def reorder_touchpoints(session: Session, *, actor: Principal, stage_id: int, ids: list[int]) -> JourneyStage:
    stage = get_stage(session, workspace_id=actor.workspace_id, stage_id=stage_id)
    tps = session.scalars(select(Touchpoint).where(Touchpoint.stage_id == stage.id))
    _apply_order(tps, ids, "touchpoint")
    audit.record(session, actor, "journey_stage.reorder_touchpoints", entity_type="journey_stage", entity_id=stage.id)
    return stage


def list_journeys(session: Session, *, workspace_id: int, include_archived: bool = False) -> list[Journey]:
    stmt = select(Journey).where(Journey.workspace_id == workspace_id)
    if not include_archived:
        stmt = stmt.where(Journey.archived_at.is_(None))
    return list(session.scalars(stmt.order_by(Journey.name)))


def read_journey(session: Session, *, workspace_id: int, journey_id: int, include_archived: bool = True) -> JourneyRead:
    """The journey with its stages and touchpoints in order (two queries, no lazy loads)."""
    journey = get_journey(session, workspace_id=workspace_id, journey_id=journey_id)
    stage_stmt = select(JourneyStage).where(JourneyStage.journey_id == journey.id)
    if not include_archived:
        stage_stmt = stage_stmt.where(JourneyStage.archived_at.is_(None))
    stages = list(session.scalars(stage_stmt.order_by(JourneyStage.position, JourneyStage.id)))
    tp_stmt = select(Touchpoint).where(Touchpoint.stage_id.in_([s.id for s in stages]))
    if not include_archived:
        tp_stmt = tp_stmt.where(Touchpoint.archived_at.is_(None))
    tps = list(session.scalars(tp_stmt.order_by(Touchpoint.position, Touchpoint.id)))
    stage_reads = [
        StageRead.model_validate(s).model_copy(
            update={"touchpoints": [TouchpointRead.model_validate(t) for t in tps if t.stage_id == s.id]}
        )
        for s in stages
    ]
    return JourneyRead.model_validate(journey).model_copy(update={"stages": stage_reads})


def touchpoint_ids_by_key(session: Session, *, workspace_id: int, keys: set[str]) -> dict[str, int]:
    if not keys:
        return {}
    rows = session.execute(
        select(Touchpoint.key, Touchpoint.id).where(Touchpoint.workspace_id == workspace_id, Touchpoint.key.in_(keys))
    )
    return {row.key: row.id for row in rows}


def touchpoint_labels(session: Session, *, workspace_id: int) -> dict[int, str]:
    """Touchpoint id -> "Journey / Stage / Touchpoint" for display."""
    rows = session.execute(
        select(Touchpoint.id, Journey.name, JourneyStage.name, Touchpoint.name)
        .join(JourneyStage, JourneyStage.id == Touchpoint.stage_id)
        .join(Journey, Journey.id == JourneyStage.journey_id)
        .where(Touchpoint.workspace_id == workspace_id)
    )
    return {tid: f"{j} / {s} / {t}" for tid, j, s, t in rows}


def list_stages(session: Session, *, workspace_id: int) -> list[tuple[int, str]]:
    """(stage id, "Journey / Stage") for filters."""
    rows = session.execute(
        select(JourneyStage.id, Journey.name, JourneyStage.name)
        .join(Journey, Journey.id == JourneyStage.journey_id)
        .where(Journey.workspace_id == workspace_id)
        .order_by(Journey.name, JourneyStage.position)
    )
    return [(sid, f"{j} / {s}") for sid, j, s in rows]
