"""Experience targets: the value a metric is promised to reach at a journey stage or touchpoint."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Float, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cem.db.base import Base, BigIntPK, IdMixin, TimestampMixin


class ExperienceTarget(IdMixin, TimestampMixin, Base):
    __tablename__ = "experience_target"
    __table_args__ = (
        # scope_key is "stage:<id>" or "touchpoint:<id>": one target per place and metric (nullable FKs
        # cannot carry that uniqueness portably).
        UniqueConstraint("workspace_id", "scope_key", "metric"),
        CheckConstraint("(stage_id IS NULL) <> (touchpoint_id IS NULL)", name="one_scope"),
    )

    workspace_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("workspace.id", ondelete="CASCADE"), index=True)
    scope_key: Mapped[str] = mapped_column(String(40))
    stage_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("journey_stage.id", ondelete="CASCADE"), nullable=True
    )
    touchpoint_id: Mapped[int | None] = mapped_column(
        BigIntPK, ForeignKey("touchpoint.id", ondelete="CASCADE"), nullable=True
    )
    metric: Mapped[str] = mapped_column(String(50))
    target: Mapped[float] = mapped_column(Float)
    note: Mapped[str] = mapped_column(String(1000), default="")
