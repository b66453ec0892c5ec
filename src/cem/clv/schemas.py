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
    recency_days: int | None = Field(description="days since the last purchase (null: scored before RFM existed)")
    purchases: int | None = Field(description="purchase days (same-day purchases count once)")
    monetary: float | None = Field(description="total value of all purchases")
    r_score: int | None = Field(description="recency quintile score, 1 (longest ago) to 5 (most recent)")
    f_score: int | None = Field(description="frequency quintile score, 1 to 5")
    m_score: int | None = Field(description="monetary quintile score, 1 to 5")
    rfm_segment: str | None = Field(description="champions, loyal, potential loyalists, new, at risk, ...")
    scored_at: datetime


class ScoringQueued(ReadModel):
    job_id: int = Field(description="follow it at GET /api/v1/jobs/{job_id}")


class RfmSegmentRead(ReadModel):
    segment: str = Field(description="RFM segment name (cem.clv.rfm.SEGMENTS, best first)")
    customers: int
    share: float = Field(description="share of the scored customers, 0-1")
    mean_clv: float | None = Field(description="mean expected lifetime value; null when none has one")
    mean_p_alive: float | None = Field(description="mean probability of still being active; null when empty")
    mean_monetary: float | None = Field(description="mean total purchase value; null when empty")


class RfmSegmentsRead(ReadModel):
    customers: int = Field(description="customers with RFM scores (the segment counts sum to it)")
    scored_at: datetime | None = Field(description="when the latest fit scored them")
    segments: list[RfmSegmentRead]
