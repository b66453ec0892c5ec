"""The engine interface: additive aggregates per day x segment, so any engine (SQL, DuckDB, Spark) can plug in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from cem.analytics import dimensions
from cem.analytics.dimensions import CUSTOMER_PREFIX
from cem.analytics.metrics import Agg, Entity, ValueColumn

# Dimensions a metric can be grouped and filtered by (declared in cem.analytics.dimensions).
DIMENSIONS = tuple(dimensions.DIMENSIONS)
__all__ = ["CUSTOMER_PREFIX", "DIMENSIONS", "AggregateQuery", "AggregateRow", "MetricEngine", "is_dimension"]


def is_dimension(name: str) -> bool:
    """A declared dimension, or a well-formed customer attribute (`customer.plan`)."""
    return dimensions.get(name) is not None


@dataclass(frozen=True)
class AggregateQuery:
    """What to aggregate: one workspace's records of some field types, in [start, end), per day x dimensions."""

    workspace_id: int
    field_types: tuple[str, ...] | None
    answered_only: bool
    aggregates: tuple[Agg, ...]
    dimensions: tuple[str, ...] = ()
    by_day: bool = False
    start: datetime | None = None
    end: datetime | None = None
    filters: tuple[tuple[str, str], ...] = ()
    entity: Entity = "feedback"
    value: ValueColumn = "value_number"  # the metric's value column (answered_only tests it for NULL)
    # With by_day, an engine may return each cell under the first day of this bucket (week from Monday,
    # month, quarter) instead of its own day: the caller rolls days up into buckets either way.
    bucket: str | None = None


@dataclass(frozen=True)
class AggregateRow:
    """Aggregates of one (day, segment) cell; day is None when the query is not split by day."""

    day: date | None
    keys: tuple[str | None, ...]
    values: dict[str, float] = field(default_factory=dict)


class MetricEngine(Protocol):
    """Computes additive aggregates; must return identical counts and sums on the same data."""

    name: str

    def aggregate(self, query: AggregateQuery) -> list[AggregateRow]:
        """One row per non-empty (day, segment) cell."""
        ...
