"""Responses: starting, submitting and resuming them, whole responses at once, and reading them back.

Functions other domains call (all take an open Session; the caller's unit of work commits):

    start_response(session, survey, *, channel, customer_id=None, language=None, accept_language=None,
                   hidden=None, invitation_id=None, prefill=None, metadata=None, now=None) -> SurveyResponse
    submit_page(session, response, *, page_id, answers, nonce=None, now=None, shared=None, opened=None) -> PageResult
        answers in the engine shape (see cem.surveys.definition); invalid -> PageResult.errors, nothing stored;
        with `shared` (the hosted page's group commit, cem.responses.records.SharedWrites) its records,
        enrichment job and completed count are written once for all pages of the transaction
    go_back(session, response, *, now=None) -> str | None
    add_response(session, survey, *, answers, submission_id=None, channel="import", ...) -> SurveyResponse
        a whole response at once (imports, API): checks every answer, stores it completed, idempotent on
        (survey, submission_id)
    get_response_by_key(session, resume_key) -> SurveyResponse | None
    get_response / list_responses / answer_items: responses as the CX team reads them
    (their counts per status are authoring's: cem.surveys.service.response_counts)

Answers become feedback records through cem.responses.records.write_records: source_type "survey",
source_name = survey slug, submission_id = response.submission_id, field_id = question id; see
cem.responses.answers for the value layout.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from cem import hooks
from cem.customers.models import Customer
from cem.db.base import utcnow
from cem.errors import CEMError, Conflict, InvalidInput, NotFound
from cem.responses import answers as answer_rules
from cem.responses import records
from cem.responses.respondent import context_for, customer_attributes, pick_language
from cem.responses.schemas import AnswerView
from cem.surveys import logic
from cem.surveys import service as surveys
from cem.surveys.definition import Page, SurveyDefinition
from cem.surveys.models import CHANNELS, Survey, SurveyResponse, SurveyVersion

MAX_PAGE_SECONDS = 3600.0  # a page left open overnight is not an hour-long answer


class SurveyUnavailable(CEMError, status_code=409, code="survey_unavailable"):
    """The survey takes no answers now (draft, paused, closed, not yet open, or full)."""


def _require_open(survey: Survey, now: datetime) -> None:
    reason = surveys.availability(survey, now)
    if reason:
        raise SurveyUnavailable(reason)


@dataclass
class PageResult:
    """Outcome of a page submit: errors (nothing stored), the next page, or the end."""

    errors: dict[str, str] = field(default_factory=dict)
    next_page_id: str | None = None
    ending_id: str | None = None
    completed: bool = False
    duplicate: bool = False  # the same nonce was submitted before; nothing was stored again

    @property
    def ok(self) -> bool:
        return not self.errors


def start_response(
    session: Session,
    survey: Survey,
    *,
    channel: str = "link",
    customer_id: int | None = None,
    language: str | None = None,
    accept_language: str | None = None,
    hidden: Mapping[str, Any] | None = None,
    invitation_id: int | None = None,
    prefill: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    submission_id: str | None = None,
    now: datetime | None = None,
    flush: bool = True,
) -> SurveyResponse:
    """Open a response on the survey's current version (raises SurveyUnavailable when it takes no answers).

    `prefill` (question id -> value) preselects answers on the first page (e.g. the score clicked in
    an email); they are stored only when the respondent submits that page. `submission_id` defaults to
    a random id; the hosted page passes the first form's nonce so a double submit finds the same response.
    With flush=False the INSERT waits for the next flush (the hosted page's first submit then writes one row,
    not an INSERT and an UPDATE); response.id is None until then.
    """
    now = now or utcnow()
    _require_open(survey, now)
    if channel not in CHANNELS:
        raise InvalidInput(f"Unknown channel {channel!r}; use one of: {', '.join(CHANNELS)}.")
    assert survey.current_version_id is not None
    defn = surveys.version_definition(session, survey.current_version_id)
    customer = None
    if customer_id is not None:
        customer = session.get(Customer, customer_id)
        if customer is None or customer.workspace_id != survey.workspace_id:
            raise InvalidInput(f"Customer {customer_id} does not exist.")
    attributes = customer_attributes(customer)
    hidden_values = _hidden_values(defn, hidden or {}, attributes)
    ctx = logic.Context(hidden=hidden_values, attributes=attributes, variables=logic.initial_variables(defn))
    customer_language = attributes.get("language") or attributes.get("locale")
    response = SurveyResponse(
        workspace_id=survey.workspace_id,
        survey_id=survey.id,
        version_id=survey.current_version_id,
        customer_id=customer_id,
        submission_id=submission_id or secrets.token_hex(12),
        resume_key=secrets.token_urlsafe(24),
        language=pick_language(defn, language, str(customer_language) if customer_language else None, accept_language),
        channel=channel,
        invitation_id=invitation_id,
        hidden=hidden_values,
        variables=ctx.variables,
        answers={},
        current_page_id=logic.first_page(defn, ctx),
        page_history=[],
        page_nonce=secrets.token_urlsafe(12),
        used_nonces={},
        page_shown_at=now,
        status="started",
        meta={**(metadata or {}), **({"prefill": _prefill(defn, prefill)} if prefill else {})},
        started_at=now,
        updated_at=now,
    )
    session.add(response)
    if flush:
        session.flush()
    return response


def _hidden_values(defn: SurveyDefinition, given: Mapping[str, Any], attributes: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for hidden in defn.hidden_fields:
        value = given.get(hidden.id)
        if value in (None, "") and attributes:
            value = attributes.get(hidden.attribute or hidden.id)
        if value not in (None, ""):
            values[hidden.id] = str(value)[:1000]
    return values


def _prefill(defn: SurveyDefinition, prefill: Mapping[str, Any]) -> dict[str, Any]:
    """Keep only prefills of first-page questions that are valid answers; others are ignored silently."""
    if not defn.pages:
        return {}
    kept: dict[str, Any] = {}
    for question in defn.pages[0].questions:
        if question.id in prefill:
            try:
                value = answer_rules.check_answer(question, prefill[question.id])
            except answer_rules.AnswerError:
                continue
            if value is not None:
                kept[question.id] = value
    return kept


_RESPONSE_BY_KEY = select(SurveyResponse).where(SurveyResponse.resume_key == bindparam("key"))  # built once


def get_response_by_key(session: Session, resume_key: str) -> SurveyResponse | None:
    if not resume_key or len(resume_key) > 64:
        return None
    return session.scalar(_RESPONSE_BY_KEY, {"key": resume_key})


# Built once (making them costs more than running them): a first page's response by its nonce, and the responses
# of a batch of page submits by resume key and by nonce (cem.responses.hosted).
_BY_NONCE = select(SurveyResponse).where(
    SurveyResponse.survey_id == bindparam("survey_id"), SurveyResponse.submission_id == bindparam("nonce")
)
_BY_KEYS = select(SurveyResponse).where(SurveyResponse.resume_key.in_(bindparam("keys", expanding=True)))
_BY_NONCES = select(SurveyResponse).where(
    SurveyResponse.survey_id == bindparam("survey_id"),
    SurveyResponse.submission_id.in_(bindparam("nonces", expanding=True)),
)


def get_response_by_nonce(session: Session, survey_id: int, nonce: str) -> SurveyResponse | None:
    """The response a hosted first page started (its form's nonce became the submission id)."""
    return session.scalar(_BY_NONCE, {"survey_id": survey_id, "nonce": nonce})


def responses_by_keys(session: Session, keys: set[str]) -> dict[str, SurveyResponse | None]:
    """Every key, with its response or None."""
    found: dict[str, SurveyResponse | None] = dict.fromkeys(keys)
    if keys:
        for response in session.scalars(_BY_KEYS, {"keys": sorted(keys)}):
            found[response.resume_key] = response
    return found


def responses_by_nonces(session: Session, survey_id: int, nonces: set[str]) -> dict[str, SurveyResponse | None]:
    """Every nonce, with the response it started on the survey or None."""
    found: dict[str, SurveyResponse | None] = dict.fromkeys(nonces)
    for response in session.scalars(_BY_NONCES, {"survey_id": survey_id, "nonces": sorted(nonces)}):
        found[response.submission_id] = response
    return found


def mark_opened(session: Session, response_id: int, now: datetime | None = None) -> None:
    """First view of a response created elsewhere (an email invitation): note when it was opened."""
    response = session.get(SurveyResponse, response_id)
    if response is not None and "opened_at" not in (response.meta or {}):
        response.meta = {**(response.meta or {}), "opened_at": (now or utcnow()).isoformat()}


def get_response(session: Session, *, workspace_id: int, response_id: int) -> SurveyResponse:
    response = session.get(SurveyResponse, response_id)
    if response is None or response.workspace_id != workspace_id:
        raise NotFound(f"Response {response_id} does not exist.")
    return response


def current_page(defn: SurveyDefinition, response: SurveyResponse) -> Page | None:
    for page in defn.pages:
        if page.id == response.current_page_id:
            return page
    return None


@dataclass
class OpenPage:
    """A response at its current page, with what showing or checking that page needs (read once per request)."""

    survey: Survey
    response: SurveyResponse
    defn: SurveyDefinition
    page: Page | None  # None: the response is complete, or its version no longer has that page
    ctx: logic.Context


def open_page(session: Session, response: SurveyResponse) -> OpenPage:
    survey = session.get(Survey, response.survey_id)
    assert survey is not None
    defn = surveys.version_definition(session, response.version_id)
    return OpenPage(survey, response, defn, current_page(defn, response), context_for(session, response))


def submit_page(
    session: Session,
    response: SurveyResponse,
    *,
    page_id: str,
    answers: Mapping[str, Any],
    nonce: str | None = None,
    now: datetime | None = None,
    shared: records.SharedWrites | None = None,
    opened: OpenPage | None = None,
) -> PageResult:
    """Check and store one page's answers, then move on. Invalid answers store nothing.

    A nonce already used replays its earlier outcome (double click, retry after a timeout). With `shared` (a
    group commit) the page is not flushed, and its writes are collected for the group to make once. `opened` is
    the response's page as the caller already read it (open_page), else it is read here.
    """
    now = now or utcnow()
    if nonce and nonce in (response.used_nonces or {}):
        earlier = response.used_nonces[nonce]
        return PageResult(
            next_page_id=earlier.get("page"),
            ending_id=earlier.get("ending"),
            completed=bool(earlier.get("completed")),
            duplicate=True,
        )
    if response.status == "completed":
        raise Conflict("This response is already complete.")
    opened = opened or open_page(session, response)
    page = opened.page
    _require_open(opened.survey, now)
    if page is None or page.id != page_id:
        raise Conflict(f"Page {page_id!r} is not the page this response is on; reload the survey.")
    questions = logic.visible_questions(page, opened.ctx)
    values, errors = answer_rules.check_answers(questions, answers)
    if errors:
        return PageResult(errors=errors)
    _store_page(session, opened, page, questions, values, now, shared)
    target = logic.next_target(opened.defn, page, opened.ctx)
    outcome: dict[str, Any] = {"page": target.page_id, "ending": target.ending_id, "completed": target.finished}
    response.used_nonces = {**(response.used_nonces or {}), **({nonce: outcome} if nonce else {})}
    response.page_history = [*(response.page_history or []), page.id]
    response.current_page_id = target.page_id
    response.page_nonce = secrets.token_urlsafe(12)
    response.page_shown_at = now
    response.updated_at = now
    if target.finished:
        _complete(session, opened.survey, response, target.ending_id, now, shared)
    if shared is None:  # a group commit flushes all its pages at once
        session.flush()
    return PageResult(next_page_id=target.page_id, ending_id=target.ending_id, completed=target.finished)


def go_back(session: Session, response: SurveyResponse, *, now: datetime | None = None) -> str | None:
    """Return to the previous page (its stored answers show again); None when there is none."""
    history = list(response.page_history or [])
    if response.status == "completed" or not history:
        return None
    response.current_page_id = history.pop()
    response.page_history = history
    response.page_nonce = secrets.token_urlsafe(12)
    response.page_shown_at = now or utcnow()
    session.flush()
    return response.current_page_id


def _store_page(
    session: Session,
    opened: OpenPage,
    page: Page,
    questions: list[Any],
    values: dict[str, Any],
    now: datetime,
    shared: records.SharedWrites | None,
) -> None:
    survey, response, defn, ctx = opened.survey, opened.response, opened.defn, opened.ctx
    stored = dict(response.answers or {})
    answered_before = any(q.id in stored for q in page.questions)
    for question in page.questions:  # hidden or skipped questions lose any earlier answer (after "back")
        stored.pop(question.id, None)
        stored.pop(question.id + answer_rules.OTHER_SUFFIX, None)
    stored.update({k: v for k, v in values.items() if v is not None})
    ctx.answers = stored
    logic.apply_calculations(defn, page.calculations, ctx)
    response.answers = stored
    response.variables = dict(ctx.variables)
    shown_at = response.page_shown_at or now
    seconds = min(max((now - shown_at).total_seconds(), 0.0), MAX_PAGE_SECONDS)
    per_question = round(seconds / max(len(questions), 1), 3)
    timings = dict((response.meta or {}).get("seconds_per_question", {}))
    timings.update({q.id: per_question for q in questions})
    response.meta = {**(response.meta or {}), "seconds_per_question": timings}
    records.write_records(
        session,
        survey,
        response,
        defn,
        page.questions,
        now=now,
        seconds=per_question,
        remove_stale=answered_before,
        shared=shared,
    )


def _complete(
    session: Session,
    survey: Survey,
    response: SurveyResponse,
    ending_id: str | None,
    now: datetime,
    shared: records.SharedWrites | None,
) -> None:
    response.status = "completed"
    response.completed_at = now
    response.ending_id = ending_id
    _announce_completion(session, survey, response)
    if shared is not None and not survey.close_after_responses:  # nothing reads the count before the commit
        shared.completions[survey.id] += 1
        return
    # Atomic increment: concurrent completions must not lose counts (the auto-close depends on it).
    count = session.execute(
        update(Survey)
        .where(Survey.id == survey.id)
        .values(completed_count=Survey.completed_count + 1)
        .returning(Survey.completed_count)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    set_committed_value(survey, "completed_count", count)
    if survey.close_after_responses and survey.completed_count >= survey.close_after_responses:
        survey.status = "closed"
        survey.updated_at = now


def _announce_completion(session: Session, survey: Survey, response: SurveyResponse) -> None:
    """`response.completed` for subscribers (outbound webhooks), in the transaction that completes the response."""
    data = {
        "survey_id": survey.id,
        "response_id": response.id,
        "submission_id": response.submission_id,
        "customer_id": response.customer_id,
        "channel": response.channel,
        "language": response.language,
        "completed_at": response.completed_at.isoformat() if response.completed_at else None,
        "ending_id": response.ending_id,
        "answers": dict(response.answers or {}),
    }
    hooks.domain_event(session, workspace_id=survey.workspace_id, event_type="response.completed", data=data)


def add_response(
    session: Session,
    survey: Survey,
    *,
    answers: Mapping[str, Any],
    submission_id: str | None = None,
    channel: str = "import",
    customer_id: int | None = None,
    language: str | None = None,
    hidden: Mapping[str, Any] | None = None,
    variables: Mapping[str, Any] | None = None,
    started_at: datetime | None = None,
    completed_at: datetime | None = None,
    completed: bool = True,
    version: SurveyVersion | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> SurveyResponse:
    """Store a whole response at once (imports, API). Every answer is checked (required-ness is not:
    imported data may have skipped questions); errors raise InvalidInput listing each question.
    Re-adding the same (survey, submission_id) replaces the earlier answers. Lifecycle is not enforced.
    """
    if channel not in CHANNELS:
        raise InvalidInput(f"Unknown channel {channel!r}; use one of: {', '.join(CHANNELS)}.")
    version_id = version.id if version is not None else survey.current_version_id
    if version_id is None:
        raise Conflict("The survey has no published version to hold responses; publish it first.")
    defn = surveys.version_definition(session, version_id)
    questions = [q.model_copy(update={"required": False}) for _, _, q in defn.answerable_questions()]
    known = {q.id for q in questions} | {q.id + answer_rules.OTHER_SUFFIX for q in questions}
    unknown = sorted(set(answers) - known)
    values, errors = answer_rules.check_answers(questions, answers)
    problems = [{"loc": ["answers", qid], "msg": msg} for qid, msg in errors.items()]
    problems += [{"loc": ["answers", key], "msg": "no such question in this survey"} for key in unknown]
    if problems:
        raise InvalidInput(f"{len(problems)} answer(s) are not valid for this survey.", errors=problems)
    now = utcnow()
    submission_id = submission_id or secrets.token_hex(12)
    response = session.scalar(
        select(SurveyResponse).where(
            SurveyResponse.survey_id == survey.id, SurveyResponse.submission_id == submission_id
        )
    )
    was_completed = response is not None and response.status == "completed"
    existed = response is not None
    if response is None:
        response = SurveyResponse(
            workspace_id=survey.workspace_id,
            survey_id=survey.id,
            submission_id=submission_id,
            resume_key=secrets.token_urlsafe(24),
            page_history=[],
            page_nonce="",
            used_nonces={},
        )
        session.add(response)
    response.version_id = version_id
    response.customer_id = customer_id
    response.language = pick_language(defn, language, None, None)
    response.channel = channel
    response.hidden = _hidden_values(defn, hidden or {}, {})
    response.variables = {**logic.initial_variables(defn), **(variables or {})}
    response.answers = {k: v for k, v in values.items() if v is not None}
    response.current_page_id = None
    response.status = "completed" if completed else "started"
    response.started_at = started_at or completed_at or now
    response.completed_at = (completed_at or now) if completed else None
    response.updated_at = now
    response.meta = dict(metadata or {})
    session.flush()
    if completed and not was_completed:
        session.execute(update(Survey).where(Survey.id == survey.id).values(completed_count=Survey.completed_count + 1))
    every_question = [q for _, _, q in defn.answerable_questions()]
    records.write_records(session, survey, response, defn, every_question, now=now, remove_stale=existed)
    return response


def list_responses(
    session: Session, survey: Survey, *, status: str | None = None, limit: int = 100, before_id: int | None = None
) -> list[SurveyResponse]:
    stmt = select(SurveyResponse).where(SurveyResponse.survey_id == survey.id)
    if status:
        stmt = stmt.where(SurveyResponse.status == status)
    if before_id:
        stmt = stmt.where(SurveyResponse.id < before_id)
    return list(session.scalars(stmt.order_by(SurveyResponse.id.desc()).limit(limit)))


def answer_items(defn: SurveyDefinition, response: SurveyResponse) -> list[AnswerView]:
    """The response's answers in question order, read against the version it was given on."""
    ctx = logic.Context(
        answers=dict(response.answers or {}),
        hidden=dict(response.hidden or {}),
        variables=dict(response.variables or {}),
    )
    items = []
    for page in defn.pages:
        for question in page.questions:
            value = ctx.answers.get(question.id)
            if value is None:
                continue
            display = logic.display_answer(question, value, defn.default_language, defn.default_language)
            other = ctx.answers.get(question.id + answer_rules.OTHER_SUFFIX)
            if other:
                display = f"{display} ({other})"
            items.append(
                AnswerView(
                    question_id=question.id,
                    page_id=page.id,
                    type=question.type,
                    headline=logic.localised(question.headline, defn, ctx, defn.default_language),
                    value=value,
                    display=display,
                )
            )
    return items
