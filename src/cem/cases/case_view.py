"""What the case page shows beside the case itself: the triggering submission's answers and the customer 360
summary (who the customer is, what other domains know of them, their latest feedback). Texts are masked for roles
without pii:read, as on the customer and feedback pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from cem import hooks
from cem.auth.principal import Principal
from cem.cases.inbox import customer_labels
from cem.cases.schemas import CaseDetail
from cem.customers import service as customer_service
from cem.customers import timeline as customer_timeline
from cem.customers.timeline import TimelineItem
from cem.feedback import service as feedback_service
from cem.hooks.rows import CustomerInsight
from cem.text.redaction import mask_timeline, text_view

LATEST_FEEDBACK = 3


@dataclass
class Answer:
    label: str
    value: str
    text: str


@dataclass
class CustomerSummary:
    id: int
    label: str
    email: str
    attributes: dict[str, Any]
    insights: list[CustomerInsight] = field(default_factory=list)
    latest: list[TimelineItem] = field(default_factory=list)


def trigger_answers(session: Session, principal: Principal, case: CaseDetail) -> list[Answer]:
    """The scores and texts of the submission that raised the case (empty for a case opened by hand)."""
    if not (case.source_type and case.source_name and case.submission_id):
        return []
    records = feedback_service.for_submission(
        session,
        workspace_id=principal.workspace_id,
        source_type=case.source_type,
        source_name=case.source_name,
        submission_id=case.submission_id,
    )
    shown = text_view(session, principal)
    answers = []
    for rec in records:
        is_text = rec.field_type in ("text", "choice")
        answers.append(
            Answer(
                label=rec.field_label or rec.field_id,
                value="" if is_text else feedback_service.display_value(rec),
                text=(shown(rec.value_text) or "") if is_text else "",
            )
        )
    return answers


def customer_summary(session: Session, principal: Principal, customer_id: int | None) -> CustomerSummary | None:
    if customer_id is None:
        return None
    ws = principal.workspace_id
    customer = customer_service.get_customer(session, workspace_id=ws, customer_id=customer_id)
    timeline = customer_timeline.customer_timeline(session, workspace_id=ws, customer_id=customer_id, limit=50)
    latest = [item for item in timeline if item.kind == "feedback"][:LATEST_FEEDBACK]
    mask_timeline(session, principal, latest)
    return CustomerSummary(
        id=customer.id,
        label=customer_labels(session, ws, {customer.id}).get(customer.id, f"Customer #{customer.id}"),
        email=customer.email or "",
        attributes=dict(customer.attributes or {}),
        insights=hooks.customer_insights(session, workspace_id=ws, customer_id=customer_id),
        latest=latest,
    )
