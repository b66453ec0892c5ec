"""Page submits of the hosted page POST /s/<slug>: one posted form is checked and stored in one call path.

cem.responses.web reads the request into a PageSubmit and hands it to PageSubmits (the group commit below), whose
transaction calls submit_posted(session, post, batch): it finds the survey and the respondent's response (or starts
one on a first page), parses the form against the page's visible questions and stores it through
cem.responses.service.submit_page. What the pages of one transaction share travels in a typed PageBatch.

A fresh visitor gets no database row until the first page is submitted; the form's nonce becomes the
response's submission id, so a double submit of that first page finds the same response.

Page submits go through a group commit (PageSubmits, on the feedback API's machinery): concurrent submits of
different respondents share one write transaction and each request is answered after the COMMIT holding its
page. The batch shares BEGIN/COMMIT (SQLite's single write lock), the survey, version and response look-ups
(one query each for the whole batch), one flush of all responses, one feedback upsert statement, one text
enrichment job per workspace and one completed-count update per survey (records.SharedWrites). Invalid
answers are no error: they are checked before anything is written, and a response created for an invalid
first page is dropped before it was ever flushed. A page that raises fails its batch: the transaction is
rolled back and each page of it is stored alone, so it gets its own error with nothing of it stored, and
the others succeed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from cem.db.base import utcnow
from cem.db.session import Database
from cem.errors import Conflict
from cem.feedback.group_commit import GroupCommitQueue, Pending
from cem.responses import answers as answer_rules
from cem.responses import records
from cem.responses import service as response_service
from cem.responses.pages import Outcome, cookie_name, find_response
from cem.responses.views import WIDGET_CHANNELS, message_view, page_view
from cem.surveys import logic
from cem.surveys import service as survey_service
from cem.surveys.models import Survey, SurveyResponse

NONCE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
# A bound on how long one batch holds the write lock (a page is well under a millisecond of work in a batch).
MAX_PAGE_BATCH = 32


@dataclass(frozen=True)
class PageSubmit:
    """One posted page form, as the handler read it from the request."""

    slug: str
    form: dict[str, list[str]]
    cookies: dict[str, str]
    accept: str | None = None

    def first(self, name: str) -> str:
        """The first value of a form field ("" when absent)."""
        values = self.form.get(name) or [""]
        return values[0]

    def resume_key(self, survey_id: int) -> str | None:
        return self.first("r") or self.cookies.get(cookie_name(survey_id))


@dataclass
class PageBatch:
    """What the page submits of one transaction share. A batch looks up its surveys and responses once for all its
    pages (prefetch) and collects their writes (`shared`) to make them once; a page stored alone gets an empty
    PageBatch: it looks everything up itself and writes at once."""

    shared: records.SharedWrites | None = None
    surveys: dict[str, Survey | None] = field(default_factory=dict)
    by_key: dict[str, SurveyResponse | None] | None = None  # None: not prefetched
    by_nonce: dict[tuple[int, str], SurveyResponse | None] | None = None

    @classmethod
    def prefetch(cls, session: Session, posts: list[PageSubmit], shared: records.SharedWrites) -> PageBatch:
        """Look up the surveys and the existing responses of a batch's pages in one query each."""
        batch = cls(shared=shared)
        keys: set[str] = set()
        nonces: dict[int, set[str]] = {}
        for post in posts:
            survey = batch.survey(session, post.slug)
            if survey is None:
                continue
            key, nonce = post.resume_key(survey.id), post.first("nonce")
            if key and len(key) <= 64:
                keys.add(key)
            if NONCE_PATTERN.match(nonce):  # needed by first pages, and by pages whose key finds nothing
                nonces.setdefault(survey.id, set()).add(nonce)
        batch.by_key = response_service.responses_by_keys(session, keys)
        batch.by_nonce = {}
        for survey_id, wanted in nonces.items():
            found = response_service.responses_by_nonces(session, survey_id, wanted)
            batch.by_nonce.update(((survey_id, nonce), response) for nonce, response in found.items())
        return batch

    def survey(self, session: Session, slug: str) -> Survey | None:
        if slug not in self.surveys:
            self.surveys[slug] = survey_service.get_survey_by_slug(session, slug)
        return self.surveys[slug]

    def response_by_nonce(self, session: Session, survey_id: int, nonce: str) -> SurveyResponse | None:
        if self.by_nonce is not None and (survey_id, nonce) in self.by_nonce:
            return self.by_nonce[survey_id, nonce]
        return response_service.get_response_by_nonce(session, survey_id, nonce)

    def started(self, response: SurveyResponse) -> None:
        """A double click in the same batch finds the response (nothing is flushed before the end)."""
        if self.by_nonce is not None:
            self.by_nonce[response.survey_id, response.submission_id] = response

    def forget(self, session: Session, response: SurveyResponse) -> None:
        """Drop the response created for an invalid first page from a batch that has not flushed it."""
        if not inspect(response).pending:
            raise RuntimeError("an invalid first page's response was flushed; the batch is stored page by page")
        session.expunge(response)
        if self.by_nonce is not None:
            self.by_nonce.pop((response.survey_id, response.submission_id), None)


class _Invalid(Exception):
    """Raised to drop the response created for an invalid first page (rolled back, or never flushed)."""

    def __init__(self, outcome: Outcome, response: SurveyResponse) -> None:
        super().__init__("invalid answers")
        self.outcome = outcome
        self.response = response


def _shown_at(raw: str, now: datetime) -> datetime:
    try:
        shown = datetime.fromtimestamp(int(raw), tz=UTC)
    except (ValueError, OverflowError, OSError):
        return now
    return shown if now - timedelta(hours=1) <= shown <= now else now


def _start(session: Session, survey: Survey, post: PageSubmit, now: datetime) -> SurveyResponse:
    assert survey.current_version_id is not None
    defn = survey_service.version_definition(session, survey.current_version_id)
    hidden = {h.id: post.first(f"h_{h.id}") for h in defn.hidden_fields if post.first(f"h_{h.id}")}
    channel = post.first("channel")
    response = response_service.start_response(
        session,
        survey,
        channel=channel if channel in WIDGET_CHANNELS else "link",
        language=post.first("lang") or None,
        accept_language=post.accept,
        hidden=hidden,
        submission_id=post.first("nonce"),
        now=now,
        flush=False,
        metadata={"opened_at": now.isoformat()},  # opened here: spares the next GET a write
    )
    response.page_shown_at = _shown_at(post.first("t"), now)
    return response


def submit_posted(session: Session, post: PageSubmit, batch: PageBatch) -> Outcome:
    """Check and store one posted page in the caller's transaction; raises _Invalid to drop a new response."""
    now = utcnow()
    survey = batch.survey(session, post.slug)
    if survey is None or survey.current_version_id is None:
        return Outcome(view=message_view(None, "There is no survey at this address."), status=404)
    response = find_response(session, survey, post.resume_key(survey.id), batch.by_key)
    nonce = post.first("nonce")
    created = False
    if response is None:
        if not NONCE_PATTERN.match(nonce):
            return Outcome(view=message_view(survey, "This form has expired; please reload the page."), status=400)
        response = batch.response_by_nonce(session, survey.id, nonce)
        if response is not None:  # the same first page again (double click): already stored
            return Outcome(resume_key=response.resume_key, survey_id=survey.id)
        reason = survey_service.availability(survey, now)
        if reason:
            return Outcome(view=message_view(survey, reason), status=409)
        response = _start(session, survey, post, now)
        created = True
        batch.started(response)
    if post.first("action") == "back":
        response_service.go_back(session, response, now=now)
        return Outcome(resume_key=response.resume_key, survey_id=survey.id)
    return _submit_page(session, batch, response, post, created, now)


def _submit_page(
    session: Session, batch: PageBatch, response: SurveyResponse, post: PageSubmit, created: bool, now: datetime
) -> Outcome:
    opened = response_service.open_page(session, response)
    survey, defn, page, nonce = opened.survey, opened.defn, opened.page, post.first("nonce")
    page_id = post.first("page")
    if response.status == "completed" or page is None or (page.id != page_id and nonce not in response.used_nonces):
        return Outcome(resume_key=response.resume_key, survey_id=survey.id)  # stale form: show where they are
    raw = answer_rules.parse_form(logic.visible_questions(page, opened.ctx), post.form)
    try:
        result = response_service.submit_page(
            session,
            response,
            page_id=page_id,
            answers=raw,
            nonce=nonce or None,
            now=now,
            shared=batch.shared,
            opened=opened,
        )
    except response_service.SurveyUnavailable as exc:
        return Outcome(view=message_view(survey, exc.detail), status=409)
    except Conflict:
        return Outcome(resume_key=response.resume_key, survey_id=survey.id)
    if not result.errors:
        return Outcome(resume_key=response.resume_key, survey_id=survey.id)
    view = page_view(survey, defn, page, opened.ctx, response.language, values=raw, errors=result.errors)
    view.nonce = nonce if created else response.page_nonce
    view.resume_key = "" if created else response.resume_key
    view.can_go_back = defn.settings.allow_back and bool(response.page_history)
    if created:
        view.carry = {k: v[0] for k, v in post.form.items() if k in ("lang", "t", "channel") or k.startswith("h_")}
        raise _Invalid(Outcome(view=view, status=422), response)
    return Outcome(view=view, status=422)


@dataclass(eq=False)
class _PendingPage(Pending[Outcome]):
    post: PageSubmit


class PageSubmits(GroupCommitQueue[_PendingPage, Outcome]):
    """Stores concurrent page submits in shared transactions (see the module's docstring)."""

    def __init__(self, db: Database, *, max_batch: int = MAX_PAGE_BATCH) -> None:
        super().__init__(max_batch=max_batch)
        self._db = db

    def submit(self, post: PageSubmit) -> Outcome:
        """Store one page; returns once it is committed (or raises its own error, having stored nothing)."""
        return self._run(_PendingPage(post=post))

    def _store_together(self, items: Sequence[_PendingPage]) -> None:
        shared = records.SharedWrites()
        with self._db.unit_of_work() as session:
            batch = PageBatch.prefetch(session, [item.post for item in items], shared)
            results: list[Outcome] = []
            with session.no_autoflush:  # one flush at the end; the look-ups above found what pages need
                for item in items:
                    try:
                        results.append(submit_posted(session, item.post, batch))
                    except _Invalid as invalid:
                        batch.forget(session, invalid.response)
                        results.append(invalid.outcome)
            shared.write(session)
        for item, result in zip(items, results, strict=True):  # only once all of them are committed
            item.result = result

    def _store_alone(self, item: _PendingPage) -> Outcome:
        try:
            with self._db.unit_of_work() as session:
                return submit_posted(session, item.post, PageBatch())
        except _Invalid as invalid:
            return invalid.outcome
