"""The engine interface: additive aggregates per day x segment, so any engine (SQL, DuckDB, Spark) can plug in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from cem.analytics.metrics import Agg

# Dimensions a metric can be grouped and filtered by; `customer.<attribute>` adds any customer attribute.
DIMENSIONS = ("source_type", "source_name", "field_id", "language", "touchpoint", "stage", "journey")
CUSTOMER_PREFIX = "customer."


def is_dimension(name: str) -> bool:
    """A known dimension, or a well-formed customer attribute (`customer.plan`)."""
    if name.startswith(CUSTOMER_PREFIX):
        attr = name[len(CUSTOMER_PREFIX) :]
        return bool(attr) and len(attr) <= 100 and all(c.isalnum() or c in "_-" for c in attr)
    return name in DIMENSIONS


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
