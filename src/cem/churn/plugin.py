"""Churn risk as a plugin: the scoring task and the customer 360 panel."""

from __future__ import annotations

from sqlalchemy.orm import Session

from cem.churn import service, tasks
from cem.hooks import hookimpl
from cem.hooks.rows import CustomerInsight
from cem.jobs import registry
from cem.jobs.registry import Task


@hookimpl
def job_tasks() -> list[Task]:
    return registry.declared_in(tasks)


@hookimpl
def customer_insights(session: Session, workspace_id: int, customer_id: int) -> list[CustomerInsight]:
    found = service.customer_score(session, workspace_id, customer_id)
    if found is None:
        return []
    score, fit = found
    lines = [f"{r['label']}: {r['points']:+.1f} pts" for r in score.reasons]
    note = (
        f"Model cross-validated on {fit.customers:,} customers: ROC AUC {fit.roc_auc:.3f} ± {fit.roc_auc_std:.3f}. "
        "Reasons: how much each answer moves the risk against the average customer."
    )
    return [CustomerInsight("Churn risk", [("Risk", f"{100 * score.risk:.0f} %")], lines=lines, note=note, order=10)]
