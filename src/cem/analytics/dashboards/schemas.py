"""Dashboard payloads: a widget is one metric query plus how it is drawn; a dashboard is an ordered list of them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cem.analytics.schemas import MAX_MIN_N, Interval, MetricRow, MinN, QueryModel
from cem.analytics.stats import DEFAULT_MIN_N
from cem.schemas import Id

Chart = Literal["line", "bar", "table", "tile"]
CHARTS: tuple[Chart, ...] = ("line", "bar", "table", "tile")
MAX_WIDGETS = 24
ExportFormat = Literal["csv", "xlsx"]


class WidgetIn(BaseModel):
    """One widget: metric, chart type, grouping, filters (FIELD=VALUE), time interval, comparison and size."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(default="", max_length=200)
    metric: str = Field(min_length=1, max_length=64)
    chart: Chart = "table"
    group_by: list[str] = Field(default_factory=list, max_length=2)
    filters: list[str] = Field(default_factory=list, max_length=10)
    interval: Interval | None = None
    compare_to: Literal["previous"] | None = None
    date_from: date | None = None
    date_to: date | None = None
    min_n: int = Field(default=DEFAULT_MIN_N, ge=0, le=MAX_MIN_N)
    width: Literal[1, 2] = 1


class WidgetOut(WidgetIn):
    id: int
    position: int


class DashboardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    shared: bool = False
    widgets: list[WidgetIn] = Field(default_factory=list, max_length=MAX_WIDGETS)


class DashboardPatch(BaseModel):
    """Partial update; `widgets`, when given, replaces the whole list in its new order (that is how it is arranged)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    shared: bool | None = None
    widgets: list[WidgetIn] | None = Field(default=None, max_length=MAX_WIDGETS)


class DashboardOut(BaseModel):
    id: int
    name: str
    description: str
    shared: bool
    created_by: str
    mine: bool  # the caller owns it
    can_edit: bool
    created_at: datetime
    updated_at: datetime
    widgets: list[WidgetOut]


class DashboardSummary(BaseModel):
    id: int
    name: str
    description: str
    shared: bool
    created_by: str
    mine: bool
    widget_count: int
    updated_at: datetime


class Tile(BaseModel):
    """A headline metric in the latest period, with the change only called one when it is significant."""

    metric: str
    label: str
    unit: str
    bucket: str | None
    value: float | None
    lower: float | None
    upper: float | None
    n: int
    status: Literal["ok", "not_enough_data"]
    previous: float | None
    previous_n: int | None
    change: float | None
    p_value: float | None
    significant: bool
    direction: Literal["up", "down"] | None  # set only when significant


class Trend(BaseModel):
    metric: str
    label: str
    unit: str
    rows: list[MetricRow]


class Mover(BaseModel):
    """A segment whose metric changed against the preceding period; q is Benjamini-Hochberg over all scanned."""

    metric: str
    label: str
    unit: str
    dimension: str
    segment: str | None
    value: float | None
    previous: float | None
    change: float | None
    n: int
    previous_n: int | None
    p_value: float
    q_value: float
    significant: bool


class Overview(BaseModel):
    interval: Interval
    period_start: date | None
    period_end: date | None
    confidence: float
    min_n: int
    tiles: list[Tile]
    trends: list[Trend]
    movers: list[Mover]
    scanned: int  # segment comparisons the movers were chosen from


# -- the views' queries: the API's query parameters, parsed from the pages' query strings alike ---------


class OverviewQuery(QueryModel):
    interval: Interval = "month"
    end: date | None = Field(default=None, description="Last day of the period; default: the newest feedback day.")
    min_n: MinN = DEFAULT_MIN_N


class JourneyViewQuery(QueryModel):
    journey_id: Id | None = None
    metric: str | None = Field(default=None, max_length=64)
    date_from: date | None = None
    date_to: date | None = None
    min_n: MinN = DEFAULT_MIN_N


class DriverViewQuery(QueryModel):
    outcome: str | None = Field(default=None, max_length=200)
    drivers: list[str] = Field(default=[], max_length=15, alias="driver")
    source_name: str | None = Field(default=None, max_length=200)
    performance: Literal["mean", "top_box"] = "mean"
    bootstrap: int = Field(default=200, ge=0, le=2000)
    segment_metric: str = Field(default="nps", max_length=64)
    segment_by: str = Field(default="source_name", max_length=120)
    min_n: MinN = DEFAULT_MIN_N


class TableExport(QueryModel):
    """Which table of a view, in which file format (the view's own query follows)."""

    table: str
    format: ExportFormat = "csv"


class OverviewExport(OverviewQuery, TableExport):
    table: str = Field(description="tiles, trends or movers")


class JourneyViewExport(JourneyViewQuery, TableExport):
    table: str = Field(description="stages, touchpoints, funnel, pain_points or gaps")


class DriverViewExport(DriverViewQuery, TableExport):
    table: str = Field(description="drivers, gaps or segments")
