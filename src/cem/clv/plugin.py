"""Lifetime value as a plugin: purchases arriving queue a rescore; the scoring task; the customer 360 panel."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from cem.clv import service, tasks
from cem.clv.models import CustomerValue
from cem.hooks import hookimpl
from cem.hooks.rows import CustomerInsight
from cem.jobs import registry
from cem.jobs.registry import Task


@hookimpl
def events_ingested(session: Session, workspace_id: int, rows: Sequence[dict[str, Any]]) -> None:
    if any(row.get("type") in service.PURCHASE_TYPES for row in rows):
        tasks.queue_rescore(session, workspace_id)


@hookimpl
def job_tasks() -> list[Task]:
    return registry.declared_in(tasks)


@hookimpl
def customer_insights(session: Session, workspace_id: int, customer_id: int) -> list[CustomerInsight]:
    value = service.customer_value(session, workspace_id, customer_id)
    if value is None:
        return []
    fit = service.latest_fit(session, workspace_id)
    horizon = int(fit.settings.get("horizon_weeks", service.HORIZON_WEEKS)) if fit else int(service.HORIZON_WEEKS)
    facts = [
        (
            "Expected lifetime value (12 months)",
            "not enough repeat buyers" if value.clv is None else f"{value.clv:,.2f}",
        ),
        ("Probability still active", _alive(value.p_alive, value.frequency)),
        (f"Expected purchases, next {horizon} weeks", f"{value.expected_purchases:.2f}"),
        ("Repeat purchases so far", str(value.frequency)),
        ("Mean repeat purchase", f"{value.mean_spend:,.2f}" if value.frequency else "none yet"),
        *_rfm_facts(value),
    ]
    note = f"BG/NBD and Gamma-Gamma fitted on {fit.customers:,} customers" if fit else ""
    return [CustomerInsight("Lifetime value", facts, note=note, order=20)]


def _alive(p_alive: float, frequency: int) -> str:
    # BG/NBD lets a customer drop out only right after a purchase, so one who never bought again counts as active.
    return f"{100 * p_alive:.0f} %" + (" (no repeat purchase yet)" if frequency == 0 else "")


def _rfm_facts(value: CustomerValue) -> list[tuple[str, str]]:
    if value.rfm_segment is None:  # scored before RFM existed: the next scoring run fills it in
        return []
    return [
        ("RFM segment", value.rfm_segment),
        ("RFM scores (1-5)", f"R {value.r_score} · F {value.f_score} · M {value.m_score}"),
        ("Days since last purchase", str(value.recency_days)),
        ("Purchase days, total value", f"{value.purchases}, {value.monetary or 0:,.2f}"),
    ]
