"""The metric query and its result; the query building blocks every analysis shares (minimum n, confidence,
period), so the API, the web pages and the CLI read one declaration of each parameter and its default."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from cem.analytics import dimensions
from cem.analytics.metrics import METRICS
from cem.analytics.stats import DEFAULT_CONFIDENCE, DEFAULT_MIN_N

Interval = Literal["day", "week", "month", "quarter"]
INTERVALS: tuple[Interval, ...] = ("day", "week", "month", "quarter")
MIN_N_HELP = "Below this n a value is 'not enough data'."
MAX_MIN_N = 1_000_000
MinN = Annotated[int, Field(ge=0, le=MAX_MIN_N, description=MIN_N_HELP)]
Confidence = Annotated[float, Field(gt=0.5, lt=1)]
Engine = Literal["auto", "sql", "duckdb"]


class QueryModel(BaseModel):
    """A query's parameters. The API takes it as its query parameters (a field's alias is the parameter's name,
    e.g. `filter` for `filters`); Python code and the CLI may fill it by field name."""

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)


class MetricQuery(QueryModel):
    """A metric request: grouping, time buckets, filters (FIELD=VALUE), range and comparison."""

    metric: str = Field(description=f"Metric slug: {', '.join(METRICS)}.")
    group_by: list[str] = Field(
        default=[], max_length=4, description=f"Repeatable: {dimensions.names_help()}. {dimensions.TOPIC_HELP}"
    )
    interval: Interval | None = None
    filters: list[str] = Field(
        default=[],
        max_length=20,
        alias="filter",
        description="Repeatable FIELD=VALUE (fields as for group_by); topic=K keeps the records having topic K.",
    )
    date_from: date | None = None
    date_to: date | None = None
    compare_to: Literal["previous"] | None = None
    min_n: MinN = DEFAULT_MIN_N
    confidence: Confidence = DEFAULT_CONFIDENCE


class MetricRequest(MetricQuery):
    """GET /metrics: the metric query and the engine that answers it."""

    engine: Engine = Field(
        default="auto",
        description=(
            "auto: SQL on small stores, DuckDB attached to the store on large ones; spark reads the Parquet snapshot."
        ),
    )


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
