"""Alert rules: create, read, change, delete, and the "test this rule on the last 30 days" preview."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from cem.auth import audit
from cem.auth.principal import Principal
from cem.cases import clock, facts, teams
from cem.cases.conditions import Evaluator, Group, needs_enrichment
from cem.cases.models import AlertFiring, AlertRule
from cem.cases.schemas import AlertRuleIn, FiringRead, PreviewHit, PreviewIn, PreviewRead, RuleSaved
from cem.db.unique import flush_unique
from cem.errors import NotFound

# A rule that would have fired on at least this share of the last 30 days' submissions (and on at least
# NOISY_MIN of them) is almost certainly a mistake, e.g. `nps <= 10`: saving it warns.
NOISY_SHARE = 0.8
NOISY_MIN = 10


def get_rule(session: Session, *, workspace_id: int, rule_id: int) -> AlertRule:
    rule = session.get(AlertRule, rule_id)
    if rule is None or rule.workspace_id != workspace_id:
        raise NotFound(f"Alert rule {rule_id} does not exist.")
    return rule


def list_rules(session: Session, *, workspace_id: int) -> list[AlertRule]:
    return list(
        session.scalars(select(AlertRule).where(AlertRule.workspace_id == workspace_id).order_by(AlertRule.name))
    )


def active_rules(session: Session, *, workspace_id: int) -> list[AlertRule]:
    stmt = select(AlertRule).where(AlertRule.workspace_id == workspace_id, AlertRule.active.is_(True))
    return list(session.scalars(stmt.order_by(AlertRule.id)))


def has_active_rules(session: Session, *, workspace_id: int, needs_enrichment: bool | None = None) -> bool:
    """One indexed probe per ingest flush: without active rules, ingest queues nothing."""
    where = [AlertRule.workspace_id == workspace_id, AlertRule.active.is_(True)]
    if needs_enrichment is not None:
        where.append(AlertRule.needs_enrichment.is_(needs_enrichment))
    return bool(session.scalar(select(exists().where(*where))))


def save_rule(session: Session, *, actor: Principal, rule_in: AlertRuleIn, rule_id: int | None = None) -> RuleSaved:
    """Create (rule_id None) or replace a rule; the result carries warnings (a rule that fires on nearly all)."""
    open_case = rule_in.actions.open_case
    if open_case is not None:
        teams.check_assignment(
            session,
            workspace_id=actor.workspace_id,
            owner_id=open_case.owner_id,
            team_id=open_case.team_id,
            loc=("actions", "open_case"),
        )
    values = {
        "name": rule_in.name,
        "description": rule_in.description,
        "active": rule_in.active,
        "condition": rule_in.condition.model_dump(mode="json", exclude_none=True),
        "actions": rule_in.actions.model_dump(mode="json"),
        "needs_enrichment": needs_enrichment(rule_in.condition),
        "dedupe_window_hours": rule_in.dedupe_window_hours,
    }
    if rule_id is None:
        rule = AlertRule(workspace_id=actor.workspace_id, created_by=actor.label, **values)
        session.add(rule)
    else:
        rule = get_rule(session, workspace_id=actor.workspace_id, rule_id=rule_id)
        for name, value in values.items():
            setattr(rule, name, value)
    flush_unique(session, f"An alert rule named {rule_in.name!r}")
    audit.record(session, actor, "alert_rule.save", entity_type="alert_rule", entity_id=rule.id)
    warnings = preview(session, workspace_id=actor.workspace_id, query=PreviewIn(condition=rule_in.condition)).warnings
    session.refresh(rule)
    return RuleSaved.model_validate(
        {**RuleSaved.model_validate(rule, from_attributes=True).model_dump(), "warnings": warnings}
    )


def delete_rule(session: Session, *, actor: Principal, rule_id: int) -> None:
    rule = get_rule(session, workspace_id=actor.workspace_id, rule_id=rule_id)
    session.delete(rule)
    audit.record(session, actor, "alert_rule.delete", entity_type="alert_rule", entity_id=rule_id)


def preview(session: Session, *, workspace_id: int, query: PreviewIn) -> PreviewRead:
    """What the condition would have caught among the submissions of the last `days` days."""
    since = clock.now() - timedelta(days=query.days)
    recent, truncated = facts.recent(session, workspace_id=workspace_id, since=since)
    evaluator = Evaluator(query.condition)
    hits: list[PreviewHit] = []
    matched = 0
    for submission, collected_at in recent:
        reason = evaluator.evaluate(submission)
        if reason is None:
            continue
        matched += 1
        if len(hits) < query.limit:
            hits.append(
                PreviewHit(
                    source_type=submission.source_type,
                    source_name=submission.source_name,
                    submission_id=submission.submission_id,
                    customer_id=submission.customer_id,
                    collected_at=collected_at,
                    reason=[m.as_json() for m in reason],
                )
            )
    share = matched / len(recent) if recent else 0.0
    warnings = []
    if matched >= NOISY_MIN and share >= NOISY_SHARE:
        warnings.append(
            f"This rule would have fired on {matched} of {len(recent)} submissions ({share:.0%}) in the last "
            f"{query.days} days: it would open a case for nearly everyone. Narrow its conditions."
        )
    return PreviewRead(
        days=query.days,
        submissions=len(recent),
        matched=matched,
        share=round(share, 4),
        truncated=truncated,
        first=hits,
        warnings=warnings,
    )


def condition_of(rule: AlertRule) -> Group:
    return Group.model_validate(rule.condition)


def list_firings(session: Session, *, workspace_id: int, rule_id: int, limit: int = 100) -> list[FiringRead]:
    get_rule(session, workspace_id=workspace_id, rule_id=rule_id)
    stmt = (
        select(AlertFiring)
        .where(AlertFiring.rule_id == rule_id)
        .order_by(AlertFiring.fired_at.desc(), AlertFiring.id.desc())
        .limit(limit)
    )
    return [FiringRead.model_validate(f) for f in session.scalars(stmt)]


def firing_stats(session: Session, workspace_id: int) -> dict[int, tuple[int, Any]]:
    """Per rule: how many times it fired and when last."""
    stmt = (
        select(AlertFiring.rule_id, func.count(), func.max(AlertFiring.fired_at))
        .where(AlertFiring.workspace_id == workspace_id)
        .group_by(AlertFiring.rule_id)
    )
    return {rule_id: (count, last) for rule_id, count, last in session.execute(stmt)}
