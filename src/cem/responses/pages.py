"""What the hosted page GET /s/<slug> shows, decided inside a read-only transaction (cem.responses.web renders it).

A respondent is found by the resume key in the link (`r=`) or in their cookie for the survey; one without a
response sees the first page, and nothing is stored until they submit it (cem.responses.hosted).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from cem.db.base import utcnow
from cem.responses import answers as answer_rules
from cem.responses import service as response_service
from cem.responses.respondent import pick_language
from cem.responses.views import PageView, carry_fields, ending_texts, message_view, page_view, redirect_url
from cem.surveys import logic
from cem.surveys import service as survey_service
from cem.surveys.definition import Page, text
from cem.surveys.models import Survey, SurveyResponse

COOKIE_PREFIX = "cem_r_"


def cookie_name(survey_id: int) -> str:
    """The cookie that keeps a respondent's resume key for one survey."""
    return f"{COOKIE_PREFIX}{survey_id}"


@dataclass
class Outcome:
    """What a handler decided inside its transaction, rendered after it. Plain values only, no ORM objects:
    an outcome outlives its session (and a shared transaction that was rolled back, see hosted.PageSubmits)."""

    view: PageView | None = None
    status: int = 200
    redirect: str | None = None  # external ending redirect
    resume_key: str | None = None  # PRG to the current page
    survey_id: int | None = None  # names the resume cookie
    mark_opened: int | None = None


def find_response(
    session: Session, survey: Survey, key: str | None, known: dict[str, SurveyResponse | None] | None = None
) -> SurveyResponse | None:
    """The survey's response with resume key `key`; `known` holds the keys a batch looked up already."""
    if known is not None and key in known:
        response = known[key]
    else:
        response = response_service.get_response_by_key(session, key) if key else None
    return response if response is not None and response.survey_id == survey.id else None


def show(session: Session, slug: str, query: dict[str, str], cookies: dict[str, str], accept: str | None) -> Outcome:
    """The respondent's current page, their ending, or why the survey takes no answers."""
    survey = survey_service.get_survey_by_slug(session, slug)
    if survey is None or survey.current_version_id is None:
        return Outcome(view=message_view(None, "There is no survey at this address."), status=404)
    response = find_response(session, survey, query.get("r") or cookies.get(cookie_name(survey.id)))
    if response is None:
        return _fresh(session, survey, query, accept)
    opened = response_service.open_page(session, response)
    defn, ctx = opened.defn, opened.ctx
    lang = response.language
    if query.get("lang"):
        lang = pick_language(defn, query["lang"], None, None)
    first_view = response.id if "opened_at" not in (response.meta or {}) else None
    if response.status == "completed":
        target = redirect_url(defn, response.ending_id, ctx, lang)
        if target:
            return Outcome(redirect=target, mark_opened=first_view)
        view = message_view(survey, "", lang)
        view.title = text(defn.title, lang, defn.default_language) or survey.name
        view.ending_headline, view.ending_message = ending_texts(defn, response.ending_id, ctx, lang)
        view.unavailable = ""
        return Outcome(view=view, mark_opened=first_view)
    reason = survey_service.availability(survey)
    page = opened.page
    if reason or page is None:
        return Outcome(view=message_view(survey, reason or "This survey has changed; please start again."))
    values = {**(response.meta or {}).get("prefill", {}), **response.answers}
    values.update(_prefill_from_query(page, query))
    view = page_view(survey, defn, page, ctx, lang, values=values)
    view.nonce = response.page_nonce
    view.resume_key = response.resume_key
    view.can_go_back = defn.settings.allow_back and bool(response.page_history)
    return Outcome(view=view, mark_opened=first_view, survey_id=survey.id)


def _prefill_from_query(page: Page, query: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for question in page.questions:
        if not question.answerable:
            continue
        raw = query.get(answer_rules.form_name(question.id))
        if raw is None:
            continue
        try:
            value = answer_rules.check_answer(question.model_copy(update={"required": False}), raw)
        except answer_rules.AnswerError:
            continue
        if value is not None:
            values[question.id] = value
    return values


def _fresh(session: Session, survey: Survey, query: dict[str, str], accept: str | None) -> Outcome:
    """A visitor without a response: show the first page; nothing is stored until they submit it."""
    assert survey.current_version_id is not None
    defn = survey_service.version_definition(session, survey.current_version_id)
    lang = pick_language(defn, query.get("lang"), None, accept)
    reason = survey_service.availability(survey)
    if reason:
        return Outcome(view=message_view(survey, reason, lang))
    ctx = logic.Context(
        hidden={h.id: query[h.id][:1000] for h in defn.hidden_fields if query.get(h.id)},
        variables=logic.initial_variables(defn),
    )
    first = logic.first_page(defn, ctx)
    page = next((p for p in defn.pages if p.id == first), None)
    if page is None:
        return Outcome(view=message_view(survey, "This survey has no questions to show.", lang))
    view = page_view(survey, defn, page, ctx, lang, values=_prefill_from_query(page, query))
    view.nonce = secrets.token_urlsafe(18)
    view.carry = carry_fields(defn, query, lang)
    view.carry["t"] = str(int(utcnow().timestamp()))
    return Outcome(view=view)
