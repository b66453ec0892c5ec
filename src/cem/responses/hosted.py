"""The public hosted survey page /s/<slug>: server-rendered, works without JavaScript, enhanced with it.

Flow (post/redirect/get): GET renders the respondent's current page; POST checks and stores that page,
then redirects back to GET /s/<slug>?r=<resume key>, which now shows the next page or the ending.
Invalid answers re-render the page with per-question errors and the typed values; nothing is stored.
Concurrent POSTs share write transactions (a group commit, see PageSubmits); each is answered only after
the COMMIT that holds its page.

Query parameters of GET /s/<slug> (documented for email and widget links):
    r=<resume key>          resume that response (also kept in a cookie per survey)
    lang=<code>             respondent language (else the customer's, else Accept-Language, else default)
    <hidden field id>=...   hidden field values (only ids the definition declares)
    q_<question id>=<value> preselect an answer on the first page, e.g. ?q_nps=9 from an email
    channel=widget          marks responses started from the website widget (default: link)

A fresh visitor gets no database row until the first page is submitted; the form's nonce becomes the
response's submission id, so a double submit of that first page finds the same response.
JavaScript (static/js/survey.js) posts the form with fetch and swaps the page in place; it sends
`X-Survey-Fetch: 1`, and gets 204 + `X-Survey-Location` instead of a redirect, and on an ending with a
redirect URL 200 + `X-Survey-Redirect`, so cross-origin redirects never reach fetch.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import bindparam, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from cem.api.deps import get_db
from cem.db.base import utcnow
from cem.db.session import Database
from cem.errors import Conflict
from cem.feedback.group_commit import GroupCommitQueue, Pending
from cem.responses import answers as answer_rules
from cem.responses import records
from cem.responses import service as response_service
from cem.responses.respondent import context_for, pick_language
from cem.surveys import logic, service
from cem.surveys.definition import Ending, Page, Question, SurveyDefinition, is_rtl, text
from cem.surveys.models import Survey, SurveyResponse
from cem.web.templating import templates

router = APIRouter()

NONCE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
SAFE_COOKIE_VALUE = re.compile(r"^[A-Za-z0-9_-]+$")
COOKIE_PREFIX = "cem_r_"
COOKIE_MAX_AGE = 30 * 24 * 3600
FETCH_HEADER = "x-survey-fetch"
WIDGET_CHANNELS = ("link", "widget")

DEFAULT_LABELS = {
    "nps": ("Not at all likely", "Extremely likely"),
    "ces": ("Strongly disagree", "Strongly agree"),
    "csat": ("Very dissatisfied", "Very satisfied"),
    "rating": ("", ""),
}
SMILEYS = {3: ["😞", "😐", "😀"], 5: ["😡", "😞", "😐", "🙂", "😀"]}


# --------------------------------------------------------------------------------------------------
# View models: everything the template shows, already localised, piped and escaped by Jinja.


@dataclass
class Option:
    value: str
    label: str
    other: bool = False
    symbol: str = ""


@dataclass
class QuestionView:
    id: str
    type: str
    headline: str
    help: str
    required: bool
    options: list[Option] = field(default_factory=list)
    rows: list[Option] = field(default_factory=list)
    low_label: str = ""
    high_label: str = ""
    input: str = "short"
    validation: str = "none"
    placeholder: str = ""
    button_label: str = ""
    button_url: str | None = None
    style: str = "numbers"
    value: Any = None
    other_value: str = ""
    error: str | None = None


@dataclass
class PageView:
    slug: str  # plain values only: a view may outlive a rolled-back transaction
    lang: str
    rtl: bool
    title: str
    page_title: str = ""
    page_id: str = ""
    questions: list[QuestionView] = field(default_factory=list)
    progress: int = 0  # percent done when this page is shown
    page_number: int = 1
    page_count: int = 1
    show_progress: bool = True
    can_go_back: bool = False
    nonce: str = ""
    resume_key: str = ""
    carry: dict[str, str] = field(default_factory=dict)  # hidden inputs of a not-yet-started response
    languages: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    ending_headline: str = ""
    ending_message: str = ""
    unavailable: str = ""
    preview: bool = False
    preview_next: str | None = None
    action: str = ""


def _labels(question: Question, lang: str, default: str) -> tuple[str, str]:
    low = text(question.lower_label, lang, default)
    high = text(question.upper_label, lang, default)
    fallback = DEFAULT_LABELS.get(question.type, ("", ""))
    return low or fallback[0], high or fallback[1]


def _score_options(question: Question) -> list[Option]:
    low, high = question.points()
    points = high - low + 1
    options = []
    for number in range(low, high + 1):
        symbol = ""
        if question.type == "rating" and question.style == "stars":
            symbol = "★"
        elif question.type == "rating" and question.style == "smileys" and points in SMILEYS:
            symbol = SMILEYS[points][number - low]
        options.append(Option(value=str(number), label=f"{number} of {high}" if symbol else str(number), symbol=symbol))
    return options


def question_view(
    defn: SurveyDefinition, question: Question, ctx: logic.Context, lang: str, values: dict[str, Any]
) -> QuestionView:
    default = defn.default_language
    low, high = _labels(question, lang, default)
    view = QuestionView(
        id=question.id,
        type=question.type,
        headline=logic.localised(question.headline, defn, ctx, lang),
        help=logic.localised(question.help, defn, ctx, lang),
        required=question.required,
        low_label=low,
        high_label=high,
        input=question.input,
        validation=question.validation,
        placeholder=text(question.placeholder, lang, default),
        button_label=text(question.button_label, lang, default) or "Continue",
        button_url=question.button_url,
        style=question.style,
        value=values.get(question.id),
        other_value=str(values.get(question.id + answer_rules.OTHER_SUFFIX) or ""),
    )
    if question.type in ("nps", "csat", "ces", "rating"):
        view.options = _score_options(question)
    elif question.type == "matrix":
        view.rows = [Option(value=r.id, label=text(r.label, lang, default)) for r in question.rows]
        if question.scale:
            view.options = [Option(value=str(n), label=str(n)) for n in range(1, question.scale + 1)]
        else:
            view.options = [Option(value=c.id, label=text(c.label, lang, default)) for c in question.columns]
    else:
        view.options = [Option(value=c.id, label=text(c.label, lang, default), other=c.other) for c in question.choices]
    return view


def _carry_fields(defn: SurveyDefinition, query: dict[str, str], lang: str) -> dict[str, str]:
    carry = {"lang": lang}
    for hidden in defn.hidden_fields:
        if query.get(hidden.id):
            carry[f"h_{hidden.id}"] = query[hidden.id][:1000]
    if query.get("channel") in WIDGET_CHANNELS:
        carry["channel"] = query["channel"]
    return carry


def _progress(defn: SurveyDefinition, page_id: str) -> tuple[int, int, int]:
    index = defn.page_index(page_id) or 0
    count = max(len(defn.pages), 1)
    return index + 1, count, round(100 * index / count)


def page_view(
    survey: Survey,
    defn: SurveyDefinition,
    page: Page,
    ctx: logic.Context,
    lang: str,
    *,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
) -> PageView:
    errors = errors or {}
    number, count, percent = _progress(defn, page.id)
    views = []
    for question in logic.visible_questions(page, ctx):
        view = question_view(defn, question, ctx, lang, values)
        view.error = errors.get(question.id)
        views.append(view)
    return PageView(
        slug=survey.slug,
        lang=lang,
        rtl=is_rtl(lang),
        title=text(defn.title, lang, defn.default_language) or survey.name,
        page_title=logic.localised(page.title, defn, ctx, lang),
        page_id=page.id,
        questions=views,
        progress=percent,
        page_number=number,
        page_count=count,
        show_progress=defn.settings.progress_bar,
        languages=defn.all_languages() if len(defn.all_languages()) > 1 else [],
        errors=errors,
        action=f"/s/{survey.slug}",
    )


def ending_texts(defn: SurveyDefinition, ending_id: str | None, ctx: logic.Context, lang: str) -> tuple[str, str]:
    ending = _ending(defn, ending_id)
    if ending is None:
        return "Thank you!", "Your answers are saved."
    headline = logic.localised(ending.headline, defn, ctx, lang) or "Thank you!"
    return headline, logic.localised(ending.message, defn, ctx, lang)


def _ending(defn: SurveyDefinition, ending_id: str | None) -> Ending | None:
    return next((e for e in defn.endings if e.id == ending_id), None)


def redirect_url(defn: SurveyDefinition, ending_id: str | None, ctx: logic.Context, lang: str) -> str | None:
    """The ending's redirect with recalled values URL-encoded (never a javascript: or relative URL)."""
    ending = _ending(defn, ending_id)
    if ending is None:
        return None
    template = text(ending.redirect_url, lang, defn.default_language)
    if not template or not re.match(r"^https?://", template):
        return None
    encoded = logic.Context(
        answers={k: quote(logic.display_answer(None, v, lang, lang), safe="") for k, v in ctx.answers.items()},
        hidden={k: quote(str(v), safe="") for k, v in ctx.hidden.items()},
        variables={k: quote(str(v), safe="") for k, v in ctx.variables.items()},
    )
    return logic.recall(template, defn, encoded, lang)


# --------------------------------------------------------------------------------------------------
# Rendering helpers


def _render(request: Request, view: PageView, status: int = 200) -> Response:
    return templates.TemplateResponse(request, "surveys/respond.html", {"v": view}, status_code=status)


render_view = _render


def _message_view(survey: Survey | None, message: str, lang: str = "en") -> PageView:
    view = PageView(slug=survey.slug if survey else "", lang=lang, rtl=is_rtl(lang), title="")
    view.title = survey.name if survey else "Survey"
    view.unavailable = message
    return view


def _is_fetch(request: Request) -> bool:
    return request.headers.get(FETCH_HEADER) == "1"


def _cookie_name(survey_id: int) -> str:
    return f"{COOKIE_PREFIX}{survey_id}"


def _set_resume_cookie(response: Response, slug: str, survey_id: int, resume_key: str) -> None:
    """What Response.set_cookie writes (HttpOnly, SameSite=lax, scoped to the page), without building a
    SimpleCookie per response: the slug and the key are URL-safe by construction, so nothing needs quoting."""
    if not (SAFE_COOKIE_VALUE.match(resume_key) and SAFE_COOKIE_VALUE.match(slug)):
        response.set_cookie(
            _cookie_name(survey_id),
            resume_key,
            max_age=COOKIE_MAX_AGE,
            path=f"/s/{slug}",
            httponly=True,
            samesite="lax",
        )
        return
    response.raw_headers.append(
        (
            b"set-cookie",
            f"{_cookie_name(survey_id)}={resume_key}; HttpOnly; Max-Age={COOKIE_MAX_AGE}; "
            f"Path=/s/{slug}; SameSite=lax".encode("latin-1"),
        )
    )


def _to_current(request: Request, slug: str, survey_id: int, resume_key: str) -> Response:
    url = f"/s/{slug}?r={quote(resume_key)}"
    response: Response
    if _is_fetch(request):
        response = Response(status_code=204, headers={"X-Survey-Location": url})
    else:
        response = RedirectResponse(url, status_code=303)
    _set_resume_cookie(response, slug, survey_id, resume_key)
    return response


# session.info keys of what a transaction looked up once for all its page submits (see _prefetch)
BY_SLUG = "cem_hosted_by_slug"
BY_KEY = "cem_hosted_by_resume_key"
BY_NONCE = "cem_hosted_by_nonce"


def _find_response(session: Session, survey: Survey, key: str | None) -> SurveyResponse | None:
    known: dict[str, SurveyResponse | None] | None = session.info.get(BY_KEY)
    if known is not None and key in known:
        response = known[key]
    else:
        response = response_service.get_response_by_key(session, key) if key else None
    return response if response is not None and response.survey_id == survey.id else None


def _context(session: Session, response: SurveyResponse) -> logic.Context:
    return context_for(session, response)


# --------------------------------------------------------------------------------------------------
# GET


@dataclass
class Outcome:
    """What a handler decided inside its transaction, rendered after it. Plain values only, no ORM objects:
    an outcome outlives its session (and a shared transaction that was rolled back, see PageSubmits)."""

    view: PageView | None = None
    status: int = 200
    redirect: str | None = None  # external ending redirect
    resume_key: str | None = None  # PRG to the current page
    survey_id: int | None = None  # names the resume cookie
    mark_opened: int | None = None


def _show(db: Database, slug: str, query: dict[str, str], cookies: dict[str, str], accept: str | None) -> Outcome:
    with db.unit_of_work(readonly=True) as session:
        survey = service.get_survey_by_slug(session, slug)
        if survey is None or survey.current_version_id is None:
            return Outcome(view=_message_view(None, "There is no survey at this address."), status=404)
        response = _find_response(session, survey, query.get("r") or cookies.get(_cookie_name(survey.id)))
        if response is None:
            return _fresh(session, survey, query, accept)
        defn = service.version_definition(session, response.version_id)
        lang = response.language
        if query.get("lang"):
            lang = pick_language(defn, query["lang"], None, None)
        ctx = _context(session, response)
        opened = response.id if "opened_at" not in (response.meta or {}) else None
        if response.status == "completed":
            target = redirect_url(defn, response.ending_id, ctx, lang)
            if target:
                return Outcome(redirect=target, mark_opened=opened)
            view = _message_view(survey, "", lang)
            view.title = text(defn.title, lang, defn.default_language) or survey.name
            view.ending_headline, view.ending_message = ending_texts(defn, response.ending_id, ctx, lang)
            view.unavailable = ""
            return Outcome(view=view, mark_opened=opened)
        reason = service.availability(survey)
        page = response_service.current_page(defn, response)
        if reason or page is None:
            return Outcome(view=_message_view(survey, reason or "This survey has changed; please start again."))
        values = {**(response.meta or {}).get("prefill", {}), **response.answers}
        values.update(_prefill_from_query(page, query))
        view = page_view(survey, defn, page, ctx, lang, values=values)
        view.nonce = response.page_nonce
        view.resume_key = response.resume_key
        view.can_go_back = defn.settings.allow_back and bool(response.page_history)
        return Outcome(view=view, mark_opened=opened, survey_id=survey.id)


def _prefill_from_query(page: Page, query: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for question in page.questions:
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
    defn = service.version_definition(session, survey.current_version_id)
    lang = pick_language(defn, query.get("lang"), None, accept)
    reason = service.availability(survey)
    if reason:
        return Outcome(view=_message_view(survey, reason, lang))
    ctx = logic.Context(
        hidden={h.id: query[h.id][:1000] for h in defn.hidden_fields if query.get(h.id)},
        variables=logic.initial_variables(defn),
    )
    first = logic.first_page(defn, ctx)
    page = next((p for p in defn.pages if p.id == first), None)
    if page is None:
        return Outcome(view=_message_view(survey, "This survey has no questions to show.", lang))
    view = page_view(survey, defn, page, ctx, lang, values=_prefill_from_query(page, query))
    view.nonce = secrets.token_urlsafe(18)
    view.carry = _carry_fields(defn, query, lang)
    view.carry["t"] = str(int(utcnow().timestamp()))
    return Outcome(view=view)


def _mark_opened(db: Database, response_id: int) -> None:
    """First view of a response created elsewhere (an email invitation): note when it was opened."""
    with db.unit_of_work() as session:
        response = session.get(SurveyResponse, response_id)
        if response is not None and "opened_at" not in (response.meta or {}):
            response.meta = {**(response.meta or {}), "opened_at": utcnow().isoformat()}


@router.get("/s/{slug}")
def respond_page(request: Request, slug: str) -> Response:
    """The respondent's current page, their ending, or why the survey takes no answers."""
    db = get_db(request)
    query = dict(request.query_params)
    outcome = _show(db, slug, query, dict(request.cookies), request.headers.get("accept-language"))
    if outcome.mark_opened is not None:
        _mark_opened(db, outcome.mark_opened)
    if outcome.redirect:
        if _is_fetch(request):
            return Response(status_code=200, headers={"X-Survey-Redirect": outcome.redirect})
        return RedirectResponse(outcome.redirect, status_code=303)
    assert outcome.view is not None
    response = _render(request, outcome.view, outcome.status)
    if outcome.survey_id is not None and outcome.view.resume_key and query.get("r"):
        # An email link resumes here: remember it so the plain link works later too.
        _set_resume_cookie(response, slug, outcome.survey_id, outcome.view.resume_key)
    response.headers["cache-control"] = "no-store"
    return response


# --------------------------------------------------------------------------------------------------
# POST
#
# Page submits go through a group commit (PageSubmits, on the feedback API's machinery): concurrent submits of
# different respondents share one write transaction and each request is answered after the COMMIT holding its
# page. The batch shares BEGIN/COMMIT (SQLite's single write lock), the survey, version and response look-ups
# (one query each for the whole batch), one flush of all responses, one feedback upsert statement, one text
# enrichment job per workspace and one completed-count update per survey (records.SharedWrites). Invalid
# answers are no error: they are checked before anything is written, and a response created for an invalid
# first page is dropped before it was ever flushed. A page that raises fails its batch: the transaction is
# rolled back and each page of it is stored alone, so it gets its own error with nothing of it stored, and
# the others succeed.

# A bound on how long one batch holds the write lock (a page is well under a millisecond of work in a batch).
MAX_PAGE_BATCH = 32


class _Invalid(Exception):
    """Raised to drop the response created for an invalid first page (rolled back, or never flushed)."""

    def __init__(self, outcome: Outcome, response: SurveyResponse) -> None:
        super().__init__("invalid answers")
        self.outcome = outcome
        self.response = response


def _first(form: dict[str, list[str]], name: str) -> str:
    values = form.get(name) or [""]
    return values[0]


def _shown_at(raw: str, now: datetime) -> datetime:
    try:
        shown = datetime.fromtimestamp(int(raw), tz=UTC)
    except (ValueError, OverflowError, OSError):
        return now
    return shown if now - timedelta(hours=1) <= shown <= now else now


# Statements built once (making them costs more than running them): by nonce (a first page's response), and
# a batch's look-ups by resume key and by nonce.
_BY_NONCE = select(SurveyResponse).where(
    SurveyResponse.survey_id == bindparam("survey_id"), SurveyResponse.submission_id == bindparam("nonce")
)
_BY_KEYS = select(SurveyResponse).where(SurveyResponse.resume_key.in_(bindparam("keys", expanding=True)))
_BY_NONCES = select(SurveyResponse).where(
    SurveyResponse.survey_id == bindparam("survey_id"),
    SurveyResponse.submission_id.in_(bindparam("nonces", expanding=True)),
)


def _by_nonce(session: Session, survey_id: int, nonce: str) -> SurveyResponse | None:
    known: dict[tuple[int, str], SurveyResponse | None] | None = session.info.get(BY_NONCE)
    if known is not None and (survey_id, nonce) in known:
        return known[survey_id, nonce]
    return session.scalar(_BY_NONCE, {"survey_id": survey_id, "nonce": nonce})


def _survey_by_slug(session: Session, slug: str) -> Survey | None:
    """The survey of a hosted page, looked up once per transaction (page submits of a batch share it)."""
    surveys: dict[str, Survey | None] = session.info.setdefault(BY_SLUG, {})
    if slug not in surveys:
        surveys[slug] = service.get_survey_by_slug(session, slug)
    return surveys[slug]


def _start(
    session: Session, survey: Survey, form: dict[str, list[str]], nonce: str, accept: str | None, now: datetime
) -> SurveyResponse:
    assert survey.current_version_id is not None
    defn = service.version_definition(session, survey.current_version_id)
    hidden = {h.id: _first(form, f"h_{h.id}") for h in defn.hidden_fields if _first(form, f"h_{h.id}")}
    channel = _first(form, "channel")
    response = response_service.start_response(
        session,
        survey,
        channel=channel if channel in WIDGET_CHANNELS else "link",
        language=_first(form, "lang") or None,
        accept_language=accept,
        hidden=hidden,
        submission_id=nonce,
        now=now,
        flush=False,
        metadata={"opened_at": now.isoformat()},  # opened here: spares the next GET a write
    )
    response.page_shown_at = _shown_at(_first(form, "t"), now)
    return response


@dataclass(frozen=True)
class PageSubmit:
    """One posted page form, as the handler read it from the request."""

    slug: str
    form: dict[str, list[str]]
    cookies: dict[str, str]
    accept: str | None = None


def _submit(session: Session, post: PageSubmit) -> Outcome:
    """Check and store one posted page in the caller's transaction; raises _Invalid to drop a new response."""
    now = utcnow()
    form = post.form
    survey = _survey_by_slug(session, post.slug)
    if survey is None or survey.current_version_id is None:
        return Outcome(view=_message_view(None, "There is no survey at this address."), status=404)
    response = _find_response(session, survey, _first(form, "r") or post.cookies.get(_cookie_name(survey.id)))
    nonce = _first(form, "nonce")
    created = False
    if response is None:
        if not NONCE_PATTERN.match(nonce):
            return Outcome(view=_message_view(survey, "This form has expired; please reload the page."), status=400)
        response = _by_nonce(session, survey.id, nonce)
        if response is not None:  # the same first page again (double click): already stored
            return Outcome(resume_key=response.resume_key, survey_id=survey.id)
        reason = service.availability(survey, now)
        if reason:
            return Outcome(view=_message_view(survey, reason), status=409)
        response = _start(session, survey, form, nonce, post.accept, now)
        created = True
        by_nonce: dict[tuple[int, str], SurveyResponse | None] | None = session.info.get(BY_NONCE)
        if by_nonce is not None:  # a double click in the same batch finds it (nothing is flushed before the end)
            by_nonce[survey.id, nonce] = response
    if _first(form, "action") == "back":
        response_service.go_back(session, response, now=now)
        return Outcome(resume_key=response.resume_key, survey_id=survey.id)
    return _submit_page(session, survey, response, form, nonce, created, now)


def _submit_page(
    session: Session,
    survey: Survey,
    response: SurveyResponse,
    form: dict[str, list[str]],
    nonce: str,
    created: bool,
    now: datetime,
) -> Outcome:
    defn = service.version_definition(session, response.version_id)
    page = response_service.current_page(defn, response)
    page_id = _first(form, "page")
    if response.status == "completed" or page is None or (page.id != page_id and nonce not in response.used_nonces):
        return Outcome(resume_key=response.resume_key, survey_id=survey.id)  # stale form: show where they are
    ctx = _context(session, response)
    raw = answer_rules.parse_form(logic.visible_questions(page, ctx), form)
    try:
        result = response_service.submit_page(
            session,
            response,
            page_id=page_id,
            answers=raw,
            nonce=nonce or None,
            now=now,
            shared=session.info.get(records.SHARED_WRITES),
        )
    except response_service.SurveyUnavailable as exc:
        return Outcome(view=_message_view(survey, exc.detail), status=409)
    except Conflict:
        return Outcome(resume_key=response.resume_key, survey_id=survey.id)
    if not result.errors:
        return Outcome(resume_key=response.resume_key, survey_id=survey.id)
    view = page_view(survey, defn, page, ctx, response.language, values=raw, errors=result.errors)
    view.nonce = nonce if created else response.page_nonce
    view.resume_key = "" if created else response.resume_key
    view.can_go_back = defn.settings.allow_back and bool(response.page_history)
    if created:
        view.carry = {k: v[0] for k, v in form.items() if k in ("lang", "t", "channel") or k.startswith("h_")}
        raise _Invalid(Outcome(view=view, status=422), response)
    return Outcome(view=view, status=422)


@dataclass(eq=False)
class _PendingPage(Pending[Outcome]):
    post: PageSubmit


class PageSubmits(GroupCommitQueue[_PendingPage, Outcome]):
    """Stores concurrent page submits in shared transactions (see the comment at the top of this section)."""

    def __init__(self, db: Database, *, max_batch: int = MAX_PAGE_BATCH) -> None:
        super().__init__(max_batch=max_batch)
        self._db = db

    def submit(self, post: PageSubmit) -> Outcome:
        """Store one page; returns once it is committed (or raises its own error, having stored nothing)."""
        return self._run(_PendingPage(post=post))

    def _store_together(self, items: Sequence[_PendingPage]) -> None:
        shared = records.SharedWrites()
        with self._db.unit_of_work() as session:
            _prefetch(session, [item.post for item in items])
            session.info[records.SHARED_WRITES] = shared
            results: list[Outcome] = []
            with session.no_autoflush:  # one flush at the end; the look-ups above found what pages need
                for item in items:
                    try:
                        results.append(_submit(session, item.post))
                    except _Invalid as invalid:
                        _forget(session, invalid.response)
                        results.append(invalid.outcome)
            shared.write(session)
        for item, result in zip(items, results, strict=True):  # only once all of them are committed
            item.result = result

    def _store_alone(self, item: _PendingPage) -> Outcome:
        try:
            with self._db.unit_of_work() as session:
                return _submit(session, item.post)
        except _Invalid as invalid:
            return invalid.outcome


def _forget(session: Session, response: SurveyResponse) -> None:
    """Drop the response created for an invalid first page from a batch that has not flushed it."""
    if not inspect(response).pending:
        raise RuntimeError("an invalid first page's response was flushed; the batch is stored page by page")
    session.expunge(response)
    by_nonce: dict[tuple[int, str], SurveyResponse | None] = session.info.get(BY_NONCE, {})
    by_nonce.pop((response.survey_id, response.submission_id), None)


def _prefetch(session: Session, posts: list[PageSubmit]) -> None:
    """Look up the surveys and the existing responses of a batch's pages in one query each."""
    keys: set[str] = set()
    nonces: dict[int, set[str]] = {}
    for post in posts:
        survey = _survey_by_slug(session, post.slug)
        if survey is None:
            continue
        key = _first(post.form, "r") or post.cookies.get(_cookie_name(survey.id))
        nonce = _first(post.form, "nonce")
        if key and len(key) <= 64:
            keys.add(key)
        if NONCE_PATTERN.match(nonce):  # needed by first pages, and by pages whose key finds nothing
            nonces.setdefault(survey.id, set()).add(nonce)
    by_key: dict[str, SurveyResponse | None] = dict.fromkeys(keys)
    if keys:
        for response in session.scalars(_BY_KEYS, {"keys": sorted(keys)}):
            by_key[response.resume_key] = response
    by_nonce: dict[tuple[int, str], SurveyResponse | None] = {}
    for survey_id, wanted in nonces.items():
        by_nonce.update(((survey_id, nonce), None) for nonce in wanted)
        for response in session.scalars(_BY_NONCES, {"survey_id": survey_id, "nonces": sorted(wanted)}):
            by_nonce[survey_id, response.submission_id] = response
    session.info[BY_KEY] = by_key
    session.info[BY_NONCE] = by_nonce


_SUBMITS_LOCK = threading.Lock()


def page_submits(request: Request) -> PageSubmits:
    """The app's page-submit group commit, made on first use (one per app and database)."""
    state = request.app.state
    submits: PageSubmits | None = getattr(state, "survey_page_submits", None)
    if submits is None:
        with _SUBMITS_LOCK:
            submits = getattr(state, "survey_page_submits", None)
            if submits is None:
                submits = state.survey_page_submits = PageSubmits(get_db(request))
    return submits


async def read_form(request: Request) -> dict[str, list[str]]:
    """Posted fields; urlencoded bodies (what the page and its script send) are parsed directly, which costs
    a fraction of the generic multipart-capable form parser on this hot path."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        try:
            return parse_qs((await request.body()).decode("utf-8"), keep_blank_values=True, max_num_fields=2000)
        except (UnicodeDecodeError, ValueError):  # not UTF-8, or too many fields: treated as an empty form
            return {}
    posted = await request.form()
    return {key: [v for v in posted.getlist(key) if isinstance(v, str)] for key in posted}


@router.post("/s/{slug}")
async def respond_submit(request: Request, slug: str) -> Response:
    """Store one page (or go back one); invalid answers come back with their errors and typed values."""
    post = PageSubmit(slug, await read_form(request), dict(request.cookies), request.headers.get("accept-language"))
    submits = page_submits(request)
    try:
        outcome = await run_in_threadpool(submits.submit, post)
    except IntegrityError:
        # Two first-page submits with the same nonce raced (PostgreSQL); the other one stored it.
        outcome = await run_in_threadpool(submits.submit, post)
    if outcome.resume_key and outcome.survey_id is not None:
        return _to_current(request, slug, outcome.survey_id, outcome.resume_key)
    assert outcome.view is not None
    return _render(request, outcome.view, outcome.status)


def preview_view(survey: Survey, defn: SurveyDefinition, page_id: str | None, lang: str | None) -> PageView:
    """The builder's preview: any page of the working copy, logic ignored, nothing stored."""
    language = pick_language(defn, lang, None, None)
    if not defn.pages:
        view = _message_view(survey, "Add a page to see the preview.", language)
        view.preview = True
        return view
    index = defn.page_index(page_id or "") or 0
    page = defn.pages[index]
    ctx = logic.Context(variables=logic.initial_variables(defn))
    view = page_view(survey, defn, page, ctx, language, values={})
    view.questions = [question_view(defn, q, ctx, language, {}) for q in page.questions]
    view.preview = True
    view.preview_next = defn.pages[index + 1].id if index + 1 < len(defn.pages) else None
    view.action = f"/surveys/{survey.id}/preview"
    return view
