"""Lifetime value of a workspace's customers from their purchase events, stored per customer.

A purchase is an interaction event of one of the purchase types (by default `purchase` and `order.purchased`, the
demo's and most shops' name) with a value. Scoring fits BG/NBD on every customer's purchase summary up to now and,
when at least MIN_REPEAT_BUYERS customers bought again with a value, the Gamma-Gamma spend model; each customer then
gets P(alive), expected purchases over the horizon and the discounted value, and its RFM scores and segment
(cem.clv.rfm). A new run replaces the old scores.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from cem.clv import btyd, rfm
from cem.clv.models import ClvFit, CustomerValue
from cem.clv.summary import Purchase, Summary, summarise
from cem.customers.models import Event
from cem.db.base import utcnow
from cem.errors import InvalidInput

PURCHASE_TYPES = ("purchase", "order.purchased")
MIN_CUSTOMERS = 20
MIN_REPEAT_BUYERS = 10
HORIZON_WEEKS = 52.0
CLV_MONTHS = 12
MONTHLY_DISCOUNT = 0.01  # about 12.7 % a year


@dataclass(frozen=True)
class ScoringReport:
    fit_id: int
    customers: int
    repeat_buyers: int
    params: dict[str, float]
    spend_params: dict[str, float] | None
    log_likelihood: float
    note: str


def purchases(
    session: Session, workspace_id: int, *, now: datetime, purchase_types: Sequence[str] = PURCHASE_TYPES
) -> list[Purchase]:
    """Every customer's purchases up to `now` (valueless purchases count as purchases of value 0)."""
    stmt = select(Event.customer_id, Event.occurred_at, Event.value).where(
        Event.workspace_id == workspace_id, Event.type.in_(list(purchase_types)), Event.occurred_at <= now
    )
    found: list[Purchase] = [(cid, at, float(value or 0.0)) for cid, at, value in session.execute(stmt)]
    if not found:
        raise InvalidInput(f"no purchase events (types {', '.join(purchase_types)}) to compute lifetime value from")
    return found


def purchase_summary(
    session: Session, workspace_id: int, *, now: datetime, purchase_types: Sequence[str] = PURCHASE_TYPES
) -> Summary:
    """The calibration summary of every customer's purchases up to `now`."""
    bought = purchases(session, workspace_id, now=now, purchase_types=purchase_types)
    return summarise(bought, calibration_end=now.date())


def score_workspace(
    session: Session,
    workspace_id: int,
    *,
    now: datetime | None = None,
    purchase_types: Sequence[str] = PURCHASE_TYPES,
    horizon_weeks: float = HORIZON_WEEKS,
    after_reading: Callable[[], None] | None = None,
) -> ScoringReport:
    """Fit, score every customer with purchases, and replace the workspace's stored scores.

    `after_reading` runs once the purchases are read, before the fitting: the scoring job passes its session's
    rollback there, so the seconds of fitting never hold SQLite's single write lock (ingest would wait on it)."""
    now = now or utcnow()
    bought = purchases(session, workspace_id, now=now, purchase_types=purchase_types)
    if after_reading is not None:
        after_reading()
    summary = summarise(bought, calibration_end=now.date())
    repeat_buyers = int((summary.frequency > 0).sum())
    if len(summary) < MIN_CUSTOMERS:
        raise InvalidInput(
            f"lifetime value needs purchases of at least {MIN_CUSTOMERS} customers; {len(summary)} have one"
        )
    purchases_fit = btyd.fit("bgnbd", summary)
    with_spend = int(((summary.frequency > 0) & (summary.monetary_value > 0)).sum()) >= MIN_REPEAT_BUYERS
    spend_fit = btyd.fit("ggamma", summary) if with_spend else None
    alive = btyd.probability_alive(purchases_fit, summary)
    expected = btyd.expected_purchases(purchases_fit, summary, horizon_weeks)
    values = (
        btyd.lifetime_value(purchases_fit, spend_fit, summary, periods=CLV_MONTHS, discount_rate=MONTHLY_DISCOUNT)
        if spend_fit is not None
        else None
    )
    note = "" if spend_fit else f"no value: fewer than {MIN_REPEAT_BUYERS} repeat buyers with a purchase value"
    fit_row = ClvFit(
        workspace_id=workspace_id,
        model=purchases_fit.model,
        params=purchases_fit.params,
        log_likelihood=purchases_fit.log_likelihood,
        spend_params=spend_fit.params if spend_fit else None,
        customers=len(summary),
        repeat_buyers=repeat_buyers,
        settings={
            "purchase_types": list(purchase_types),
            "horizon_weeks": horizon_weeks,
            "clv_months": CLV_MONTHS,
            "monthly_discount": MONTHLY_DISCOUNT,
        },
        fitted_at=now,
    )
    session.add(fit_row)
    session.flush()
    session.execute(delete(CustomerValue).where(CustomerValue.workspace_id == workspace_id))
    # RFM from the same purchases on the same day: it has the summary's customers (both keep purchases up to today).
    rfm_scores = rfm.score(bought, today=now.date())
    at = rfm_scores.index()
    rows = [
        {
            "customer_id": int(cid),  # type: ignore[call-overload]
            "workspace_id": workspace_id,
            "fit_id": fit_row.id,
            "frequency": int(summary.frequency[i]),
            "recency_weeks": float(summary.recency[i]),
            "age_weeks": float(summary.T[i]),
            "mean_spend": float(summary.monetary_value[i]),
            "p_alive": float(alive[i]),
            "expected_purchases": float(expected[i]),
            "clv": None if values is None or not np.isfinite(values[i]) else float(values[i]),
            "scored_at": now,
            **_rfm_columns(rfm_scores, at[cid]),
        }
        for i, cid in enumerate(summary.customers)
    ]
    for start in range(0, len(rows), 5000):
        session.execute(insert(CustomerValue), rows[start : start + 5000])
    return ScoringReport(
        fit_row.id,
        len(summary),
        repeat_buyers,
        purchases_fit.params,
        spend_fit.params if spend_fit else None,
        purchases_fit.log_likelihood,
        note,
    )


def _rfm_columns(scores: rfm.Rfm, i: int) -> dict[str, object]:
    return {
        "recency_days": int(scores.recency_days[i]),
        "purchases": int(scores.frequency[i]),
        "monetary": float(scores.monetary[i]),
        "r_score": int(scores.r_score[i]),
        "f_score": int(scores.f_score[i]),
        "m_score": int(scores.m_score[i]),
        "rfm_segment": scores.segment[i],
    }


def customer_value(session: Session, workspace_id: int, customer_id: int) -> CustomerValue | None:
    return session.scalar(
        select(CustomerValue).where(
            CustomerValue.workspace_id == workspace_id, CustomerValue.customer_id == customer_id
        )
    )


@dataclass(frozen=True)
class SegmentSize:
    segment: str
    customers: int
    share: float
    mean_clv: float | None  # None: no customer in it has a value (no spend model)
    mean_p_alive: float | None  # None: an empty segment
    mean_monetary: float | None


def segment_sizes(session: Session, workspace_id: int) -> list[SegmentSize]:
    """Every RFM segment of the latest scoring (empty ones too, in rfm.SEGMENTS order), with mean value and P(alive)."""
    stmt = (
        select(
            CustomerValue.rfm_segment,
            func.count(),
            func.avg(CustomerValue.clv),
            func.avg(CustomerValue.p_alive),
            func.avg(CustomerValue.monetary),
        )
        .where(CustomerValue.workspace_id == workspace_id, CustomerValue.rfm_segment.is_not(None))
        .group_by(CustomerValue.rfm_segment)
    )
    found: dict[str, tuple[int, float | None, float | None, float | None]] = {
        name: (int(n), _float(clv), _float(alive), _float(spent))
        for name, n, clv, alive, spent in session.execute(stmt)
    }
    total = sum(n for n, *_ in found.values())
    return [
        SegmentSize(name, n, n / total if total else 0.0, clv, alive, spent)
        for name in rfm.SEGMENTS
        for n, clv, alive, spent in [found.get(name, (0, None, None, None))]
    ]


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def workspaces_with_purchases(session: Session, purchase_types: Sequence[str] = PURCHASE_TYPES) -> list[int]:
    stmt = select(Event.workspace_id).where(Event.type.in_(list(purchase_types))).distinct()
    return sorted(session.scalars(stmt))


def latest_fit(session: Session, workspace_id: int) -> ClvFit | None:
    return session.scalar(select(ClvFit).where(ClvFit.workspace_id == workspace_id).order_by(ClvFit.id.desc()).limit(1))
