"""Stored lifetime-value scores: each customer's latest, and each fit they came from."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from cem.db.base import Base, BigIntPK, IdMixin, UTCDateTime


class ClvFit(IdMixin, Base):
    """One scoring run: the purchase and spend models fitted on the workspace's purchases at that time."""

    __tablename__ = "clv_fit"

    workspace_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("workspace.id", ondelete="CASCADE"), index=True)
    model: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    log_likelihood: Mapped[float] = mapped_column(Float)
    spend_params: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    customers: Mapped[int] = mapped_column(Integer)
    repeat_buyers: Mapped[int] = mapped_column(Integer)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)  # event types, horizon, discount rate
    fitted_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CustomerValue(Base):
    """A customer's latest purchase summary and predictions (weeks are the time unit, as in the papers)."""

    __tablename__ = "customer_value"

    customer_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("workspace.id", ondelete="CASCADE"), index=True)
    fit_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("clv_fit.id", ondelete="CASCADE"), index=True)
    frequency: Mapped[int] = mapped_column(Integer)
    recency_weeks: Mapped[float] = mapped_column(Float)
    age_weeks: Mapped[float] = mapped_column(Float)
    mean_spend: Mapped[float] = mapped_column(Float)
    p_alive: Mapped[float] = mapped_column(Float)
    expected_purchases: Mapped[float] = mapped_column(Float)  # over the fit's horizon
    clv: Mapped[float | None] = mapped_column(Float, nullable=True)  # None: no spend model (too few repeat buyers)
    # RFM (cem.clv.rfm) from the same purchases; None only on rows scored before RFM existed (0021_rfm).
    recency_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    purchases: Mapped[int | None] = mapped_column(Integer, nullable=True)  # purchase days
    monetary: Mapped[float | None] = mapped_column(Float, nullable=True)  # total value
    r_score: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    f_score: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    m_score: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    rfm_segment: Mapped[str | None] = mapped_column(String(24), nullable=True)
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime())
