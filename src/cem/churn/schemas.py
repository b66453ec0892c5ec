from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from cem.schemas import ReadModel


class ChurnFitRead(ReadModel):
    id: int
    customers: int = Field(description="customers with a known outcome the model learnt from")
    churned: int
    roc_auc: float = Field(description="5-fold stratified cross-validated ROC AUC (mean)")
    roc_auc_std: float
    pr_auc: float
    brier: float
    features: list[str]
    calibration: list[Any] = Field(description="[mean predicted, observed rate, n] per predicted-risk decile")
    fitted_at: datetime


class Reason(ReadModel):
    label: str = Field(description='the column and the customer value, e.g. "Contract = Month-to-month"')
    points: float = Field(description="change in risk against the average customer, in percentage points")


class ChurnScoreRead(ReadModel):
    customer_id: int
    risk: float = Field(description="probability of churning (calibrated)")
    reasons: list[Reason]
    scored_at: datetime
    model: ChurnFitRead
