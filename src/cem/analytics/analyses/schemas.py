"""Requests and results of the analyses (journey, funnel, pain points, A/B, key drivers, experience gaps).

These models are the JSON the API returns; the dashboards (and the CLI) read exactly these shapes.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cem.analytics.schemas import Confidence, MinN, QueryModel
from cem.analytics.stats import DEFAULT_CONFIDENCE, DEFAULT_MIN_N
from cem.schemas import Id, Seed

Status = Literal["ok", "not_enough_data"]


class Scored(BaseModel):
    """A metric value with its interval and n; value/lower/upper are None when n is below the minimum."""

    value: float | None
    lower: float | None
    upper: float | None
    n: int
    status: Status


# -- journey ----------------------------------------------------------------------------------------


class JourneyMetricsQuery(QueryModel):
    """A metric per stage and touchpoint of a journey."""

    metric: str = Field(default="csat", max_length=50)
    date_from: date | None = None
    date_to: date | None = None
    min_n: MinN = DEFAULT_MIN_N
    confidence: Confidence = DEFAULT_CONFIDENCE


class FunnelQuery(QueryModel):
    """Customers through a journey's stages, optionally of one customer segment."""

    date_from: date | None = None
    date_to: date | None = None
    confidence: Confidence = DEFAULT_CONFIDENCE
    segment: list[str] = Field(default=[], max_length=10, description="Repeatable customer.<attribute>=value.")


class PainPointsQuery(QueryModel):
    """A journey's touchpoints (and topics) ranked by pain."""

    date_from: date | None = None
    date_to: date | None = None
    limit: int = Field(default=10, ge=1, le=500)
    min_n: MinN = DEFAULT_MIN_N
    confidence: Confidence = DEFAULT_CONFIDENCE


class PainPoint(BaseModel):
    """A touchpoint ranked by volume x negativity: score = n x share negative (= expected negative records)."""

    touchpoint_id: int
    touchpoint_key: str
    touchpoint_name: str
    stage_key: str
    stage_name: str
    n: int
    negative: int
    negative_share: float | None  # percent
    lower: float | None
    upper: float | None
    score: float | None
    score_lower: float | None
    score_upper: float | None
    status: Status


class TopicPainPoint(BaseModel):
    """A topic (from text analytics) ranked the same way over the journey's analysed texts."""

    topic: str
    touchpoint_key: str | None  # where most of its negative mentions were made
    n: int
    negative: int
    negative_share: float | None
    lower: float | None
    upper: float | None
    score: float | None
    score_lower: float | None
    score_upper: float | None
    status: Status


class TouchpointMetric(Scored):
    touchpoint_id: int
    key: str
    name: str
    channel: str
    volume: int  # feedback records of any type at the touchpoint


class StageMetric(Scored):
    stage_id: int
    key: str
    name: str
    position: int
    volume: int
    top_pain_point: PainPoint | None = None
    touchpoints: list[TouchpointMetric] = Field(default_factory=list)


class JourneyMetrics(BaseModel):
    journey_id: int
    journey_key: str
    journey_name: str
    metric: str
    label: str
    unit: str
    min_n: int
    confidence: float
    stages: list[StageMetric]


class FunnelStage(BaseModel):
    """Customers reaching a stage; the transition fields describe the step to the NEXT stage (None on the last)."""

    stage_id: int
    key: str
    name: str
    position: int
    reached: int
    share: float | None  # percent of the customers who reached the first stage
    continued: int | None = None
    drop_off: int | None = None
    drop_off_rate: float | None = None  # percent of `reached`, Wilson interval below
    drop_off_lower: float | None = None
    drop_off_upper: float | None = None
    median_hours: float | None = None
    p75_hours: float | None = None
    timed_n: int | None = None  # customers whose first arrival at the next stage came after this one


class Funnel(BaseModel):
    journey_id: int
    journey_key: str
    journey_name: str
    customers: int
    confidence: float
    stages: list[FunnelStage]


class PainPoints(BaseModel):
    journey_id: int
    min_n: int
    confidence: float
    items: list[PainPoint]
    topics: list[TopicPainPoint] = Field(default_factory=list)  # empty until texts carry topics


# -- A/B comparison ---------------------------------------------------------------------------------

VariantSource = Literal["event", "customer", "feedback"]


class CompareQuery(QueryModel):
    """A metric per variant. The variant of a feedback record comes from its customer's latest event of
    `event_type` (property `variant_key`), from a customer attribute, or from the record's own metadata
    (`event_type` is required with variant_source=event: checked by `abtest.compare`, as invalid input)."""

    metric: str = Field(max_length=50)
    variant_source: VariantSource = Field(description="event, customer or feedback")
    variant_key: str = Field(min_length=1, max_length=100, description="Event property, attribute or metadata key.")
    event_type: str | None = Field(default=None, max_length=100)
    control: str | None = Field(default=None, max_length=200)
    variants: list[str] = Field(
        default=[], max_length=20, alias="variant", description="Repeatable: only these variants."
    )
    filters: list[str] = Field(default=[], max_length=20, alias="filter", description="Repeatable FIELD=VALUE.")
    date_from: date | None = None
    date_to: date | None = None
    min_n: MinN = DEFAULT_MIN_N
    confidence: Confidence = DEFAULT_CONFIDENCE


class VariantResult(Scored):
    variant: str


class Comparison(BaseModel):
    variant: str
    control: str
    difference: float | None
    lower: float | None
    upper: float | None
    p_value: float | None
    q_value: float | None  # Benjamini-Hochberg over the comparisons of this answer
    significant: bool | None
    test: Literal["welch_t", "z_adjusted_wald", "z_proportion", "none"]


class CompareResult(BaseModel):
    metric: str
    label: str
    unit: str
    variant_source: VariantSource
    variant_key: str
    event_type: str | None
    control: str | None
    confidence: float
    min_n: int
    unassigned: int  # records of the metric with no variant
    variants: list[VariantResult]
    comparisons: list[Comparison]


# -- key drivers ------------------------------------------------------------------------------------

MAX_DRIVERS = 15
Quadrant = Literal["key_strength", "priority", "secondary_strength", "low_priority"]


class DriverQuery(QueryModel):
    outcome: str = Field(min_length=1, max_length=200, description="Field id of the outcome (e.g. NPS likelihood).")
    # Empty: every numeric field answered with the outcome.
    drivers: list[str] = Field(
        default=[], max_length=50, alias="driver", description="Repeatable driver field ids (at most 15)."
    )
    # Topics (from text analytics) as 0/1 drivers: does the submission's text mention the topic?
    topics: list[str] = Field(default=[], max_length=50, alias="topic", description="Repeatable topics as 0/1 drivers.")
    source_name: str | None = Field(default=None, max_length=200)
    date_from: date | None = None
    date_to: date | None = None
    bootstrap: int = Field(default=200, ge=0, le=5000, description="Bootstrap resamples (0: no intervals).")
    seed: Seed = 0
    performance: Literal["mean", "top_box"] = "mean"
    confidence: Confidence = DEFAULT_CONFIDENCE


class Driver(BaseModel):
    field_id: str
    label: str
    johnson: float
    johnson_lower: float | None
    johnson_upper: float | None
    johnson_share: float  # percent of R^2
    shapley: float
    shapley_lower: float | None
    shapley_upper: float | None
    shapley_share: float
    significant: bool | None  # None without bootstrap
    performance: float
    quadrant: Quadrant


class DriverResult(BaseModel):
    outcome: str
    source_name: str | None
    n: int  # complete submissions used
    dropped: int  # submissions missing the outcome or a driver
    r2: float
    bootstrap: int
    seed: int
    confidence: float
    performance: Literal["mean", "top_box"]
    importance_median: float
    performance_median: float
    drivers: list[Driver]


# -- experience gaps --------------------------------------------------------------------------------


class TargetIn(BaseModel):
    """The promised value of a metric at one stage or touchpoint (exactly one of the two ids)."""

    model_config = ConfigDict(extra="forbid")

    stage_id: Id | None = None
    touchpoint_id: Id | None = None
    metric: str = Field(min_length=1, max_length=50)
    target: float = Field(allow_inf_nan=False)
    note: str = Field(default="", max_length=1000)

    @model_validator(mode="after")
    def _one_scope(self) -> TargetIn:
        if (self.stage_id is None) == (self.touchpoint_id is None):
            raise ValueError("give exactly one of stage_id or touchpoint_id")
        return self


class GapQuery(QueryModel):
    """Experience gaps of every target, or of one journey's or one metric's."""

    journey_id: Id | None = None
    metric: str | None = Field(default=None, max_length=50)
    date_from: date | None = None
    date_to: date | None = None
    min_n: MinN = DEFAULT_MIN_N
    confidence: Confidence = DEFAULT_CONFIDENCE


class TargetRead(BaseModel):
    id: int
    scope: Literal["stage", "touchpoint"]
    stage_id: int | None
    touchpoint_id: int | None
    key: str
    name: str
    journey_key: str
    metric: str
    target: float
    note: str
    updated_at: datetime


class Gap(BaseModel):
    target_id: int
    scope: Literal["stage", "touchpoint"]
    key: str
    name: str
    journey_key: str
    metric: str
    promised: float
    perceived: float | None
    lower: float | None
    upper: float | None
    n: int
    gap: float | None  # perceived - promised: negative means the promise is not kept
    gap_lower: float | None
    gap_upper: float | None
    p_value: float | None
    status: Literal["below", "meets", "above", "not_enough_data"]


class GapResult(BaseModel):
    min_n: int
    confidence: float
    items: list[Gap]
