from __future__ import annotations

from datetime import datetime
from typing import Literal

from cem.schemas import Id, InputModel, Key, Name, ReadModel

Channel = Literal["web", "app", "email", "phone", "chat", "store", "social", "support", "other"]


class TouchpointIn(InputModel):
    key: Key
    name: Name
    channel: Channel


class TouchpointUpdate(InputModel):
    name: Name | None = None
    channel: Channel | None = None
    archived: bool | None = None


class TouchpointRead(ReadModel):
    id: int
    stage_id: int
    key: str
    name: str
    channel: str
    position: int
    archived_at: datetime | None


class StageIn(InputModel):
    key: Key
    name: Name
    touchpoints: list[TouchpointIn] = []


class StageUpdate(InputModel):
    name: Name | None = None
    archived: bool | None = None


class StageRead(ReadModel):
    id: int
    key: str
    name: str
    position: int
    archived_at: datetime | None
    touchpoints: list[TouchpointRead] = []


class JourneyIn(InputModel):
    key: Key
    name: Name
    description: str = ""
    stages: list[StageIn] = []


class JourneyUpdate(InputModel):
    name: Name | None = None
    description: str | None = None
    archived: bool | None = None


class JourneyRead(ReadModel):
    id: int
    key: str
    name: str
    description: str
    archived_at: datetime | None
    stages: list[StageRead] = []


class ReorderIn(InputModel):
    """The complete new order of ids (every current child exactly once)."""

    ids: list[Id]
