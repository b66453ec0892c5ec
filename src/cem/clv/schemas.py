from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from cem.schemas import ReadModel


class ClvFitRead(ReadModel):
    id: int
    model: str = Field(description="the purchase model: bgnbd (BG/NBD, Fader, Hardie & Lee 2005)")
    params: dict[str, float] = Field(description="r, alpha, a, b as in the paper")
    log_likelihood: float
    spend_params: dict[str, float] | None = Field(
        description="Gamma-Gamma p, q, gamma; null with too few repeat buyers"
    )
    customers: int
    repeat_buyers: int
    settings: dict[str, Any]
    fitted_at: datetime


class CustomerValueRead(ReadModel):
    customer_id: int
    frequency: int = Field(description="repeat purchases (purchase days after the first)")
    recency_weeks: float
    age_weeks: float
    mean_spend: float = Field(description="mean value of the repeat purchases")
    p_alive: float = Field(description="probability the customer is still active")
    expected_purchases: float = Field(description="expected purchases over the fit's horizon (settings.horizon_weeks)")
    clv: float | None = Field(description="expected discounted value over settings.clv_months months")
    scored_at: datetime


class ScoringQueued(ReadModel):
    job_id: int = Field(description="follow it at GET /api/v1/jobs/{job_id}")
