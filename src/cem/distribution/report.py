"""The distribution report of a survey: the funnel per channel, drop-off per question, skips by reason.

Definitions (the same on every channel):
- invited: invitations made (emails queued or sent; widget displays)
- delivered: emails accepted by the SMTP server; a widget display is delivered when shown
- opened: the survey page was opened from the invitation (a response exists)
- started: at least one answer stored; completed: reached an ending
- response rate = started / invited; completion rate = completed / started
Responses that came without an invitation (the public link, imports, API) form the "link" row, where
nobody was invited, so only opened/started/completed are counted.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, distinct, exists, func, select
from sqlalchemy.orm import Session

from cem.distribution import service as dist_service
from cem.distribution.models import Invitation
from cem.distribution.schemas import ChannelFunnel, DistributionRead, DistributionReport, QuestionDropoff
from cem.feedback.models import FeedbackRecord
from cem.surveys import service as survey_service
from cem.surveys.definition import text
from cem.surveys.models import Survey, SurveyResponse


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _answered(survey: Survey) -> ColumnElement[bool]:
    return exists(
        select(FeedbackRecord.id).where(
            FeedbackRecord.workspace_id == survey.workspace_id,
            FeedbackRecord.source_type == "survey",
            FeedbackRecord.source_name == survey.slug,
            FeedbackRecord.submission_id == SurveyResponse.submission_id,
        )
    )


def _invitation_funnel(session: Session, survey: Survey, channel: str) -> ChannelFunnel:
    base = and_(Invitation.survey_id == survey.id, Invitation.channel == channel, Invitation.status != "skipped")
    invited, delivered, opened = session.execute(
        select(
            func.count(),
            func.count(Invitation.sent_at),
            func.count(Invitation.opened_at),
        ).where(base)
    ).one()
    started, completed = _response_counts(
        session, survey, SurveyResponse.id.in_(select(Invitation.response_id).where(base))
    )
    return ChannelFunnel(
        channel=channel,
        invited=int(invited),
        delivered=int(delivered),
        opened=int(opened),
        started=started,
        completed=completed,
        response_rate=_rate(started, int(invited)),
        completion_rate=_rate(completed, started),
    )


def _response_counts(session: Session, survey: Survey, where: ColumnElement[bool]) -> tuple[int, int]:
    started = session.scalar(
        select(func.count()).where(
            SurveyResponse.survey_id == survey.id,
            where,
            (SurveyResponse.status == "completed") | _answered(survey),
        )
    )
    completed = session.scalar(
        select(func.count()).where(SurveyResponse.survey_id == survey.id, where, SurveyResponse.status == "completed")
    )
    return int(started or 0), int(completed or 0)


def _link_funnel(session: Session, survey: Survey) -> ChannelFunnel:
    no_invitation = SurveyResponse.invitation_id.is_(None)
    opened = int(session.scalar(select(func.count()).where(SurveyResponse.survey_id == survey.id, no_invitation)) or 0)
    started, completed = _response_counts(session, survey, no_invitation)
    return ChannelFunnel(
        channel="link",
        invited=0,
        delivered=0,
        opened=opened,
        started=started,
        completed=completed,
        response_rate=None,
        completion_rate=_rate(completed, started),
    )


def _dropoff(session: Session, survey: Survey, started: int) -> list[QuestionDropoff]:
    if survey.current_version_id is None:
        return []
    defn = survey_service.version_definition(session, survey.current_version_id)
    rows = session.execute(
        select(FeedbackRecord.field_id, func.count(distinct(FeedbackRecord.submission_id)))
        .where(
            FeedbackRecord.workspace_id == survey.workspace_id,
            FeedbackRecord.source_type == "survey",
            FeedbackRecord.source_name == survey.slug,
        )
        .group_by(FeedbackRecord.field_id)
    ).all()
    by_field = {field_id: int(n) for field_id, n in rows}
    out = []
    for _, _, q in defn.answerable_questions():
        # Matrix rows are stored as "<question>.<row>": a respondent answered the question if any row.
        answered = by_field.get(q.id, 0)
        if q.type == "matrix":
            answered = max([answered, *(n for f, n in by_field.items() if f.startswith(q.id + "."))])
        out.append(
            QuestionDropoff(
                question_id=q.id,
                label=text(q.headline, defn.default_language, defn.default_language),
                answered=answered,
                share_of_started=_rate(answered, started),
            )
        )
    return out


def build(session: Session, *, workspace_id: int, survey_id: int) -> DistributionReport:
    survey = dist_service.get_survey(session, workspace_id=workspace_id, survey_id=survey_id)
    channels = [_invitation_funnel(session, survey, "email"), _invitation_funnel(session, survey, "widget")]
    link = _link_funnel(session, survey)
    invited = sum(c.invited for c in channels)
    started = sum(c.started for c in channels)
    completed = sum(c.completed for c in channels)
    total = ChannelFunnel(
        channel="invited (email + widget)",
        invited=invited,
        delivered=sum(c.delivered for c in channels),
        opened=sum(c.opened for c in channels),
        started=started,
        completed=completed,
        response_rate=_rate(started, invited),
        completion_rate=_rate(completed, started),
    )
    all_started = started + link.started
    distributions = dist_service.list_distributions(session, workspace_id=workspace_id, survey_id=survey_id)
    return DistributionReport(
        survey_id=survey.id,
        total=total,
        channels=[*channels, link],
        dropoff=_dropoff(session, survey, all_started),
        skips_by_reason=dist_service.skip_counts(session, survey_id=survey.id),
        distributions=[DistributionRead.model_validate(d) for d in distributions],
    )
