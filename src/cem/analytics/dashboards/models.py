"""Saved custom dashboards and their widgets (one metric query each, drawn as a line, bar, table or tile)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cem.db.base import Base, BigIntPK, IdMixin, TimestampMixin


class Dashboard(IdMixin, TimestampMixin, Base):
    __tablename__ = "dashboard"

    workspace_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("workspace.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(2000), default="")
    # Private dashboards are seen by their owner only; shared ones by everyone in the workspace.
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    owner_type: Mapped[str] = mapped_column(String(16))  # user | token | cli
    owner_id: Mapped[int | None] = mapped_column(BigIntPK, nullable=True)
    created_by: Mapped[str] = mapped_column(String(200), default="")

    widgets: Mapped[list[DashboardWidget]] = relationship(
        back_populates="dashboard",
        cascade="all, delete-orphan",
        order_by="DashboardWidget.position",
        passive_deletes=True,
    )


class DashboardWidget(IdMixin, TimestampMixin, Base):
    __tablename__ = "dashboard_widget"

    dashboard_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("dashboard.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(200), default="")
    metric: Mapped[str] = mapped_column(String(64))
    chart: Mapped[str] = mapped_column(String(16))  # line | bar | table | tile
    group_by: Mapped[list[str]] = mapped_column(JSON, default=list)
    filters: Mapped[list[str]] = mapped_column(JSON, default=list)
    interval: Mapped[str | None] = mapped_column(String(16), nullable=True)
    compare_to: Mapped[str | None] = mapped_column(String(16), nullable=True)
    width: Mapped[int] = mapped_column(Integer, default=1)  # 1: half the row, 2: the full row
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)  # date range, min_n

    dashboard: Mapped[Dashboard] = relationship(back_populates="widgets")
