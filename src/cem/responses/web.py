"""The public hosted survey page /s/<slug>: server-rendered, works without JavaScript, enhanced with it.

Flow (post/redirect/get): GET renders the respondent's current page (cem.responses.pages); POST checks and
stores that page (cem.responses.hosted), then redirects back to GET /s/<slug>?r=<resume key>, which now shows
the next page or the ending. Invalid answers re-render the page with per-question errors and the typed values;
nothing is stored. Concurrent POSTs share write transactions (a group commit, hosted.PageSubmits); each is
answered only after the COMMIT that holds its page.

Query parameters of GET /s/<slug> (documented for email and widget links):
    r=<resume key>          resume that response (also kept in a cookie per survey)
    lang=<code>             respondent language (else the customer's, else Accept-Language, else default)
    <hidden field id>=...   hidden field values (only ids the definition declares)
    q_<question id>=<value> preselect an answer on the first page, e.g. ?q_nps=9 from an email
    channel=widget          marks responses started from the website widget (default: link)

JavaScript (static/js/survey.js) posts the form with fetch and swaps the page in place; it sends
`X-Survey-Fetch: 1`, and gets 204 + `X-Survey-Location` instead of a redirect, and on an ending with a
redirect URL 200 + `X-Survey-Redirect`, so cross-origin redirects never reach fetch.
"""

from __future__ import annotations

import re
import threading
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from cem.api.deps import get_db
from cem.responses import pages
from cem.responses import service as response_service
from cem.responses.hosted import PageSubmit, PageSubmits
from cem.responses.views import PageView
from cem.web.templating import templates

router = APIRouter()

SAFE_COOKIE_VALUE = re.compile(r"^[A-Za-z0-9_-]+$")
COOKIE_MAX_AGE = 30 * 24 * 3600
FETCH_HEADER = "x-survey-fetch"


def render_view(request: Request, view: PageView, status: int = 200) -> Response:
    return templates.TemplateResponse(request, "surveys/respond.html", {"v": view}, status_code=status)


def _is_fetch(request: Request) -> bool:
    return request.headers.get(FETCH_HEADER) == "1"


def _set_resume_cookie(response: Response, slug: str, survey_id: int, resume_key: str) -> None:
    """What Response.set_cookie writes (HttpOnly, SameSite=lax, scoped to the page), without building a
    SimpleCookie per response: the slug and the key are URL-safe by construction, so nothing needs quoting."""
    name = pages.cookie_name(survey_id)
    if not (SAFE_COOKIE_VALUE.match(resume_key) and SAFE_COOKIE_VALUE.match(slug)):
        response.set_cookie(name, resume_key, max_age=COOKIE_MAX_AGE, path=f"/s/{slug}", httponly=True, samesite="lax")
        return
    response.raw_headers.append(
        (
            b"set-cookie",
            f"{name}={resume_key}; HttpOnly; Max-Age={COOKIE_MAX_AGE}; Path=/s/{slug}; SameSite=lax".encode("latin-1"),
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


@router.get("/s/{slug}")
def respond_page(request: Request, slug: str) -> Response:
    """The respondent's current page, their ending, or why the survey takes no answers."""
    db = get_db(request)
    query = dict(request.query_params)
    with db.unit_of_work(readonly=True) as session:
        outcome = pages.show(session, slug, query, dict(request.cookies), request.headers.get("accept-language"))
    if outcome.mark_opened is not None:
        with db.unit_of_work() as session:
            response_service.mark_opened(session, outcome.mark_opened)
    if outcome.redirect:
        if _is_fetch(request):
            return Response(status_code=200, headers={"X-Survey-Redirect": outcome.redirect})
        return RedirectResponse(outcome.redirect, status_code=303)
    assert outcome.view is not None
    response = render_view(request, outcome.view, outcome.status)
    if outcome.survey_id is not None and outcome.view.resume_key and query.get("r"):
        # An email link resumes here: remember it so the plain link works later too.
        _set_resume_cookie(response, slug, outcome.survey_id, outcome.view.resume_key)
    response.headers["cache-control"] = "no-store"
    return response


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
    return render_view(request, outcome.view, outcome.status)
