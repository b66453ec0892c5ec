"""One wide aggregate query per metric for a whole dashboard, narrower questions answered from it.

The overview asks a dozen questions of the same metric (the trend; each segment dimension against the period
before). Engine aggregates are additive counts and sums, so summing the cells of one query grouped by every
dimension the page needs gives exactly what the engine would return for each narrower query: the page keeps
`service.compute` (validation, buckets, tests, Benjamini-Hochberg) and scans the data once per metric.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import datetime

from cem.analytics import dimensions
from cem.analytics.engines.base import AggregateQuery, AggregateRow, MetricEngine


class RollupEngine:
    """Wraps an engine; answers queries within [start, end) by the given dimensions from one cached wide query."""

    def __init__(self, inner: MetricEngine, *, dimensions: tuple[str, ...], start: datetime, end: datetime) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimensions = dimensions
        self.start = start
        self.end = end
        self.wide_queries = 0  # how many queries reached the inner engine through the cache
        self._cache: dict[tuple[object, ...], list[AggregateRow]] = {}

    def _covers(self, query: AggregateQuery) -> bool:
        return (
            query.by_day
            and not query.filters
            and set(query.dimensions) <= set(self.dimensions)
            # A record counts once in each of its topics: summing over a topic dimension would count it again.
            and not any(d not in query.dimensions and _multi_valued(d) for d in self.dimensions)
            and query.start is not None
            and query.start >= self.start
            and query.end is not None
            and query.end <= self.end
        )

    def aggregate(self, query: AggregateQuery) -> list[AggregateRow]:
        if not self._covers(query):
            return self.inner.aggregate(query)
        key = (
            query.workspace_id,
            query.field_types,
            query.answered_only,
            query.aggregates,
            query.entity,
            query.value,
            query.bucket,
        )
        wide = self._cache.get(key)
        if wide is None:
            wide_query = replace(query, dimensions=self.dimensions, start=self.start, end=self.end)
            wide = self._cache[key] = self.inner.aggregate(wide_query)
            self.wide_queries += 1
        return _narrow(wide, query, [self.dimensions.index(d) for d in query.dimensions])


def _multi_valued(name: str) -> bool:
    dimension = dimensions.get(name)
    return dimension is not None and dimension.multi_valued


def _narrow(wide: list[AggregateRow], query: AggregateQuery, keep: list[int]) -> list[AggregateRow]:
    """Sum the wide cells over the dimensions the query does not group by, within its date range."""
    first = query.start.date() if query.start else None
    stop = query.end.date() if query.end else None
    cells: dict[tuple[object, tuple[str | None, ...]], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for row in wide:
        if row.day is not None and ((first and row.day < first) or (stop and row.day >= stop)):
            continue
        target = cells[(row.day, tuple(row.keys[i] for i in keep))]
        for name, value in row.values.items():
            target[name] += value
    return [AggregateRow(day=day, keys=keys, values=dict(values)) for (day, keys), values in cells.items()]  # type: ignore[arg-type]
