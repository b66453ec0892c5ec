"""Audiences: saved customer filters, evaluated in SQL, then passed through the contact-frequency rules.

Each condition compiles to one SQL boolean. The evaluation query returns every customer of the workspace
with one 0/1 column per condition, so a single pass tells who is in and, for everyone else, which
condition left them out. The rules then run per person over the contact history, aggregated by one
GROUP BY (last counted contact, last contact with this survey, counted contacts in the period).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, false, func, not_, or_, select, true
from sqlalchemy.orm import Session

from cem.customers.models import Customer, Event
from cem.distribution.models import Audience, Contact, Unsubscribe
from cem.distribution.rules import Decision, History, SurveyRules, WorkspaceRules, decide
from cem.distribution.schemas import (
    AttributeCondition,
    AudienceFilter,
    Condition,
    FeedbackCondition,
    FieldCondition,
    SegmentCondition,
    StageCondition,
)
from cem.errors import InvalidInput, NotFound
from cem.feedback.models import FeedbackRecord
from cem.journeys.models import Journey, JourneyStage, Touchpoint

MAX_SEGMENT_DEPTH = 5
_CMP = {
    "equals": lambda a, b: a == b,
    "greater_than": lambda a, b: a > b,
    "less_than": lambda a, b: a < b,
    "gte": lambda a, b: a >= b,
    "lte": lambda a, b: a <= b,
}


def describe(condition: Condition) -> str:
    """A short human label of a condition, used as the exclusion reason."""
    if isinstance(condition, AttributeCondition):
        value = "" if condition.value is None else f" {condition.value}"
        return f"attribute {condition.key} {condition.op}{value}"
    if isinstance(condition, FieldCondition):
        return f"{condition.field} {condition.op}{' ' + condition.value if condition.value else ''}"
    if isinstance(condition, SegmentCondition):
        return f"{'not ' if condition.negate else ''}in audience #{condition.audience_id}"
    if isinstance(condition, StageCondition):
        return f"{'not ' if condition.negate else ''}at stage {condition.journey}/{condition.stage}"
    what = condition.field_type or "any"
    cmp = f" {condition.op} {condition.value:g}" if condition.op and condition.value is not None else ""
    days = f" in {condition.within_days} days" if condition.within_days else ""
    return f"{'no ' if condition.negate else ''}{what} feedback{cmp}{days}"


@dataclass
class _Compiler:
    session: Session
    workspace_id: int
    now: datetime
    depth: int = 0

    def filter(self, flt: AudienceFilter) -> list[ColumnElement[bool]]:
        return [self.condition(c, i) for i, c in enumerate(flt.conditions)]

    def combined(self, flt: AudienceFilter) -> ColumnElement[bool]:
        parts = self.filter(flt)
        if not parts:
            return true()
        return and_(*parts) if flt.match == "all" else or_(*parts)

    def condition(self, c: Condition, index: int) -> ColumnElement[bool]:
        if isinstance(c, AttributeCondition):
            return _attribute(c)
        if isinstance(c, FieldCondition):
            return _field(c)
        if isinstance(c, SegmentCondition):
            return self._segment(c, index)
        if isinstance(c, StageCondition):
            return self._stage(c, index)
        return self._feedback(c)

    def _segment(self, c: SegmentCondition, index: int) -> ColumnElement[bool]:
        if self.depth >= MAX_SEGMENT_DEPTH:
            raise InvalidInput(
                f"Audiences nest more than {MAX_SEGMENT_DEPTH} levels deep (or refer to themselves).",
                errors=[{"loc": ["filters", "conditions", index, "audience_id"], "msg": "nested too deeply"}],
            )
        other = self.session.get(Audience, c.audience_id)
        if other is None or other.workspace_id != self.workspace_id:
            raise InvalidInput(
                f"Audience {c.audience_id} does not exist.",
                errors=[{"loc": ["filters", "conditions", index, "audience_id"], "msg": "no such audience"}],
            )
        inner = _Compiler(self.session, self.workspace_id, self.now, self.depth + 1)
        expr = inner.combined(AudienceFilter.model_validate(other.filters))
        return not_(expr) if c.negate else expr

    def _stage(self, c: StageCondition, index: int) -> ColumnElement[bool]:
        stage_id = self.session.scalar(
            select(JourneyStage.id)
            .join(Journey, Journey.id == JourneyStage.journey_id)
            .where(Journey.workspace_id == self.workspace_id, Journey.key == c.journey, JourneyStage.key == c.stage)
        )
        if stage_id is None:
            raise InvalidInput(
                f"Journey stage {c.journey}/{c.stage} does not exist.",
                errors=[{"loc": ["filters", "conditions", index, "stage"], "msg": "no such journey stage"}],
            )
        latest_stage = (
            select(Touchpoint.stage_id)
            .select_from(Event)
            .join(Touchpoint, Touchpoint.id == Event.touchpoint_id)
            .where(Event.customer_id == Customer.id)
            .order_by(Event.occurred_at.desc(), Event.id.desc())
            .limit(1)
            .correlate(Customer)
            .scalar_subquery()
        )
        expr = func.coalesce(latest_stage, -1) == stage_id
        return not_(expr) if c.negate else expr

    def _feedback(self, c: FeedbackCondition) -> ColumnElement[bool]:
        where: list[ColumnElement[bool]] = [FeedbackRecord.customer_id == Customer.id]
        if c.field_type:
            where.append(FeedbackRecord.field_type == c.field_type)
        if c.op and c.value is not None:
            where.append(_CMP[c.op](FeedbackRecord.value_number, c.value))
        if c.within_days:
            where.append(FeedbackRecord.collected_at >= self.now - timedelta(days=c.within_days))
        expr = exists(select(FeedbackRecord.id).where(*where).correlate(Customer))
        return not_(expr) if c.negate else expr


def _attribute(c: AttributeCondition) -> ColumnElement[bool]:
    element = Customer.attributes[c.key]
    if c.op == "is_set":
        return element.as_string().is_not(None)
    if c.op == "is_not_set":
        return element.as_string().is_(None)
    if c.op in ("greater_than", "less_than", "gte", "lte"):
        return func.coalesce(_CMP[c.op](element.as_float(), c.value), false())
    if c.op == "contains":
        return func.coalesce(func.lower(element.as_string()).contains(str(c.value).lower()), false())
    values = c.value if isinstance(c.value, list) else [c.value]
    matches = or_(*(_equals(element, v) for v in values)) if values else false()
    if c.op == "not_equals":
        return or_(element.as_string().is_(None), not_(func.coalesce(matches, false())))
    return func.coalesce(matches, false())


def _equals(element: Any, value: Any) -> ColumnElement[bool]:
    if isinstance(value, bool):
        return element.as_boolean() == value
    if isinstance(value, int | float):
        return element.as_float() == float(value)
    return element.as_string() == str(value)


def _field(c: FieldCondition) -> ColumnElement[bool]:
    column = {"email": Customer.email, "name": Customer.name, "external_id": Customer.external_id}[c.field]
    if c.op == "is_set":
        return and_(column.is_not(None), column != "")
    if c.op == "is_not_set":
        return or_(column.is_(None), column == "")
    if c.op == "equals":
        return func.coalesce(func.lower(column) == (c.value or "").lower(), false())
    return func.coalesce(func.lower(column).contains((c.value or "").lower()), false())


# -- evaluation ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Person:
    customer_id: int
    external_id: str | None
    email: str | None
    name: str | None


@dataclass(slots=True)
class Verdict:
    person: Person
    included: bool
    reason: str | None = None
    detail: str = ""
    retry_at: datetime | None = None


@dataclass
class RulesContext:
    """What the rules need for one survey and channel; None survey: audience filters only."""

    rules: WorkspaceRules
    survey: SurveyRules
    channel: str  # email | widget

    def histories(
        self,
        session: Session,
        *,
        workspace_id: int,
        now: datetime,
        customer_ids: list[int] | None = None,
        other_surveys_only: bool = False,
    ) -> dict[int, History]:
        """Per customer with any contact: the aggregate the rules need, in one GROUP BY.

        `other_surveys_only` leaves out the contacts of this survey itself: a reminder follows up its own
        invitation, which must neither count as "asked again" nor against the cooldown and maximum.
        """
        period_start = now - timedelta(days=self.rules.period_days)
        stmt = (
            select(
                Contact.customer_id,
                func.max(case((Contact.counts == true(), Contact.at))),
                func.max(case((Contact.survey_id == self.survey.survey_id, Contact.at))),
                func.sum(case((and_(Contact.counts == true(), Contact.at > period_start), 1), else_=0)),
            )
            .where(Contact.workspace_id == workspace_id)
            .group_by(Contact.customer_id)
        )
        if customer_ids is not None:
            stmt = stmt.where(Contact.customer_id.in_(customer_ids))
        if other_surveys_only:
            stmt = stmt.where(Contact.survey_id != self.survey.survey_id)
        out: dict[int, History] = {}
        for cid, last_counted, last_this, in_period in session.execute(stmt):
            out[cid] = History(_aware(last_counted), _aware(last_this), int(in_period or 0))
        return out

    def decide(self, now: datetime, history: History, *, unsubscribed: bool, has_email: bool) -> Decision:
        """`rules.decide` for one person; an email needs an address, the widget does not."""
        return decide(
            now,
            self.rules,
            self.survey,
            history,
            unsubscribed=unsubscribed,
            needs_email=self.channel == "email",
            has_email=has_email,
        )


@dataclass
class Summary:
    total: int = 0
    matched: int = 0
    included: int = 0
    excluded_by_reason: Counter[str] = field(default_factory=Counter)


def _aware(value: Any) -> datetime | None:
    """Aggregates bypass the column type: SQLite returns naive strings, PostgreSQL aware datetimes."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def unsubscribed_ids(session: Session, *, workspace_id: int) -> set[int]:
    return set(session.scalars(select(Unsubscribe.customer_id).where(Unsubscribe.workspace_id == workspace_id)))


def evaluate(
    session: Session,
    *,
    workspace_id: int,
    flt: AudienceFilter,
    now: datetime,
    rules: RulesContext | None = None,
    customer_ids: list[int] | None = None,
    explain: bool = True,
) -> Iterator[Verdict]:
    """Every customer of the workspace (or of `customer_ids`) with whether they are in, and why not.

    With `explain=False` (sending) customers outside the filters are left out in SQL and not reported;
    the preview keeps them to say which condition excluded each one.
    """
    compiler = _Compiler(session, workspace_id, now)
    conditions = compiler.filter(flt)
    labels = [describe(c) for c in flt.conditions]
    histories: dict[int, History] = {}
    unsubscribed: set[int] = set()
    if rules is not None:
        histories = rules.histories(session, workspace_id=workspace_id, now=now, customer_ids=customer_ids)
        unsubscribed = unsubscribed_ids(session, workspace_id=workspace_id)
    flags = [case((c, 1), else_=0) for c in conditions] if explain else []
    stmt = select(Customer.id, Customer.external_id, Customer.email, Customer.name, *flags).where(
        Customer.workspace_id == workspace_id
    )
    if not explain and conditions:
        stmt = stmt.where(compiler.combined(flt))
    if customer_ids is not None:
        stmt = stmt.where(Customer.id.in_(customer_ids))
    match_all = flt.match == "all"
    # Most people have no contact history: their decision is the same for all of them (allowed, or
    # quiet hours), computed once instead of per row.
    fresh = decide(now, rules.rules, rules.survey, History()) if rules is not None else None
    needs_email = rules is not None and rules.channel == "email"
    for row in session.execute(stmt.order_by(Customer.id)).yield_per(20_000):
        person = Person(row[0], row[1], row[2], row[3])
        if flags:
            failed = _failed(row[4:], labels, match_all)
            if failed is not None:
                yield Verdict(person, False, "not_in_audience", failed)
                continue
        if rules is None or fresh is None:
            yield Verdict(person, True)
            continue
        history = histories.get(person.customer_id)
        if history is None and person.customer_id not in unsubscribed and (person.email or not needs_email):
            decision = fresh
        else:
            decision = rules.decide(
                now,
                history or History(),
                unsubscribed=person.customer_id in unsubscribed,
                has_email=bool(person.email),
            )
        yield Verdict(person, decision.allowed, decision.reason, decision.detail, decision.retry_at)


def _failed(bits: tuple[Any, ...], labels: list[str], match_all: bool) -> str | None:
    if match_all:
        for bit, label in zip(bits, labels, strict=True):
            if not bit:
                return f"fails: {label}"
        return None
    if any(bits):
        return None
    return "matches none of: " + "; ".join(labels)


def summarise(verdicts: Iterator[Verdict], *, sample: int) -> tuple[Summary, list[Verdict], list[Verdict]]:
    summary = Summary()
    included: list[Verdict] = []
    excluded: list[Verdict] = []
    for v in verdicts:
        summary.total += 1
        if v.reason != "not_in_audience":
            summary.matched += 1
        if v.included:
            summary.included += 1
            if len(included) < sample:
                included.append(v)
        else:
            summary.excluded_by_reason[v.reason or "unknown"] += 1
            if len(excluded) < sample:
                excluded.append(v)
    return summary, included, excluded


def get_audience(session: Session, *, workspace_id: int, audience_id: int) -> Audience:
    audience = session.get(Audience, audience_id)
    if audience is None or audience.workspace_id != workspace_id:
        raise NotFound(f"Audience {audience_id} does not exist.")
    return audience
