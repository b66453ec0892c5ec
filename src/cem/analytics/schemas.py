from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

Interval = Literal["day", "week", "month", "quarter"]


class MetricQuery(BaseModel):
    """A metric request: grouping, time buckets, filters (FIELD=VALUE), range and comparison."""

    metric: str
    group_by: list[str] = Field(default_factory=list, max_length=4)
    interval: Interval | None = None
    filters: list[str] = Field(default_factory=list, max_length=20)
    date_from: date | None = None
    date_to: date | None = None
    compare_to: Literal["previous"] | None = None
    min_n: int = Field(default=30, ge=0, le=1_000_000)
    confidence: float = Field(default=0.95, gt=0.5, lt=1)


class MetricRow(BaseModel):
    """One bucket x segment. value/lower/upper are None with status "not_enough_data" when n is too small."""

    bucket: str | None = None
    segment: dict[str, str | None] = Field(default_factory=dict)
    value: float | None
    lower: float | None
    upper: float | None
    n: int
    status: Literal["ok", "not_enough_data"]
    previous: float | None = None
    previous_n: int | None = None
    change: float | None = None
    p_value: float | None = None
    q_value: float | None = None  # Benjamini-Hochberg adjusted over the rows of this answer
    significant: bool | None = None


class MetricResult(BaseModel):
    """A metric's rows with how they were computed."""

    metric: str
    label: str
    unit: str
    group_by: list[str]
    interval: Interval | None
    compare_to: Literal["previous"] | None
    confidence: float
    min_n: int
    engine: str
    rows: list[MetricRow]


class MetricInfo(BaseModel):
    slug: str
    label: str
    unit: str
    description: str
