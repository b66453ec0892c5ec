"""Journeys, their ordered stages, and the touchpoints within each stage."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cem.db.base import Base, BigIntPK, IdMixin, TimestampMixin, UTCDateTime

CHANNELS = ("web", "app", "email", "phone", "chat", "store", "social", "support", "other")


class Journey(IdMixin, TimestampMixin, Base):
    __tablename__ = "journey"
    __table_args__ = (UniqueConstraint("workspace_id", "key"),)

    workspace_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("workspace.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(2000), default="")
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class JourneyStage(IdMixin, TimestampMixin, Base):
    __tablename__ = "journey_stage"
    __table_args__ = (UniqueConstraint("journey_id", "key"),)

    journey_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("journey.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(default=0)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Touchpoint(IdMixin, TimestampMixin, Base):
    __tablename__ = "touchpoint"
    __table_args__ = (UniqueConstraint("workspace_id", "key"),)

    workspace_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("workspace.id", ondelete="CASCADE"))
    stage_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("journey_stage.id", ondelete="CASCADE"), index=True)
    # Workspace-unique key so events and feedback can reference a touchpoint without knowing ids.
    key: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(default=0)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
