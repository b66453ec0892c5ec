"""A/B and segment comparison: a registered metric per variant, with intervals and the p-value of each difference.

Tests (reference-results.md): NPS differences use the adjusted-Wald z-test, proportions a two-sample z-test,
means Welch's t-test (unequal variances, Welch-Satterthwaite degrees of freedom).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from cem.analytics import dimensions, stats
from cem.analytics import service as metrics_service
from cem.analytics.analyses.common import (
    aggregate_values,
    apply_record_filters,
    day_after,
    day_start,
    estimate_fields,
    top_box_thresholds,
    variant_label,
)
from cem.analytics.analyses.schemas import CompareQuery, CompareResult, Comparison, VariantResult
from cem.analytics.churn import churn_flag
from cem.analytics.metrics import Metric, Options
from cem.analytics.stats import Estimate
from cem.customers.models import Customer, Event
from cem.errors import InvalidInput
from cem.feedback.models import FeedbackRecord as FR

TestName = str
ID_CHUNK = 5000


def compare(session: Session, *, workspace_id: int, query: CompareQuery) -> CompareResult:
    """The metric for each variant and each variant against the control (BH-adjusted across comparisons)."""
    if query.variant_source == "event" and not query.event_type:
        message = "Value error, event_type is required when variant_source is 'event'"
        raise InvalidInput(message, errors=[{"loc": ["query"], "msg": message}])
    metric = metrics_service.resolve_metric(query.metric)
    filters = metrics_service.parse_filters(query.filters)
    if query.date_from and query.date_to and query.date_from > query.date_to:
        raise InvalidInput("date_from is after date_to.")
    if metric.entity == "customer":
        rows = _customer_rows(session, workspace_id, metric, query, filters)
    else:
        rows = _records(session, workspace_id, metric, query, filters)
    assign = _assigner(session, workspace_id, query, rows)
    needs_top_box = any(a.top_box for a in metric.aggregates)
    texts = _text_columns(metric)
    grouped: dict[str, list[Any]] = defaultdict(list)
    unassigned = 0
    for row in rows:
        variant = assign(row)
        if variant is None or (query.variants and variant not in query.variants):
            unassigned += variant is None
            continue
        grouped[variant].append(row)
    opts = Options(confidence=query.confidence, min_n=query.min_n)
    names = sorted(set(query.variants) | set(grouped)) if query.variants else sorted(grouped)

    def estimate(members: list[Any]) -> Estimate:
        values = np.array([math.nan if r.value is None else float(r.value) for r in members], dtype=float)
        thresholds = top_box_thresholds(members) if needs_top_box else None
        columns = {c: np.array([getattr(r, c) for r in members], dtype=object) for c in texts}
        return metric.derive(aggregate_values(metric, values, thresholds, columns), opts)

    estimates = {name: estimate(grouped.get(name, [])) for name in names}
    control = query.control if query.control is not None else (names[0] if names else None)
    if control is not None and control not in estimates:
        raise InvalidInput(f"Control variant {control!r} has no records; variants found: {', '.join(names) or 'none'}.")
    comparisons = [
        _compare(metric, name, control, estimates[name], estimates[control], query.confidence)
        for name in names
        if control is not None and name != control
    ]
    q_values = stats.benjamini_hochberg([c.p_value for c in comparisons])
    alpha = 1 - query.confidence
    for comp, q in zip(comparisons, q_values, strict=True):
        comp.q_value = q
        comp.significant = None if q is None else q < alpha
    return CompareResult(
        metric=metric.slug,
        label=metric.label,
        unit=metric.unit,
        variant_source=query.variant_source,
        variant_key=query.variant_key,
        event_type=query.event_type,
        control=control,
        confidence=query.confidence,
        min_n=query.min_n,
        unassigned=unassigned,
        variants=[VariantResult(variant=name, **estimate_fields(est)) for name, est in estimates.items()],
        comparisons=comparisons,
    )


# The feedback columns a metric's value and conditions may read (see metrics.ValueColumn).
RECORD_COLUMNS: dict[str, Any] = {
    "value_number": FR.value_number,
    "sentiment_score": FR.sentiment_score,
    "sentiment_label": FR.sentiment_label,
}


@dataclass(frozen=True)
class _CustomerRow:
    """A customer as a row of a customer metric (e.g. churn): its value and the fields the split may read."""

    customer_id: int
    value: float | None
    source_type: str = ""
    source_name: str = ""
    field_id: str = ""
    scale_min: float | None = None
    scale_max: float | None = None


def _customer_rows(
    session: Session, workspace_id: int, metric: Metric, query: CompareQuery, filters: tuple[tuple[str, str], ...]
) -> list[Any]:
    """Customers carrying the metric's value (churn flag), by creation date as the metric engine buckets them."""
    if metric.value != "churned" or query.variant_source == "feedback":
        raise InvalidInput(
            f"{metric.slug} counts customers: split it by a customer attribute or an event property, "
            "not by feedback metadata."
        )
    declared = [(dimensions.get(name), value) for name, value in filters]
    if any(d is None or d.customer_attribute is None for d, _ in declared):
        raise InvalidInput(f"{metric.slug} counts customers, so it is filtered by customer attributes only.")
    dialect = session.get_bind().dialect.name
    stmt = select(Customer.id, Customer.attributes).where(Customer.workspace_id == workspace_id)
    stmt = stmt.where(*(d.sql(dialect) == value for d, value in declared if d is not None))
    start, end = day_start(query.date_from), day_after(query.date_to)
    if start is not None:
        stmt = stmt.where(Customer.created_at >= start)
    if end is not None:
        stmt = stmt.where(Customer.created_at < end)
    rows = [_CustomerRow(cid, churn_flag(attributes)) for cid, attributes in session.execute(stmt)]
    return [r for r in rows if r.value is not None] if metric.answered_only else rows


def _text_columns(metric: Metric) -> list[str]:
    return sorted({a.column or metric.value for a in metric.aggregates if a.equals is not None})


def _records(
    session: Session, workspace_id: int, metric: Metric, query: CompareQuery, filters: tuple[tuple[str, str], ...]
) -> list[Any]:
    readable = metric.entity == "feedback" and metric.value in RECORD_COLUMNS
    if not readable or any(c not in RECORD_COLUMNS for c in _text_columns(metric)):
        raise InvalidInput(
            f"{metric.slug} is not measured on feedback records or customers, so it cannot be split by variant "
            "here; compare it with /api/v1/metrics grouped by a dimension instead."
        )
    value = RECORD_COLUMNS[metric.value]
    columns: list[Any] = [FR.customer_id, FR.source_type, FR.source_name, FR.field_id, value.label("value")]
    columns += [FR.scale_min, FR.scale_max]  # each record's declared scale: its top box
    columns += [RECORD_COLUMNS[c].label(c) for c in _text_columns(metric)]
    if query.variant_source == "feedback":
        columns.append(FR.meta)
    stmt = select(*columns).where(FR.workspace_id == workspace_id)
    if metric.field_types is not None:
        stmt = stmt.where(FR.field_type.in_(metric.field_types))
    if metric.answered_only:
        stmt = stmt.where(value.is_not(None))
    start, end = day_start(query.date_from), day_after(query.date_to)
    if start is not None:
        stmt = stmt.where(FR.collected_at >= start)
    if end is not None:
        stmt = stmt.where(FR.collected_at < end)
    dialect = session.get_bind().dialect.name
    return list(session.execute(apply_record_filters(stmt, filters, dialect)))


def _assigner(session: Session, workspace_id: int, query: CompareQuery, rows: list[Any]) -> Any:
    """A function record -> variant name (or None) for the chosen variant source."""
    key = query.variant_key
    if query.variant_source == "feedback":
        return lambda row: variant_label((row.meta or {}).get(key))
    customer_ids = {row.customer_id for row in rows if row.customer_id is not None}
    if query.variant_source == "customer":
        by_customer = _customer_attribute(session, workspace_id, customer_ids, key)
    else:
        by_customer = _latest_event_property(session, workspace_id, str(query.event_type), key)
    return lambda row: by_customer.get(row.customer_id)


def _customer_attribute(session: Session, workspace_id: int, ids: set[int], key: str) -> dict[int, str | None]:
    """customer id -> the attribute, read in chunks so the IN list stays within every driver's parameter limit."""
    out: dict[int, str | None] = {}
    ordered = sorted(ids)
    for start in range(0, len(ordered), ID_CHUNK):
        chunk = ordered[start : start + ID_CHUNK]
        stmt = select(Customer.id, Customer.attributes).where(
            Customer.workspace_id == workspace_id, Customer.id.in_(chunk)
        )
        for customer_id, attributes in session.execute(stmt):
            out[customer_id] = variant_label((attributes or {}).get(key))
    return out


def _latest_event_property(session: Session, workspace_id: int, event_type: str, key: str) -> dict[int, str | None]:
    """customer id -> the property of their most recent event of that type (the variant they were last in)."""
    stmt = (
        select(Event.customer_id, Event.properties)
        .where(Event.workspace_id == workspace_id, Event.type == event_type)
        .order_by(Event.customer_id, Event.occurred_at, Event.id)
    )
    out: dict[int, str | None] = {}
    for customer_id, properties in session.execute(stmt):
        out[customer_id] = variant_label((properties or {}).get(key))
    if not out:
        raise InvalidInput(f"No events of type {event_type!r} in this workspace.")
    return out


def choose_test(metric: Metric) -> TestName:
    """Which test compares two values of this metric."""
    if any(a.op == "sum" for a in metric.aggregates):
        return "welch_t"
    if metric.slug == "nps":
        return "z_adjusted_wald"
    if any(a.name != "n" for a in metric.aggregates):
        return "z_proportion"
    return "none"


def welch(a: Estimate, b: Estimate, confidence: float) -> tuple[float, float, float, float] | None:
    """Welch's t-test of mean a - mean b: (difference, lower, upper, two-sided p), from n and squared SEs."""
    if a.value is None or b.value is None or a.test_variance is None or b.test_variance is None:
        return None
    if a.n < 2 or b.n < 2:
        return None
    se2 = a.test_variance + b.test_variance
    if se2 == 0:
        return None
    df = se2 * se2 / (a.test_variance**2 / (a.n - 1) + b.test_variance**2 / (b.n - 1))
    diff = a.value - b.value
    t = diff / math.sqrt(se2)
    half = stats.t_quantile(0.5 + confidence / 2, df) * math.sqrt(se2)
    p = 2 * (1 - stats.t_cdf(abs(t), df))
    return diff, diff - half, diff + half, min(max(p, 0.0), 1.0)


def z_difference(a: Estimate, b: Estimate, confidence: float) -> tuple[float, float, float, float] | None:
    """z-test of a - b on the test points and variances (adjusted Wald for NPS, unpooled for proportions)."""
    change = stats.change_test(a, b)
    if change.p_value is None or change.change is None:
        return None
    assert a.test_point is not None and b.test_point is not None  # present when a p-value is
    assert a.test_variance is not None and b.test_variance is not None
    se = math.sqrt(a.test_variance + b.test_variance)
    centre = a.test_point - b.test_point
    half = stats.z_value(confidence) * se
    return change.change, centre - half, centre + half, change.p_value


def _compare(metric: Metric, name: str, control: str, a: Estimate, b: Estimate, confidence: float) -> Comparison:
    test = choose_test(metric)
    result = None
    if test == "welch_t":
        result = welch(a, b, confidence)
    elif test != "none":
        result = z_difference(a, b, confidence)
    diff, lower, upper, p = result if result is not None else (None, None, None, None)
    if diff is None and a.value is not None and b.value is not None:
        diff = a.value - b.value
    return Comparison(
        variant=name,
        control=control,
        difference=diff,
        lower=lower,
        upper=upper,
        p_value=p,
        q_value=None,
        significant=None,
        test=test,
    )
