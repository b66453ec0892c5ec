"""Page submits of the hosted page share write transactions (hosted.PageSubmits), yet each gets its own outcome.

The batch tests queue pages the way concurrent requests would, then submit one more: that caller finds nobody
leading, leads, and stores the whole queue in one transaction (one COMMIT). The last test drives the real page
from many threads at once.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select

from cem.db.session import Database
from cem.feedback.models import FeedbackRecord
from cem.responses import records as response_records
from cem.responses.hosted import PageSubmit, PageSubmits, _PendingPage
from cem.responses.pages import Outcome
from cem.surveys.models import Survey, SurveyResponse
from tests.conftest import Workspace
from tests.responses.hosted_helpers import post_page, publish

DEFINITION: dict[str, Any] = {
    "title": {"en": "Batch"},
    "pages": [
        {
            "id": "p1",
            "questions": [
                {"id": "nps", "type": "nps", "required": True, "headline": {"en": "How likely?"}},
                {"id": "comment", "type": "text", "headline": {"en": "Why?"}},
            ],
        },
        {
            "id": "p2",
            "questions": [
                {
                    "id": "topic",
                    "type": "single_choice",
                    "required": True,
                    "headline": {"en": "Main topic"},
                    "choices": [
                        {"id": "price", "label": {"en": "Price"}},
                        {"id": "support", "label": {"en": "Support"}},
                    ],
                }
            ],
        },
    ],
    "endings": [{"id": "thanks", "headline": {"en": "Thanks!"}}],
}


def first(nps: str, comment: str = "", nonce: str | None = None) -> PageSubmit:
    form = {"page": ["p1"], "nonce": [nonce or secrets.token_urlsafe(18)], "lang": ["en"], "action": ["next"]}
    return PageSubmit("cx", {**form, "q_nps": [nps], "q_comment": [comment]}, {})


def second(resume_key: str, topic: str, nonce: str | None = None) -> PageSubmit:
    form = {"page": ["p2"], "nonce": [nonce or secrets.token_urlsafe(18)], "r": [resume_key], "action": ["next"]}
    return PageSubmit("cx", {**form, "q_topic": [topic]}, {})


@contextmanager
def commits(db: Database) -> Iterator[list[int]]:
    """Counts the COMMITs made meanwhile."""
    seen: list[int] = []

    def count(_conn: Any) -> None:
        seen.append(1)

    event.listen(db.engine, "commit", count)
    try:
        yield seen
    finally:
        event.remove(db.engine, "commit", count)


def run_batch(db: Database, queued: list[PageSubmit], mine: PageSubmit) -> tuple[list[_PendingPage], Outcome]:
    """Queue `queued` as waiting requests, then submit `mine`: it leads and stores them all in one batch."""
    group = PageSubmits(db)
    pending = [_PendingPage(post=post) for post in queued]
    group._queue.extend(pending)
    outcome = group.submit(mine)
    assert all(p.done.is_set() for p in pending)
    assert not group._queue and not group._leading
    return pending, outcome


def responses(db: Database) -> dict[str, SurveyResponse]:
    with db.unit_of_work(readonly=True) as session:
        return {r.submission_id: r for r in session.scalars(select(SurveyResponse))}


def records(db: Database, submission_id: str | None = None) -> dict[str, Any]:
    """field id -> stored value of a submission's feedback records (all records' count when no submission)."""
    with db.unit_of_work(readonly=True) as session:
        if submission_id is None:
            return {"count": session.scalar(select(func.count()).select_from(FeedbackRecord))}
        rows = session.execute(
            select(FeedbackRecord.field_id, FeedbackRecord.value_number, FeedbackRecord.value_text).where(
                FeedbackRecord.submission_id == submission_id
            )
        )
        return {field: number if number is not None else text for field, number, text in rows}


def nonce_of(post: PageSubmit) -> str:
    return post.form["nonce"][0]


@pytest.fixture
def survey_id(db: Database, workspace: Workspace) -> int:
    return publish(db, workspace, DEFINITION)


def test_a_batch_of_first_and_second_pages_commits_once(db: Database, survey_id: int) -> None:
    starts = [first(str(i), f"comment {i}") for i in range(5)]
    with commits(db) as seen:
        pending, mine = run_batch(db, starts[:-1], starts[-1])
    assert len(seen) == 1  # five respondents, one transaction
    outcomes = [p.result for p in pending] + [mine]
    assert all(o is not None and o.resume_key and o.survey_id == survey_id for o in outcomes)
    keys = [o.resume_key for o in outcomes if o is not None and o.resume_key]
    assert len(set(keys)) == 5
    stored = responses(db)
    assert {stored[nonce_of(p)].resume_key for p in starts} == set(keys)
    for i, post in enumerate(starts):
        response = stored[nonce_of(post)]
        assert response.answers == {"nps": i, "comment": f"comment {i}"} and response.current_page_id == "p2"
        assert records(db, nonce_of(post)) == {"nps": i, "comment": f"comment {i}"}
    # Their second pages (resumed by key) complete all five in one more transaction.
    topics = ["price", "support", "price", "support", "price"]
    finals = [second(key, topic) for key, topic in zip(keys, topics, strict=True)]
    with commits(db) as seen:
        pending, mine = run_batch(db, finals[:-1], finals[-1])
    assert len(seen) == 1
    assert all(o is not None and o.resume_key for o in [*(p.result for p in pending), mine])
    stored = responses(db)
    for i, (post, topic) in enumerate(zip(starts, topics, strict=True)):
        response = stored[nonce_of(post)]
        assert response.status == "completed" and response.page_history == ["p1", "p2"]
        assert records(db, nonce_of(post)) == {"nps": i, "comment": f"comment {i}", "topic": topic.title()}
    with db.unit_of_work(readonly=True) as session:
        survey = session.get(Survey, survey_id)
        assert survey is not None and survey.completed_count == 5  # the batch's counts added up


def test_an_invalid_page_gets_its_errors_and_stores_nothing(db: Database, survey_id: int) -> None:
    _, started = run_batch(db, [], first("8"))
    assert started.resume_key
    key = started.resume_key
    good = [first("9", "fine"), first("3")]
    no_score = first("", "forgot the score")  # required question left empty on a first page
    bad_choice = second(key, "no-such-topic")  # an existing response's second page
    with commits(db) as seen:
        pending, mine = run_batch(db, [good[0], no_score, bad_choice], good[1])
    assert len(seen) == 1  # invalid answers do not break the shared transaction
    invalid, wrong = pending[1].result, pending[2].result
    assert invalid is not None and invalid.status == 422 and invalid.resume_key is None
    assert invalid.view is not None and set(invalid.view.errors) == {"nps"}
    assert invalid.view.nonce == nonce_of(no_score) and invalid.view.carry["lang"] == "en"  # the same form again
    assert wrong is not None and wrong.status == 422 and wrong.view is not None and set(wrong.view.errors) == {"topic"}
    assert wrong.view.resume_key == key
    assert pending[0].result is not None and pending[0].result.resume_key and mine.resume_key
    stored = responses(db)
    assert nonce_of(no_score) not in stored  # no response row for the invalid first page
    assert {nonce_of(good[0]), nonce_of(good[1])} <= set(stored) and len(stored) == 3
    started_response = next(r for r in stored.values() if r.resume_key == key)
    assert started_response.current_page_id == "p2" and started_response.status == "started"
    assert "topic" not in records(db, started_response.submission_id)
    # Corrected, the same forms go through.
    _, fixed = run_batch(db, [second(key, "support", nonce=nonce_of(bad_choice))], first("5", nonce=nonce_of(no_score)))
    assert fixed.resume_key and responses(db)[nonce_of(no_score)].answers == {"nps": 5}
    assert records(db, started_response.submission_id)["topic"] == "Support"  # records hold the label


def test_a_page_that_fails_is_rolled_back_alone(db: Database, survey_id: int, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = first("7", "this one breaks")
    real = response_records.write_records

    def failing(session: Any, survey: Any, response: Any, *args: Any, **kwargs: Any) -> int:
        written = real(session, survey, response, *args, **kwargs)  # its changes are made, then it fails
        if response.submission_id == nonce_of(bad):
            raise RuntimeError("disk on fire")
        return written

    monkeypatch.setattr(response_records, "write_records", failing)
    good = [first("1"), first("2"), first("10")]
    with commits(db) as seen:
        pending, mine = run_batch(db, [good[0], bad, good[1]], good[2])
    assert len(seen) == 3  # the shared transaction failed; each page was then stored alone (one of them failing)
    failed = pending[1]
    assert isinstance(failed.error, RuntimeError) and failed.result is None
    assert all(p.error is None and p.result is not None and p.result.resume_key for p in (pending[0], pending[2]))
    assert mine.resume_key
    stored = responses(db)
    assert set(stored) == {nonce_of(p) for p in good}  # nothing of the failed page
    assert records(db, nonce_of(bad)) == {}
    assert [records(db, nonce_of(p))["nps"] for p in good] == [1, 2, 10]
    # Raised in the caller's own thread when it is the caller's page.
    with pytest.raises(RuntimeError):
        run_batch(db, [first("4")], first("6", nonce=nonce_of(bad)))
    assert len(responses(db)) == 4


def test_double_submits_in_one_batch_store_once(db: Database, survey_id: int) -> None:
    click = first("6", "twice")
    pending, mine = run_batch(db, [click, first("2")], click)
    assert pending[0].result is not None and pending[0].result.resume_key == mine.resume_key  # the same response
    stored = responses(db)
    assert len(stored) == 2 and stored[nonce_of(click)].answers == {"nps": 6, "comment": "twice"}
    assert mine.resume_key
    again = second(mine.resume_key, "price")
    pending, last = run_batch(db, [again, again], again)  # a triple click on the last page
    assert all(p.result is not None and p.result.resume_key == last.resume_key for p in pending)
    response = responses(db)[nonce_of(click)]
    assert response.status == "completed" and response.page_history == ["p1", "p2"]
    assert records(db, nonce_of(click)) == {"nps": 6, "comment": "twice", "topic": "Price"}
    with db.unit_of_work(readonly=True) as session:
        assert session.scalar(select(Survey.completed_count).where(Survey.id == survey_id)) == 1


def test_a_limited_survey_closes_inside_a_batch(db: Database, workspace: Workspace) -> None:
    definition = {**DEFINITION, "settings": {"close_after_responses": 2}}
    survey_id = publish(db, workspace, definition)
    keys = []
    for nps in ("1", "2", "3"):
        _, started = run_batch(db, [], first(nps))
        assert started.resume_key
        keys.append(started.resume_key)
    pending, last = run_batch(db, [second(keys[0], "price"), second(keys[1], "price")], second(keys[2], "price"))
    assert all(p.result is not None and p.result.resume_key for p in pending)  # the first two complete it
    assert last.status == 409 and last.view is not None and "closed" in last.view.unavailable
    with db.unit_of_work(readonly=True) as session:
        survey = session.get(Survey, survey_id)
        assert survey is not None and (survey.status, survey.completed_count) == ("closed", 2)
        states = dict(session.execute(select(SurveyResponse.resume_key, SurveyResponse.status)).all())
    assert [states[key] for key in keys] == ["completed", "completed", "started"]
    assert records(db) == {"count": 5}  # three first pages, two second pages


def test_concurrent_respondents_through_the_page(
    app: Any, db: Database, survey_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Threads answer the real page at once (no JavaScript): every answer stored exactly once, the one invalid
    submit gets its error page; submits of the same moment share transactions."""
    real_store = PageSubmits._store_together
    first_batch = threading.Event()

    def slow_first_batch(self: PageSubmits, items: Any) -> None:
        if not first_batch.is_set():  # the others arrive while the first leader dawdles: they queue up
            first_batch.set()
            time.sleep(0.3)
        real_store(self, items)

    monkeypatch.setattr(PageSubmits, "_store_together", slow_first_batch)
    count = 16
    start = threading.Barrier(count)
    outcome: dict[int, tuple[int, int]] = {}
    errors: list[BaseException] = []
    with commits(db) as seen:

        def respondent(i: int) -> None:
            try:
                browser = TestClient(app)
                page = browser.get("/s/cx").text
                start.wait(timeout=30)
                answers = {"q_nps": str(i % 11), "q_comment": f"respondent {i}"}
                if i == 5:
                    answers["q_nps"] = ""  # required question left empty
                r1 = post_page(browser, "/s/cx", page, answers)
                if r1.status_code != 303:
                    outcome[i] = (r1.status_code, 0)
                    assert "This question needs an answer." in r1.text
                    return
                page2 = browser.get(r1.headers["location"]).text
                r2 = post_page(browser, "/s/cx", page2, {"q_topic": "price" if i % 2 else "support"})
                outcome[i] = (r1.status_code, r2.status_code)
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=respondent, args=(i,)) for i in range(count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    assert not errors, errors
    assert outcome == {i: ((422, 0) if i == 5 else (303, 303)) for i in range(count)}
    assert len(seen) < 2 * (count - 1)  # some pages shared a COMMIT
    stored = list(responses(db).values())
    assert len(stored) == count - 1 and all(r.status == "completed" for r in stored)
    by_comment = {r.answers["comment"]: r for r in stored}
    for i in range(count):
        if i == 5:
            assert f"respondent {i}" not in by_comment
            continue
        response = by_comment[f"respondent {i}"]
        topic = "price" if i % 2 else "support"
        assert response.answers == {"nps": i % 11, "comment": f"respondent {i}", "topic": topic}
        assert records(db, response.submission_id) == {
            "nps": i % 11,
            "comment": f"respondent {i}",
            "topic": topic.title(),
        }
    assert records(db) == {"count": 3 * (count - 1)}
    with db.unit_of_work(readonly=True) as session:
        assert session.scalar(select(Survey.completed_count).where(Survey.id == survey_id)) == count - 1
