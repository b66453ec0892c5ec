"""Helpers the analyses share: scales, negativity, metric aggregates computed in memory, and record filters."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Select

from cem.analytics import dimensions
from cem.analytics.metrics import Agg, Metric
from cem.analytics.stats import Estimate
from cem.customers.models import Customer
from cem.feedback.models import FeedbackRecord as FR
from cem.journeys.models import Journey, JourneyStage, Touchpoint
from cem.scores import top_box_min


def top_box_thresholds(rows: Sequence[Any]) -> np.ndarray:
    """Each row's top-box threshold from its declared scale (rows with `scale_min`/`scale_max`, cem.scores
    top_box_min); a row without a scale has no top box (NaN: never counted in it)."""
    return np.array(
        [
            math.nan if r.scale_min is None or r.scale_max is None else top_box_min(r.scale_min, r.scale_max)
            for r in rows
        ],
        dtype=float,
    )


def aggregate_values(
    metric: Metric,
    values: np.ndarray,
    thresholds: np.ndarray | None = None,
    texts: Mapping[str, np.ndarray] | None = None,
) -> dict[str, float]:
    """A metric's additive aggregates over rows in memory, by the same declarations the engines use.

    `values` is the metric's value column (NaN = empty); `thresholds` each row's top-box threshold (top-box
    aggregates only); `texts` the text columns that `equals` conditions read (e.g. sentiment_label).
    """
    out: dict[str, float] = {}
    for agg in metric.aggregates:
        tested = values if agg.column is None or agg.column == metric.value else None
        mask = np.ones(values.shape, dtype=bool)
        if agg.low is not None or agg.high is not None or agg.top_box:
            if tested is None:
                raise ValueError(f"{metric.slug}: conditions on {agg.column} cannot be computed in memory")
            if agg.low is not None:
                mask &= np.nan_to_num(tested, nan=-np.inf) >= agg.low
            if agg.high is not None:
                mask &= np.nan_to_num(tested, nan=np.inf) <= agg.high
            if agg.top_box:
                assert thresholds is not None, "top-box aggregates need thresholds"
                mask &= np.nan_to_num(tested, nan=-np.inf) >= np.nan_to_num(thresholds, nan=np.inf)
        if agg.equals is not None:
            column = (texts or {}).get(agg.column or metric.value)
            if column is None:
                raise ValueError(f"{metric.slug}: no {agg.column} column given")
            mask &= column == agg.equals
        out[agg.name] = _reduce(agg, values[mask])
    return out


def _reduce(agg: Agg, selected: np.ndarray) -> float:
    if agg.op == "count":
        return float(selected.size)
    if agg.op == "sum":
        return float(np.nansum(selected))
    if agg.op == "sum_sq":
        return float(np.nansum(selected * selected))
    raise ValueError(f"unknown aggregate operation {agg.op!r}")


def estimate_fields(est: Estimate) -> dict[str, Any]:
    """value/lower/upper/n/status of an estimate, as the result models carry them."""
    return {
        "value": est.value,
        "lower": est.lower,
        "upper": est.upper,
        "n": est.n,
        "status": "ok" if est.enough else "not_enough_data",
    }


def day_start(day: date | None) -> datetime | None:
    return None if day is None else datetime.combine(day, time(), tzinfo=UTC)


def day_after(day: date | None) -> datetime | None:
    return None if day is None else datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)


def apply_record_filters(stmt: Select[Any], filters: Iterable[tuple[str, str]], dialect: str) -> Select[Any]:
    """Restrict a feedback-record select by dimension filters (parsed by analytics.service.parse_filters), with
    each dimension's own store expression from the dimension registry, so filters mean what they mean there."""
    declared = [(dimensions.get(name), value) for name, value in filters]
    joins = {d.join for d, _ in declared if d is not None}
    if "touchpoint" in joins:
        stmt = stmt.outerjoin(Touchpoint, Touchpoint.id == FR.touchpoint_id)
        stmt = stmt.outerjoin(JourneyStage, JourneyStage.id == Touchpoint.stage_id)
        stmt = stmt.outerjoin(Journey, Journey.id == JourneyStage.journey_id)
    if "customer" in joins:
        stmt = stmt.outerjoin(Customer, Customer.id == FR.customer_id)
    # Topic filters are semi-joins (the record has that topic): a record with several topics stays one row.
    return stmt.where(*(dimensions.record_condition(d, value, dialect) for d, value in declared if d is not None))


def variant_label(value: object) -> str | None:
    """A JSON value as a variant name: booleans as true/false, whole numbers without .0; None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return None
    return str(value)
