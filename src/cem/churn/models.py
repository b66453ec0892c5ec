"""Stored churn risk: each customer's latest score with its reasons, and each model it came from."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from cem.db.base import Base, BigIntPK, IdMixin, PortableJSON, UTCDateTime


class ChurnFit(IdMixin, Base):
    """One training run: its cross-validated figures (shown next to every risk built on it)."""

    __tablename__ = "churn_fit"

    workspace_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("workspace.id", ondelete="CASCADE"), index=True)
    customers: Mapped[int] = mapped_column(Integer)
    churned: Mapped[int] = mapped_column(Integer)
    roc_auc: Mapped[float] = mapped_column(Float)
    roc_auc_std: Mapped[float] = mapped_column(Float)
    pr_auc: Mapped[float] = mapped_column(Float)
    brier: Mapped[float] = mapped_column(Float)
    features: Mapped[list[str]] = mapped_column(PortableJSON, default=list)
    calibration: Mapped[list[Any]] = mapped_column(PortableJSON, default=list)
    fitted_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ChurnScore(Base):
    """A current customer's churn risk (probability) and the top reasons, signed, in percentage points."""

    __tablename__ = "churn_score"

    customer_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("workspace.id", ondelete="CASCADE"), index=True)
    fit_id: Mapped[int] = mapped_column(BigIntPK, ForeignKey("churn_fit.id", ondelete="CASCADE"), index=True)
    risk: Mapped[float] = mapped_column(Float)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(PortableJSON, default=list)
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime())
