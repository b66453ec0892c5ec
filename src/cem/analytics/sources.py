"""Row sources beyond feedback records and customers: survey responses and survey invitations.

Each source is one declaration: a SELECT over the operational tables presenting flat columns. The SQL
engine queries that SELECT as a subquery; the snapshot export writes the very same SELECT to Parquet, and
DuckDB/Spark query the file under the same column names. So completion and response rate are defined once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, case, func, literal, select
from sqlalchemy.orm import Session

from cem.cases.models import Case
from cem.distribution.models import Invitation
from cem.surveys.models import Survey, SurveyResponse


@dataclass(frozen=True)
class Source:
    """A flat row source for metrics counting something other than feedback records or customers."""

    entity: str  # the metric entity it serves
    table: str  # the snapshot view / Parquet file name
    alias: str
    columns: dict[str, str]  # column -> DuckDB type, in the SELECT's order
    select: Callable[[], Select[Any]]
    time: str  # the column time buckets and date ranges use
    dimensions: dict[str, str]  # dimension name -> column (customer attributes join on customer_id)
    state: Callable[[Session], str]  # changes whenever the rows do (the snapshot rewrites the file then)


def _responses() -> Select[Any]:
    completed = case((SurveyResponse.status == "completed", literal(1.0)), else_=literal(0.0))
    return select(
        SurveyResponse.id,
        SurveyResponse.workspace_id,
        SurveyResponse.customer_id,
        Survey.slug.label("survey"),
        SurveyResponse.channel,
        SurveyResponse.language,
        SurveyResponse.started_at,
        completed.label("completed"),
    ).join(Survey, Survey.id == SurveyResponse.survey_id)


def _invitations() -> Select[Any]:
    # Only sent invitations count; responded: the invitation led to a response (started or completed).
    responded = case(
        (Invitation.sent_at.is_(None), literal(None)),
        (Invitation.response_id.is_not(None), literal(1.0)),
        else_=literal(0.0),
    )
    return select(
        Invitation.id,
        Invitation.workspace_id,
        Invitation.customer_id,
        Survey.slug.label("survey"),
        Invitation.channel,
        Invitation.sent_at,
        responded.label("responded"),
    ).join(Survey, Survey.id == Invitation.survey_id)


def _response_state(session: Session) -> str:
    count, updated = session.execute(select(func.count(), func.max(SurveyResponse.updated_at))).one()
    return f"{count}/{updated}"


def _invitation_state(session: Session) -> str:
    row = session.execute(
        select(
            func.count(), func.max(Invitation.id), func.count(Invitation.sent_at), func.count(Invitation.response_id)
        )
    ).one()
    return "/".join(map(str, row))


# Who was reached, by which survey and through which channel: the columns responses and invitations share.
_SURVEY_CONTACT_COLUMNS = {
    "id": "BIGINT",
    "workspace_id": "BIGINT",
    "customer_id": "BIGINT",
    "survey": "VARCHAR",
    "channel": "VARCHAR",
}

RESPONSES = Source(
    entity="response",
    table="responses",
    alias="r",
    columns={
        **_SURVEY_CONTACT_COLUMNS,
        "language": "VARCHAR",
        "started_at": "TIMESTAMP",
        "completed": "DOUBLE",
    },
    select=_responses,
    time="started_at",
    dimensions={"survey": "survey", "channel": "channel", "language": "language"},
    state=_response_state,
)
INVITATIONS = Source(
    entity="invitation",
    table="invitations",
    alias="i",
    columns={
        **_SURVEY_CONTACT_COLUMNS,
        "sent_at": "TIMESTAMP",
        "responded": "DOUBLE",
    },
    select=_invitations,
    time="sent_at",
    dimensions={"survey": "survey", "channel": "channel"},
    state=_invitation_state,
)


def _cases() -> Select[Any]:
    measures = ("first_response_minutes", "resolution_minutes", "within_sla", "closed_loop", "recovered")
    columns: list[Any] = [Case.id, Case.workspace_id, Case.customer_id, Case.created_at]
    return select(*columns, *(getattr(Case, name) for name in measures))


def _case_state(session: Session) -> str:
    count, updated = session.execute(select(func.count(), func.max(Case.updated_at))).one()
    return f"{count}/{updated}"


CASES = Source(
    entity="case",
    table="cases",
    alias="k",
    columns={
        "id": "BIGINT",
        "workspace_id": "BIGINT",
        "customer_id": "BIGINT",
        "created_at": "TIMESTAMP",
        "first_response_minutes": "DOUBLE",
        "resolution_minutes": "DOUBLE",
        "within_sla": "DOUBLE",
        "closed_loop": "DOUBLE",
        "recovered": "DOUBLE",
    },
    select=_cases,
    time="created_at",
    dimensions={},
    state=_case_state,
)
SOURCES = {s.entity: s for s in (RESPONSES, INVITATIONS, CASES)}
# The value column each source's metrics read.
VALUE_COLUMNS = {
    "completed": RESPONSES,
    "responded": INVITATIONS,
    **dict.fromkeys(("first_response_minutes", "resolution_minutes", "within_sla", "closed_loop", "recovered"), CASES),
}
