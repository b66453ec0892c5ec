"""Churn risk of a workspace's current customers, learnt from the customers whose outcome is known.

The table the model reads is built from the store: each customer's attributes (except the churn flag itself and any
attribute named like it, which would leak the answer), behaviour from interaction events (how many in the last 90
days, days since the last one, purchases and their total value) and feedback (latest NPS answer, mean sentiment of
their texts). Customers carrying a churn flag (cem.analytics.churn) train it; customers not flagged as churned get
a risk with its top reasons. A new run replaces the old scores; the cross-validated figures are stored with it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from cem.analytics.churn import ATTRIBUTES as CHURN_ATTRIBUTES
from cem.analytics.churn import churn_flag
from cem.churn.model import ChurnModel, cross_validate
from cem.churn.models import ChurnFit, ChurnScore
from cem.clv.service import PURCHASE_TYPES
from cem.customers.models import Customer, Event
from cem.db.base import utcnow
from cem.errors import InvalidInput
from cem.feedback.models import FeedbackRecord

TARGET = "__churned__"
MIN_PER_CLASS = 10
TOP_REASONS = 3


@dataclass(frozen=True)
class ChurnReport:
    fit_id: int
    trained_on: int
    churned: int
    scored: int
    roc_auc: float
    roc_auc_std: float


def _behaviour(session: Session, workspace_id: int, now: datetime) -> dict[int, dict[str, str]]:
    recent = now - timedelta(days=90)
    is_purchase = Event.type.in_(list(PURCHASE_TYPES))
    stmt = (
        select(
            Event.customer_id,
            func.count().filter(Event.occurred_at >= recent),
            func.max(Event.occurred_at),
            func.count().filter(is_purchase),
            func.coalesce(func.sum(Event.value).filter(is_purchase), 0.0),
        )
        .where(Event.workspace_id == workspace_id, Event.occurred_at <= now)
        .group_by(Event.customer_id)
    )
    out: dict[int, dict[str, str]] = {}
    for cid, last90, last, purchases, spent in session.execute(stmt):
        days = (now - last).total_seconds() / 86400 if last is not None else ""
        out[cid] = {
            "events last 90 days": str(last90),
            "days since last event": str(days),
            "purchases": str(purchases),
            "purchase value": str(spent),
        }
    return out


def _feedback(session: Session, workspace_id: int) -> dict[int, dict[str, str]]:
    out: dict[int, dict[str, str]] = {}
    latest = (
        select(
            FeedbackRecord.customer_id,
            FeedbackRecord.value_number,
            func.row_number()
            .over(partition_by=FeedbackRecord.customer_id, order_by=FeedbackRecord.collected_at.desc())
            .label("k"),
        )
        .where(
            FeedbackRecord.workspace_id == workspace_id,
            FeedbackRecord.field_type == "nps",
            FeedbackRecord.customer_id.is_not(None),
            FeedbackRecord.value_number.is_not(None),
        )
        .subquery()
    )
    for cid, score in session.execute(select(latest.c.customer_id, latest.c.value_number).where(latest.c.k == 1)):
        out.setdefault(cid, {})["latest NPS answer"] = str(score)
    sentiment = (
        select(FeedbackRecord.customer_id, func.avg(FeedbackRecord.sentiment_score))
        .where(
            FeedbackRecord.workspace_id == workspace_id,
            FeedbackRecord.customer_id.is_not(None),
            FeedbackRecord.sentiment_score.is_not(None),
        )
        .group_by(FeedbackRecord.customer_id)
    )
    for cid, mean in session.execute(sentiment):
        out.setdefault(cid, {})["mean sentiment"] = str(mean)
    return out


def _attribute_columns(attributes: Mapping[str, Any]) -> dict[str, str]:
    """Attributes as text cells, without the churn flag or anything named like it (it would leak the answer)."""
    return {
        name: "" if value is None else str(value)
        for name, value in attributes.items()
        if name not in CHURN_ATTRIBUTES and "churn" not in name.lower() and not isinstance(value, dict | list)
    }


# Columns the store adds to every customer's row (behaviour and feedback); the rest are the customer's attributes.
DERIVED_COLUMNS = frozenset(
    {
        "events last 90 days",
        "days since last event",
        "purchases",
        "purchase value",
        "latest NPS answer",
        "mean sentiment",
        TARGET,
    }
)


def _described_by(labelled: list[dict[str, str]]) -> Callable[[dict[str, str]], bool]:
    """Whether a customer carries at least half of the attributes the model learnt from: a customer of another
    kind (a reviewer among telecom subscribers) would get a risk read off blanks, which says nothing."""
    learnt = [c for c in (labelled[0] if labelled else {}) if c not in DERIVED_COLUMNS and any(r[c] for r in labelled)]

    def described(row: dict[str, str]) -> bool:
        return not learnt or 2 * sum(1 for c in learnt if row[c]) >= len(learnt)

    return described


def customer_table(session: Session, workspace_id: int, now: datetime) -> tuple[list[int], list[dict[str, str]]]:
    """One row of text cells per customer (every row has every column), with the churn label in TARGET ("" unknown)."""
    behaviour = _behaviour(session, workspace_id, now)
    feedback = _feedback(session, workspace_id)
    ids: list[int] = []
    rows: list[dict[str, str]] = []
    for cid, attributes in session.execute(
        select(Customer.id, Customer.attributes).where(Customer.workspace_id == workspace_id).order_by(Customer.id)
    ):
        flag = churn_flag(attributes)
        row = {**_attribute_columns(attributes or {}), **behaviour.get(cid, {}), **feedback.get(cid, {})}
        row[TARGET] = "" if flag is None else ("yes" if flag == 1.0 else "no")
        ids.append(cid)
        rows.append(row)
    columns = sorted({name for row in rows for name in row})
    return ids, [{name: row.get(name, "") for name in columns} for row in rows]


def score_workspace(
    session: Session, workspace_id: int, *, now: datetime | None = None, after_reading: Callable[[], None] | None = None
) -> ChurnReport:
    """Train, cross-validate and score; `after_reading` runs once the table is read, before the training (the job
    passes its session's rollback: the slow part must not hold SQLite's single write lock)."""
    now = now or utcnow()
    ids, rows = customer_table(session, workspace_id, now)
    if after_reading is not None:
        after_reading()
    labelled = [row for row in rows if row[TARGET]]
    churned = sum(1 for row in labelled if row[TARGET] == "yes")
    if min(churned, len(labelled) - churned) < MIN_PER_CLASS:
        raise InvalidInput(
            f"the churn model learns from customers with a churn flag (attribute 'churned' or 'Churn'): it needs at "
            f"least {MIN_PER_CLASS} who churned and {MIN_PER_CLASS} who stayed; this workspace has {churned} and "
            f"{len(labelled) - churned}"
        )
    figures = cross_validate(labelled, target=TARGET, folds=5, seed=42)
    model = ChurnModel.train(labelled, target=TARGET)
    summary = figures.summary()
    fit = ChurnFit(
        workspace_id=workspace_id,
        customers=len(labelled),
        churned=churned,
        roc_auc=summary["roc_auc"]["mean"],
        roc_auc_std=summary["roc_auc"]["std"],
        pr_auc=summary["pr_auc"]["mean"],
        brier=summary["brier"]["mean"],
        features=[f.label for f in model.encoding.features],
        calibration=[list(c) for c in figures.calibration],
        fitted_at=now,
    )
    session.add(fit)
    session.flush()
    described = _described_by(labelled)
    current = [(cid, row) for cid, row in zip(ids, rows, strict=True) if row[TARGET] != "yes" and described(row)]
    current_rows = [row for _cid, row in current]
    risks: list[float] = model.risk(current_rows).tolist() if current else []
    reasons = model.reasons_many(current_rows, TOP_REASONS) if current else []
    session.execute(delete(ChurnScore).where(ChurnScore.workspace_id == workspace_id))
    scores = [
        {
            "customer_id": cid,
            "workspace_id": workspace_id,
            "fit_id": fit.id,
            "risk": float(risk),
            "reasons": [{"label": r.label, "points": round(r.points, 1)} for r in why],
            "scored_at": now,
        }
        for (cid, _row), risk, why in zip(current, risks, reasons, strict=True)
    ]
    for start in range(0, len(scores), 5000):
        session.execute(insert(ChurnScore), scores[start : start + 5000])
    return ChurnReport(fit.id, len(labelled), churned, len(scores), fit.roc_auc, fit.roc_auc_std)


def customer_score(session: Session, workspace_id: int, customer_id: int) -> tuple[ChurnScore, ChurnFit] | None:
    row = session.execute(
        select(ChurnScore, ChurnFit)
        .join(ChurnFit, ChurnFit.id == ChurnScore.fit_id)
        .where(ChurnScore.workspace_id == workspace_id, ChurnScore.customer_id == customer_id)
    ).first()
    return (row[0], row[1]) if row else None


def latest_fit(session: Session, workspace_id: int) -> ChurnFit | None:
    return session.scalar(
        select(ChurnFit).where(ChurnFit.workspace_id == workspace_id).order_by(ChurnFit.id.desc()).limit(1)
    )


def workspaces_with_customers(session: Session) -> list[int]:
    return sorted(session.scalars(select(Customer.workspace_id).distinct()))
