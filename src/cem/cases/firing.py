"""Rule evaluation on stored submissions, and what a firing does.

Runs in the `cases.evaluate` job that the plugin queues in the ingest's own transaction (cem.cases.plugin):
the job row commits with the records or not at all, so no firing is lost, and ingest pays one insert per
flush however many rules are active. Each (rule, submission) fires at most once (alert_firing is unique on
it), so re-stored records and retried jobs never fire twice. A firing logs which conditions matched with
what value, opens a case unless the customer has an open case from this rule within the rule's window
(de-duplication), emails the rule's addresses and emits `alert.fired`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from cem.cases import clock, events, facts, rules, service
from cem.cases.conditions import Evaluator, Match, SubmissionFacts
from cem.cases.models import OPEN_STATUSES, AlertFiring, AlertRule, Case
from cem.cases.schemas import RuleActions
from cem.jobs.queue import enqueue

Phase = Literal["stored", "enriched"]
EMAIL_ALERT = "cases.email_alert"


def evaluate(session: Session, *, workspace_id: int, keys: Sequence[facts.SubmissionKey], phase: Phase) -> int:
    """Evaluate the workspace's active rules on the submissions; returns how many firings were recorded.

    Rules reading sentiment or topics run in the "enriched" phase only (after text enrichment), the others in
    the "stored" phase only, so each rule sees each submission when its facts are complete.
    """
    wanted = [
        r for r in rules.active_rules(session, workspace_id=workspace_id) if r.needs_enrichment == (phase == "enriched")
    ]
    if not wanted or not keys:
        return 0
    submissions = facts.submissions(session, workspace_id=workspace_id, keys=keys)
    fired = 0
    for rule in wanted:
        evaluator = Evaluator(rules.condition_of(rule))
        for submission in submissions:
            reason = evaluator.evaluate(submission)
            if reason is not None and _fire(session, rule, submission, reason):
                fired += 1
    return fired


def _fire(session: Session, rule: AlertRule, submission: SubmissionFacts, reason: list[Match]) -> bool:
    already = session.scalar(
        select(AlertFiring.id).where(
            AlertFiring.rule_id == rule.id,
            AlertFiring.source_type == submission.source_type,
            AlertFiring.source_name == submission.source_name,
            AlertFiring.submission_id == submission.submission_id,
        )
    )
    if already is not None:
        return False
    record_id = next((m.record_id for m in reason if m.record_id is not None), submission.records[0].record_id)
    firing = AlertFiring(
        workspace_id=rule.workspace_id,
        rule_id=rule.id,
        source_type=submission.source_type,
        source_name=submission.source_name,
        submission_id=submission.submission_id,
        record_id=record_id,
        customer_id=submission.customer_id,
        reason=[m.as_json() for m in reason],
        outcome="no_case",
        fired_at=clock.now(),
    )
    session.add(firing)
    session.flush()
    actions = RuleActions.model_validate(rule.actions)
    if actions.open_case is not None:
        duplicate = _open_case_of(session, rule, submission.customer_id)
        if duplicate is not None:
            firing.case_id, firing.outcome = duplicate.id, "deduplicated"
            service.log(
                session,
                duplicate,
                "alert",
                service.SYSTEM,
                rule_id=rule.id,
                firing_id=firing.id,
                submission_id=submission.submission_id,
                deduplicated=True,
            )
        else:
            case = service.open_case(
                session,
                workspace_id=rule.workspace_id,
                title=f"{rule.name}: " + "; ".join(f"{m.condition} ({m.value})" for m in reason),
                actor=service.Actor(label=f"rule:{rule.name}"),
                customer_id=submission.customer_id,
                priority=actions.open_case.priority,
                team_id=actions.open_case.team_id,
                owner_id=actions.open_case.owner_id,
                rule_id=rule.id,
                source_type=submission.source_type,
                source_name=submission.source_name,
                submission_id=submission.submission_id,
                record_id=record_id,
            )
            firing.case_id, firing.outcome = case.id, "case_opened"
    if actions.email:
        enqueue(session, EMAIL_ALERT, workspace_id=rule.workspace_id, firing_id=firing.id)
    events.emit(
        session,
        workspace_id=rule.workspace_id,
        event_type=events.ALERT_FIRED,
        data={
            "rule_id": rule.id,
            "firing_id": firing.id,
            "case_id": firing.case_id,
            "customer_id": submission.customer_id,
            "source_type": submission.source_type,
            "source_name": submission.source_name,
            "submission_id": submission.submission_id,
            "reason": [m.condition for m in reason],
        },
    )
    return True


def _open_case_of(session: Session, rule: AlertRule, customer_id: int | None) -> Case | None:
    """This customer's open case from this rule opened within the rule's window (anonymous feedback: none)."""
    if customer_id is None:
        return None
    since = clock.now() - timedelta(hours=rule.dedupe_window_hours)
    return session.scalar(
        select(Case)
        .where(
            Case.rule_id == rule.id,
            Case.customer_id == customer_id,
            Case.status.in_(OPEN_STATUSES),
            Case.created_at >= since,
        )
        .order_by(Case.id.desc())
        .limit(1)
    )
