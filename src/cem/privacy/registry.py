"""Every table of the schema, classified for privacy requests.

A table either holds personal data, and then says which of its rows belong to a person (exported,
then deleted or anonymised on erasure), or is declared free of personal data with a reason.
Erasure walks PERSONAL in order (children before parents), then scrubs the email out of any free
text left in those tables. tests/privacy/test_registry.py fails for any table not listed here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import ColumnElement, exists, or_, select
from sqlalchemy.orm import InstrumentedAttribute

from cem.analytics.dashboards.models import Dashboard
from cem.auth.models import ApiToken, AuditLog, Membership, User, WebSession
from cem.cases.models import AlertFiring, Case, CaseActivity
from cem.churn.models import ChurnScore
from cem.clv.models import CustomerValue
from cem.customers.models import Customer, Event
from cem.distribution.models import Contact as SurveyContact
from cem.distribution.models import ContactSkip, Invitation, Unsubscribe
from cem.feedback.models import FeedbackRecord
from cem.privacy.subject import Subject
from cem.surveys.models import SurveyResponse
from cem.text.models import LabelCorrection
from cem.text.topics.models import RecordTopic
from cem.webhooks.models import WebhookAttempt, WebhookDelivery

Linker = Callable[[Subject], ColumnElement[bool] | None]
ERASED_USER_LABEL = "[erased user]"


@dataclass(frozen=True)
class PersonalData:
    """A table holding personal data: which rows are the person's and what erasure does to them."""

    holds: str
    linked: Linker | None = None  # rows belonging to the person (None: only free-text mentions)
    on_erase: Literal["delete", "anonymise"] = "delete"
    anonymise: dict[str, Any] = field(default_factory=dict)  # column -> value, for on_erase="anonymise"
    erase_only_if: Linker | None = None  # extra condition at erasure time
    on_mention: Literal["scrub", "delete"] = "scrub"  # rows that merely quote the email
    # Whether a workspace-scoped request may act on mentions in this table although it has no workspace.
    mentions_in_any_workspace: bool = False


@dataclass(frozen=True)
class NoPersonalData:
    reason: str


def _among(column: InstrumentedAttribute[Any], ids: tuple[int, ...]) -> ColumnElement[bool] | None:
    return column.in_(ids) if ids else None


def _of_user(column: InstrumentedAttribute[Any]) -> Linker:
    return lambda s: column == s.user_id if s.user_id is not None else None


def _acting_user(s: Subject) -> ColumnElement[bool] | None:
    if s.user_id is None:
        return None
    return (AuditLog.actor_type == "user") & (AuditLog.actor_id == s.user_id)


def _no_membership_left(_s: Subject) -> ColumnElement[bool]:
    # A workspace-scoped erasure keeps an account that still belongs to other workspaces.
    return ~exists(select(Membership.id).where(Membership.user_id == User.id))


def _case_ids(s: Subject) -> Any:
    return select(Case.id).where(Case.customer_id.in_(s.customer_ids))


def _topics_of_records(s: Subject) -> ColumnElement[bool] | None:
    records = select(FeedbackRecord.id).where(FeedbackRecord.customer_id.in_(s.customer_ids))
    return RecordTopic.record_id.in_(records) if s.customer_ids else None


def _webhook_deliveries(s: Subject) -> ColumnElement[bool] | None:
    # The signed body names the customer as `"customer_id":<id>,` (cem.webhooks.events.body: compact JSON, more
    # keys follow it in every event).
    if not s.customer_ids:
        return None
    return or_(*(WebhookDelivery.body.contains(f'"customer_id":{i},') for i in s.customer_ids))


def _webhook_attempts(s: Subject) -> ColumnElement[bool] | None:
    deliveries = _webhook_deliveries(s)
    if deliveries is None:
        return None
    return WebhookAttempt.delivery_id.in_(select(WebhookDelivery.id).where(deliveries))


PERSONAL: dict[str, PersonalData] = {
    # Before feedback_record: which topics the person's texts carry (derived from them, erased with them).
    "record_topic": PersonalData(
        "topic assignments of the person's feedback texts",
        _topics_of_records,
    ),
    # Scores derived from the person's purchases, attributes and feedback (before customer, which they reference).
    "customer_value": PersonalData(
        "predicted lifetime value of the person's customer records",
        lambda s: _among(CustomerValue.customer_id, s.customer_ids),
    ),
    "churn_score": PersonalData(
        "predicted churn risk and its reasons", lambda s: _among(ChurnScore.customer_id, s.customer_ids)
    ),
    # The closed loop (before customer, which cases and firings reference): a person's cases go with them,
    # timeline included (notes and replies quote them). Agents' emails on timelines are scrubbed as mentions.
    "case_activity": PersonalData(
        "the timeline of the person's cases: notes, and the replies sent to them",
        lambda s: CaseActivity.case_id.in_(_case_ids(s)) if s.customer_ids else None,
    ),
    "alert_firing": PersonalData(
        "alert rules that fired on the person's feedback, with the values that matched",
        lambda s: _among(AlertFiring.customer_id, s.customer_ids),
    ),
    "case": PersonalData(
        "follow-up cases about the person: title, outcome, tags", lambda s: _among(Case.customer_id, s.customer_ids)
    ),
    "event": PersonalData(
        "interaction events of the person's customer records", lambda s: _among(Event.customer_id, s.customer_ids)
    ),
    "feedback_record": PersonalData(
        "answers and texts the person gave", lambda s: _among(FeedbackRecord.customer_id, s.customer_ids)
    ),
    # Survey distribution (before survey_response and customer, which they reference).
    "survey_invitation": PersonalData(
        "the person's survey invitations: email address, link token, send and open times",
        lambda s: _among(Invitation.customer_id, s.customer_ids),
    ),
    "survey_contact": PersonalData(
        "when the person was sent or shown a survey (contact-frequency history)",
        lambda s: _among(SurveyContact.customer_id, s.customer_ids),
    ),
    "survey_contact_skip": PersonalData(
        "surveys the person was not sent, with the rule that skipped them",
        lambda s: _among(ContactSkip.customer_id, s.customer_ids),
    ),
    "survey_unsubscribe": PersonalData(
        "the person's opt-out from surveys", lambda s: _among(Unsubscribe.customer_id, s.customer_ids)
    ),
    "survey_response": PersonalData(
        "the person's survey answers, hidden-field values and language",
        lambda s: _among(SurveyResponse.customer_id, s.customer_ids),
    ),
    "customer": PersonalData("email, name and attributes", lambda s: _among(Customer.id, s.customer_ids)),
    "web_session": PersonalData("login sessions of the user account", _of_user(WebSession.user_id)),
    "api_token": PersonalData("API tokens the user created", _of_user(ApiToken.user_id)),
    "membership": PersonalData("the user's workspace roles", _of_user(Membership.user_id)),
    "app_user": PersonalData(
        "login email, name and password hash", _of_user(User.id), erase_only_if=_no_membership_left
    ),
    "audit_log": PersonalData(
        "the actor label (a user's email) of entries the user made",
        _acting_user,
        on_erase="anonymise",
        anonymise={"actor_label": ERASED_USER_LABEL},
    ),
    # A shared dashboard stays with the workspace when its author is erased; only the authorship goes.
    "dashboard": PersonalData(
        "owner and author label (a user's email) of dashboards the user created",
        lambda s: (Dashboard.owner_type == "user") & (Dashboard.owner_id == s.user_id) if s.user_id else None,
        on_erase="anonymise",
        anonymise={"owner_id": None, "created_by": ERASED_USER_LABEL},
    ),
    "dashboard_widget": PersonalData("widget filters may quote the email (FIELD=VALUE)"),
    "survey": PersonalData("created_by (a user's email) and survey texts may quote the email"),
    "survey_version": PersonalData("created_by (a user's email) and survey texts may quote the email"),
    "survey_import": PersonalData("created_by (a user's email); warnings quote survey texts, which may hold it"),
    # Embeddings are derived from feedback text and go with it: the FK cascade deletes them with the person's
    # records (no linked rows of their own to export: a vector is not readable data).
    "feedback_embedding": PersonalData("embeddings of the person's feedback texts, deleted with those texts"),
    "label_correction": PersonalData(
        "who corrected a label (the user's id and email label)",
        _of_user(LabelCorrection.user_id),
        on_erase="anonymise",
        anonymise={"user_id": None, "corrected_by": ERASED_USER_LABEL},
    ),
    "import_run": PersonalData("row errors, messages and created_by may quote the email"),
    "job": PersonalData("job arguments, results and errors may quote the email"),
    # Before webhook_delivery: receivers' answers to the person's messages may echo them.
    "webhook_attempt": PersonalData("receivers' answers to webhook messages about the person", _webhook_attempts),
    "webhook_delivery": PersonalData(
        "outbound webhook messages carrying the person's feedback and answers", _webhook_deliveries
    ),
    # Effect keys are retry markers, not anyone's data: dropping one only lets a job about this person
    # repeat its effect, and that person is being erased.
    "job_effect": PersonalData(
        "idempotency keys may embed the email", on_mention="delete", mentions_in_any_workspace=True
    ),
}

NO_PERSONAL_DATA: dict[str, NoPersonalData] = {
    "survey_audience": NoPersonalData("saved customer filters (configuration)"),
    "survey_contact_settings": NoPersonalData("contact-frequency rules and widget origins (configuration)"),
    "survey_channel_settings": NoPersonalData("a survey's recontact, email and widget settings (configuration)"),
    "survey_trigger": NoPersonalData("event types that trigger a survey (configuration)"),
    "survey_distribution": NoPersonalData("a survey sending's audience, subject and status (configuration)"),
    "clv_fit": NoPersonalData("lifetime-value model parameters fitted over many customers"),
    "churn_fit": NoPersonalData("churn model figures (cross-validation, feature names) over many customers"),
    "workspace_sentiment_model": NoPersonalData("logistic-regression weights and cross-validation figures"),
    "topic": NoPersonalData("topic labels and centroids aggregated over many texts (configuration)"),
    "workspace": NoPersonalData("an organisation's name, slug and settings"),
    "journey": NoPersonalData("journey definitions (configuration)"),
    "experience_target": NoPersonalData("promised metric values per journey stage or touchpoint (configuration)"),
    "journey_stage": NoPersonalData("journey stage definitions (configuration)"),
    "touchpoint": NoPersonalData("touchpoint definitions (configuration)"),
    "import_mapping": NoPersonalData("saved CSV column mappings (configuration)"),
    "inbound_source": NoPersonalData("webhook source configuration and secret digests"),
    "webhook_subscription": NoPersonalData("endpoint URLs, chosen events and an encrypted signing secret"),
    "job_schedule": NoPersonalData("cron definitions of recurring system jobs"),
    # The keys are HMACs under the server secret (not reversible without it) and every row is deleted once
    # the throttle window (15 minutes by default) has passed, so nothing lasts long enough to export or erase.
    "alert_rule": NoPersonalData("rule conditions and actions (configuration); created_by is a role label"),
    "team": NoPersonalData("team names and lead (a user id, not personal data by itself)"),
    "team_member": NoPersonalData("which user ids belong to which team"),
    "sla_policy": NoPersonalData("SLA targets and selectors (configuration)"),
    "business_calendar": NoPersonalData("business hours, time zone and holidays (configuration)"),
    "login_attempt": NoPersonalData("keyed hashes of login emails and client addresses, kept one throttle window"),
}

# Tables created by migrations outside the ORM metadata, and how erasure reaches them.
DERIVED: dict[str, str] = {
    "feedback_fts": (
        "SQLite FTS5 index of feedback_record.value_text; triggers drop deleted and scrubbed text, and an erasure"
        " merges its segments (privacy/storage.py) so no tombstoned copy of the text stays"
    ),
    "alembic_version": "the schema revision",
}


def classification(table: str) -> PersonalData | NoPersonalData | None:
    """How `table` is handled by privacy requests (None: not classified, a bug)."""
    return PERSONAL.get(table) or NO_PERSONAL_DATA.get(table)
