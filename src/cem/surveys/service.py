"""Survey service: definitions, versions, lifecycle, responses and their feedback records.

Functions other domains call (all take an open Session; the caller's unit of work commits):

    create_survey(session, actor, *, name, definition=None, slug=None) -> Survey
    update_survey(session, actor, survey, *, name=None, slug=None, definition=None) -> Survey
        a live/paused survey gets a new SurveyVersion at once (the definition must be valid)
    publish_survey(session, actor, survey) -> SurveyVersion      validates, new version if changed, goes live
    set_status(session, actor, survey, status) -> Survey         live | paused | closed
    get_survey(session, *, workspace_id, survey_id) / get_survey_by_slug(session, slug)
    version_definition(session, version_id) -> SurveyDefinition  (cached; versions never change)
    availability(survey, now) -> str | None                      why a survey takes no answers, or None
    start_response(session, survey, *, channel, customer_id=None, language=None, accept_language=None,
                   hidden=None, invitation_id=None, prefill=None, metadata=None, now=None) -> SurveyResponse
    submit_page(session, response, *, page_id, answers, nonce=None, now=None) -> PageResult
        answers in the engine shape (see cem.surveys.definition); invalid -> PageResult.errors, nothing stored;
        with a SharedWrites in session.info (the hosted page's group commit) its records, enrichment job and
        completed count are written once for all pages of the transaction
    add_response(session, survey, *, answers, submission_id=None, channel="import", ...) -> SurveyResponse
        a whole response at once (imports, API): checks every answer, stores it completed, idempotent on
        (survey, submission_id)
    get_response_by_key(session, resume_key) -> SurveyResponse | None

Answers become feedback records through cem.feedback.writer.FeedbackWriter (the one writer into the
store), source_type "survey", source_name = survey slug, submission_id = response.submission_id,
field_id = question id; see cem.responses.answers for the value layout.
"""

from __future__ import annotations

import re
import secrets
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session, defer
from sqlalchemy.orm.attributes import set_committed_value

from cem.auth import audit
from cem.auth.principal import Principal
from cem.customers.models import Customer
from cem.db.base import utcnow
from cem.errors import BadRequest, CEMError, Conflict, InvalidInput, NotFound
from cem.feedback.schemas import FeedbackIn
from cem.feedback.writer import FeedbackWriter
from cem.responses import answers as answer_rules
from cem.surveys import logic
from cem.surveys.definition import (
    DefinitionError,
    Page,
    SurveyDefinition,
    blocking_errors,
    parse_definition,
    validate_definition,
)
from cem.surveys.models import CHANNELS, Survey, SurveyResponse, SurveyVersion

SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,78}[a-z0-9]$")
MAX_PAGE_SECONDS = 3600.0  # a page left open overnight is not an hour-long answer


class SurveyUnavailable(CEMError):
    """The survey takes no answers now (draft, paused, closed, not yet open, or full)."""

    status_code = 409
    code = "survey_unavailable"


# --------------------------------------------------------------------------------------------------
# Definitions and versions


def definition_errors(data: Any) -> tuple[SurveyDefinition | None, list[DefinitionError]]:
    """Parse and validate; schema errors are reported in the same located form as logic errors."""
    try:
        defn = parse_definition(data)
    except ValidationError as exc:
        return None, [
            DefinitionError(path=_loc_path(err["loc"]), message=err["msg"], code="schema") for err in exc.errors()
        ]
    return defn, validate_definition(defn)


def _loc_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part not in ("ConditionGroup", "Condition") and not str(part).startswith("function-"):
            path += f".{part}" if path else str(part)
    return path


def _parse_or_raise(data: Any) -> SurveyDefinition:
    try:
        return parse_definition(data)
    except ValidationError as exc:
        errors = [{"loc": ["definition", *err["loc"]], "msg": err["msg"]} for err in exc.errors()]
        raise InvalidInput("The survey definition is not well formed.", errors=errors) from None


def _raise_if_blocking(defn: SurveyDefinition) -> None:
    problems = blocking_errors(validate_definition(defn))
    if problems:
        raise BadRequest(
            f"The survey definition has {len(problems)} error(s); fix them before it goes live.",
            errors=[{"loc": [p.path], "msg": p.message, "code": p.code} for p in problems],
        )


def _slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60].strip("-")
    return slug if len(slug) >= 3 else f"survey-{slug}".strip("-")


def _unique_slug(session: Session, wanted: str) -> str:
    slug, n = wanted, 1
    while session.scalar(select(Survey.id).where(Survey.slug == slug)) is not None:
        n += 1
        slug = f"{wanted[:70]}-{n}"
    return slug


def _check_slug(session: Session, slug: str, survey_id: int | None) -> str:
    slug = slug.strip().lower()
    if not SLUG_PATTERN.match(slug):
        raise InvalidInput(
            "A slug has 2-80 lowercase letters, digits and dashes, and starts and ends with a letter or digit.",
            errors=[{"loc": ["slug"], "msg": "invalid slug"}],
        )
    other = session.scalar(select(Survey.id).where(Survey.slug == slug))
    if other is not None and other != survey_id:
        raise Conflict(f"The link /s/{slug} is already used by another survey.")
    return slug


def _apply_settings(survey: Survey, defn: SurveyDefinition) -> None:
    survey.opens_at = defn.settings.opens_at
    survey.closes_at = defn.settings.closes_at
    survey.close_after_responses = defn.settings.close_after_responses


def starter_definition(name: str) -> SurveyDefinition:
    """A new survey starts with one NPS question, so the builder shows something to edit."""
    return SurveyDefinition.model_validate(
        {
            "title": {"en": name},
            "pages": [
                {
                    "id": "p1",
                    "questions": [
                        {
                            "id": "nps",
                            "type": "nps",
                            "required": True,
                            "headline": {"en": "How likely are you to recommend us to a friend or colleague?"},
                        }
                    ],
                }
            ],
            "endings": [
                {"id": "thanks", "headline": {"en": "Thank you!"}, "message": {"en": "Your answers are saved."}}
            ],
        }
    )


def create_survey(
    session: Session, actor: Principal, *, name: str, definition: Any = None, slug: str | None = None
) -> Survey:
    defn = starter_definition(name) if definition is None else _parse_or_raise(definition)
    slug = _check_slug(session, slug, None) if slug else _unique_slug(session, _slugify(name))
    survey = Survey(
        workspace_id=actor.workspace_id,
        slug=slug,
        name=name.strip(),
        status="draft",
        definition=defn.model_dump(mode="json"),
        created_by=actor.label,
    )
    _apply_settings(survey, defn)
    session.add(survey)
    session.flush()
    audit.record(session, actor, "survey.create", entity_type="survey", entity_id=survey.id, details={"slug": slug})
    return survey


def update_survey(
    session: Session,
    actor: Principal,
    survey: Survey,
    *,
    name: str | None = None,
    slug: str | None = None,
    definition: Any = None,
) -> Survey:
    """Edit the working copy; on a live or paused survey a valid change becomes a new version at once."""
    changes: dict[str, Any] = {}
    if name is not None and name.strip() != survey.name:
        survey.name = name.strip()
        changes["name"] = survey.name
    if slug is not None and slug != survey.slug:
        if survey.current_version_id is not None:
            raise Conflict("The link of a published survey cannot change: sent invitations point to it.")
        survey.slug = _check_slug(session, slug, survey.id)
        changes["slug"] = survey.slug
    if definition is not None:
        defn = _parse_or_raise(definition)
        if survey.status in ("live", "paused"):
            _raise_if_blocking(defn)
        survey.definition = defn.model_dump(mode="json")
        _apply_settings(survey, defn)
        changes["definition"] = True
        if survey.status in ("live", "paused"):
            version = _new_version_if_changed(session, actor, survey)
            if version is not None:
                changes["version"] = version.number
    survey.updated_at = utcnow()
    session.flush()
    audit.record(session, actor, "survey.update", entity_type="survey", entity_id=survey.id, details=changes)
    return survey


def _new_version_if_changed(session: Session, actor: Principal, survey: Survey) -> SurveyVersion | None:
    current = session.get(SurveyVersion, survey.current_version_id) if survey.current_version_id else None
    if current is not None and current.definition == survey.definition:
        return None
    number = (current.number if current else 0) + 1
    version = SurveyVersion(survey_id=survey.id, number=number, definition=survey.definition, created_by=actor.label)
    session.add(version)
    session.flush()
    survey.current_version_id = version.id
    return version


def publish_survey(session: Session, actor: Principal, survey: Survey) -> SurveyVersion:
    """Validate the working copy, freeze it as a version when it changed, and go live."""
    defn = _parse_or_raise(survey.definition)
    _raise_if_blocking(defn)
    version = _new_version_if_changed(session, actor, survey)
    survey.status = "live"
    survey.updated_at = utcnow()
    session.flush()
    current = version or session.get(SurveyVersion, survey.current_version_id)
    assert current is not None
    audit.record(
        session, actor, "survey.publish", entity_type="survey", entity_id=survey.id, details={"version": current.number}
    )
    return current


ALLOWED_TRANSITIONS = {
    "draft": {"closed"},
    "live": {"paused", "closed"},
    "paused": {"live", "closed"},
    "closed": {"live"},
}


def set_status(session: Session, actor: Principal, survey: Survey, status: str) -> Survey:
    if status == survey.status:
        return survey
    if status not in ALLOWED_TRANSITIONS.get(survey.status, set()):
        hint = " Publish it first." if survey.status == "draft" and status == "live" else ""
        raise Conflict(f"A {survey.status} survey cannot become {status}.{hint}")
    if status == "live":
        return _reopen(session, actor, survey)
    previous, survey.status = survey.status, status
    survey.updated_at = utcnow()
    session.flush()
    audit.record(
        session, actor, f"survey.{status}", entity_type="survey", entity_id=survey.id, details={"from": previous}
    )
    return survey


def _reopen(session: Session, actor: Principal, survey: Survey) -> Survey:
    publish_survey(session, actor, survey)
    return survey


def get_survey(session: Session, *, workspace_id: int, survey_id: int) -> Survey:
    survey = session.get(Survey, survey_id)
    if survey is None or survey.workspace_id != workspace_id:
        raise NotFound(f"Survey {survey_id} does not exist.")
    return survey


# Built once: on the hosted page's hot path, making the statement (and its cache key) cost more than running it.
_SURVEY_BY_SLUG = (
    select(Survey, SurveyVersion.created_at)
    .outerjoin(SurveyVersion, SurveyVersion.id == Survey.current_version_id)
    .options(defer(Survey.definition))
    .where(Survey.slug == bindparam("slug"))
)


def get_survey_by_slug(session: Session, slug: str) -> Survey | None:
    """For the hosted page: the working copy (a large JSON) is loaded only if something reads it. The same query
    reads the current version's creation time, which confirms its cached definition (see _cached_version)."""
    row = session.execute(_SURVEY_BY_SLUG, {"slug": slug}).first()
    if row is None:
        return None
    survey, created_at = row
    if survey.current_version_id is not None and created_at is not None:
        cached = _DEFINITIONS.get((survey.current_version_id, created_at))
        if cached is not None:
            session.info.setdefault(SEEN_VERSIONS, {})[survey.current_version_id] = cached
    return survey


def list_surveys(session: Session, *, workspace_id: int) -> list[Survey]:
    return list(session.scalars(select(Survey).where(Survey.workspace_id == workspace_id).order_by(Survey.id.desc())))


def list_versions(session: Session, survey: Survey) -> list[SurveyVersion]:
    return list(
        session.scalars(
            select(SurveyVersion).where(SurveyVersion.survey_id == survey.id).order_by(SurveyVersion.number)
        )
    )


def get_version(session: Session, survey: Survey, number: int) -> SurveyVersion:
    version = session.scalar(
        select(SurveyVersion).where(SurveyVersion.survey_id == survey.id, SurveyVersion.number == number)
    )
    if version is None:
        raise NotFound(f"Survey {survey.id} has no version {number}.")
    return version


_DEFINITIONS: dict[tuple[int, datetime], tuple[SurveyDefinition, int]] = {}
SEEN_VERSIONS = "cem_survey_versions"  # session.info: version id -> cache entry confirmed in this transaction
_VERSION_CREATED = select(SurveyVersion.created_at).where(SurveyVersion.id == bindparam("id"))  # built once


def _cached_version(session: Session, version_id: int) -> tuple[SurveyDefinition, int]:
    """(definition, number) of a version; versions never change, so each is parsed once per process.

    Keyed by id and creation time: ids of deleted rows can be reused (SQLite, tests), timestamps not.
    """
    seen: dict[int, tuple[SurveyDefinition, int]] = session.info.setdefault(SEEN_VERSIONS, {})
    if version_id in seen:  # checked once per unit of work, not once per call
        return seen[version_id]
    row = session.execute(_VERSION_CREATED, {"id": version_id}).first()
    if row is None:
        raise NotFound(f"Survey version {version_id} does not exist.")
    key = (version_id, row[0])
    cached = _DEFINITIONS.get(key)
    if cached is not None:
        seen[version_id] = cached
        return cached
    version = session.get(SurveyVersion, version_id)
    assert version is not None
    entry = (parse_definition(version.definition), version.number)
    if len(_DEFINITIONS) > 512:
        _DEFINITIONS.clear()
    _DEFINITIONS[key] = entry
    seen[version_id] = entry
    return entry


def version_definition(session: Session, version_id: int) -> SurveyDefinition:
    """The parsed definition of a version (cached per process)."""
    return _cached_version(session, version_id)[0]


def working_definition(survey: Survey) -> SurveyDefinition:
    return parse_definition(survey.definition)


# --------------------------------------------------------------------------------------------------
# Lifecycle


def availability(survey: Survey, now: datetime | None = None) -> str | None:
    """Why the survey takes no answers now, or None when it does."""
    now = now or utcnow()
    if survey.status == "draft" or survey.current_version_id is None:
        return "This survey is not published yet."
    if survey.status == "paused":
        return "This survey is paused. Please come back later."
    if survey.status == "closed":
        return "This survey is closed. Thank you for your interest."
    if survey.opens_at and now < survey.opens_at:
        return f"This survey opens on {survey.opens_at:%Y-%m-%d %H:%M} UTC."
    if survey.closes_at and now >= survey.closes_at:
        return "This survey is closed. Thank you for your interest."
    if survey.close_after_responses and survey.completed_count >= survey.close_after_responses:
        return "This survey has all the responses it needs. Thank you for your interest."
    return None


def _require_open(survey: Survey, now: datetime) -> None:
    reason = availability(survey, now)
    if reason:
        raise SurveyUnavailable(reason)


# --------------------------------------------------------------------------------------------------
# Responses


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


def pick_language(
    defn: SurveyDefinition, requested: str | None, customer_language: str | None, accept_language: str | None
) -> str:
    """First supported of: ?lang=, the customer's language, the browser's Accept-Language; else the default."""
    supported = defn.all_languages()
    candidates = [requested, customer_language, *_accept_language(accept_language)]
    for candidate in candidates:
        if not candidate:
            continue
        code = candidate.strip().lower().replace("_", "-")
        for lang in supported:
            if code == lang.lower():
                return lang
        base = code.split("-")[0]
        for lang in supported:
            if lang.lower().split("-")[0] == base:
                return lang
    return defn.default_language


def _accept_language(header: str | None) -> list[str]:
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:20]):
        code, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if code and code != "*" and quality > 0:
            weighted.append((-quality, index, code))
    return [code for _, _, code in sorted(weighted)]


def customer_attributes(customer: Customer | None) -> dict[str, Any]:
    if customer is None:
        return {}
    return {
        **(customer.attributes or {}),
        "email": customer.email,
        "name": customer.name,
        "external_id": customer.external_id,
    }


def context_for(session: Session, response: SurveyResponse) -> logic.Context:
    customer = session.get(Customer, response.customer_id) if response.customer_id else None
    return logic.Context(
        answers=dict(response.answers or {}),
        hidden=dict(response.hidden or {}),
        attributes=customer_attributes(customer),
        variables=dict(response.variables or {}),
    )


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
    defn = version_definition(session, survey.current_version_id)
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


def submit_page(
    session: Session,
    response: SurveyResponse,
    *,
    page_id: str,
    answers: Mapping[str, Any],
    nonce: str | None = None,
    now: datetime | None = None,
) -> PageResult:
    """Check and store one page's answers, then move on. Invalid answers store nothing.

    A nonce already used replays its earlier outcome (double click, retry after a timeout).
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
    survey = session.get(Survey, response.survey_id)
    assert survey is not None
    _require_open(survey, now)
    defn = version_definition(session, response.version_id)
    page = current_page(defn, response)
    if page is None or page.id != page_id:
        raise Conflict(f"Page {page_id!r} is not the page this response is on; reload the survey.")
    ctx = context_for(session, response)
    questions = logic.visible_questions(page, ctx)
    values, errors = answer_rules.check_answers(questions, answers)
    if errors:
        return PageResult(errors=errors)
    _store_page(session, survey, response, defn, page, questions, values, ctx, now)
    target = logic.next_target(defn, page, ctx)
    outcome: dict[str, Any] = {"page": target.page_id, "ending": target.ending_id, "completed": target.finished}
    response.used_nonces = {**(response.used_nonces or {}), **({nonce: outcome} if nonce else {})}
    response.page_history = [*(response.page_history or []), page.id]
    response.current_page_id = target.page_id
    response.page_nonce = secrets.token_urlsafe(12)
    response.page_shown_at = now
    response.updated_at = now
    if target.finished:
        _complete(session, survey, response, target.ending_id, now)
    if SHARED_WRITES not in session.info:  # a group commit flushes all its pages at once
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
    survey: Survey,
    response: SurveyResponse,
    defn: SurveyDefinition,
    page: Page,
    questions: list[Any],
    values: dict[str, Any],
    ctx: logic.Context,
    now: datetime,
) -> None:
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
    write_records(
        session, survey, response, defn, page.questions, now=now, seconds=per_question, remove_stale=answered_before
    )


def write_records(
    session: Session,
    survey: Survey,
    response: SurveyResponse,
    defn: SurveyDefinition,
    questions: list[Any],
    *,
    now: datetime,
    seconds: float | None = None,
    remove_stale: bool = True,
) -> int:
    """Upsert the feedback records of `questions` from response.answers; with `remove_stale`, delete the
    records of answers withdrawn since (a page answered again after "back", a re-imported response)."""
    answers = response.answers or {}
    records: list[FeedbackIn] = []
    keep: set[str] = set()
    version = version_number(session, response.version_id)
    for question in questions:
        value = answers.get(question.id)
        if value is None:
            continue
        other = answers.get(question.id + answer_rules.OTHER_SUFFIX)
        for field_id, label, kind, field_value, meta in answer_rules.feedback_fields(defn, question, value, other):
            keep.add(field_id)
            metadata = {**meta, "survey_version": version, "channel": response.channel}
            if seconds is not None:
                metadata["seconds"] = seconds
            elif "seconds_per_question" in (response.meta or {}):
                metadata["seconds"] = response.meta["seconds_per_question"].get(question.id)
            records.append(
                FeedbackIn(
                    source_type="survey",
                    source_name=survey.slug,
                    submission_id=response.submission_id,
                    customer_id=response.customer_id,
                    touchpoint=defn.settings.touchpoint,
                    collected_at=response.completed_at or now,
                    field_id=field_id,
                    field_label=label,
                    field_type=kind,
                    value=field_value,
                    language=response.language,
                    metadata=metadata,
                )
            )
    stale = [f for q in questions for f in answer_rules.all_field_ids(q) if f not in keep] if remove_stale else []
    shared: SharedWrites | None = session.info.get(SHARED_WRITES)
    # A group commit's one writer flushes all its pages at once; alone, a page writes straight away.
    writer = shared.feedback(session) if shared is not None else FeedbackWriter(session, now=now)
    if stale:
        writer.withdraw(
            workspace_id=survey.workspace_id,
            source_type="survey",
            source_name=survey.slug,
            submission_id=response.submission_id,
            field_ids=stale,
        )
    if not records:
        return 0
    rows = writer.add_records(survey.workspace_id, records)
    if shared is None:
        writer.flush()
    return len(rows)


SHARED_WRITES = "cem_survey_shared_writes"


@dataclass
class SharedWrites:
    """Writes that page submits sharing one transaction make once for all, not once per page.

    The hosted page's group commit (cem.responses.hosted.PageSubmits) puts one in `session.info[SHARED_WRITES]`
    and calls `write` before its COMMIT. Meanwhile submit_page collects into it instead of writing, and does
    not flush (the group flushes once): the pages' feedback records (one upsert statement; a later row of the
    same identity wins, then the `feedback_stored` hook once per workspace, so one text enrichment job names
    every submission) and the
    completed counts of surveys without a response limit (one UPDATE per survey; a limited survey still
    counts each completion at once, since its auto-close needs the exact count).
    """

    writer: FeedbackWriter | None = None  # made on first use, for the group's unit of work
    completions: Counter[int] = field(default_factory=Counter)  # survey id -> completed responses

    def feedback(self, session: Session) -> FeedbackWriter:
        """The group's feedback writer (a later row of the same identity wins; one upsert at `write`)."""
        if self.writer is None:
            self.writer = FeedbackWriter(session)
        return self.writer

    def write(self, session: Session) -> None:
        if self.writer is not None:
            self.writer.flush()
        for survey_id, count in sorted(self.completions.items()):
            session.execute(
                update(Survey)
                .where(Survey.id == survey_id)
                .values(completed_count=Survey.completed_count + count)
                .execution_options(synchronize_session=False)
            )
        self.completions.clear()


def version_number(session: Session, version_id: int) -> int:
    """The number (1, 2, ...) of a stored survey version."""
    return _cached_version(session, version_id)[1]


def _complete(session: Session, survey: Survey, response: SurveyResponse, ending_id: str | None, now: datetime) -> None:
    response.status = "completed"
    response.completed_at = now
    response.ending_id = ending_id
    shared: SharedWrites | None = session.info.get(SHARED_WRITES)
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
    defn = version_definition(session, version_id)
    questions = [q.model_copy(update={"required": False}) for _, _, q in defn.questions()]
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
    write_records(session, survey, response, defn, [q for _, _, q in defn.questions()], now=now, remove_stale=existed)
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


def response_counts(session: Session, survey: Survey) -> dict[str, int]:
    rows = session.execute(
        select(SurveyResponse.status, func.count())
        .where(SurveyResponse.survey_id == survey.id)
        .group_by(SurveyResponse.status)
    ).all()
    counts = {status: int(n) for status, n in rows}
    return {"started": counts.get("started", 0), "completed": counts.get("completed", 0)}


def delete_survey(session: Session, actor: Principal, survey: Survey) -> None:
    """Only a survey nobody answered can go; one with responses is closed instead (its data stays)."""
    has_responses = session.scalar(select(SurveyResponse.id).where(SurveyResponse.survey_id == survey.id).limit(1))
    if has_responses is not None:
        raise Conflict("This survey has responses; close it instead of deleting it.")
    audit.record(
        session, actor, "survey.delete", entity_type="survey", entity_id=survey.id, details={"slug": survey.slug}
    )
    session.delete(survey)
    session.flush()


@dataclass
class AnswerItem:
    question_id: str
    page_id: str
    type: str
    headline: str
    value: Any
    display: str


def answer_items(defn: SurveyDefinition, response: SurveyResponse) -> list[AnswerItem]:
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
                AnswerItem(
                    question_id=question.id,
                    page_id=page.id,
                    type=question.type,
                    headline=logic.localised(question.headline, defn, ctx, defn.default_language),
                    value=value,
                    display=display,
                )
            )
    return items
