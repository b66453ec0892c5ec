"""Group commit: single-record requests sharing a transaction still get their own result or error."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import func, select

from cem.auth.models import AuditLog
from cem.db.session import Database
from cem.errors import CEMError
from cem.feedback.group_commit import GroupCommit, _Pending
from cem.feedback.models import FeedbackRecord
from cem.feedback.schemas import FeedbackIn
from tests.conftest import Workspace


def record(submission: str, value: int = 7, **extra: Any) -> FeedbackIn:
    body = {"source_type": "api", "source_name": "app", "submission_id": submission, "field_id": "nps"}
    return FeedbackIn.model_validate({**body, "field_type": "nps", "value": value, **extra})


def count(db: Database, model: Any, *where: Any) -> int:
    with db.unit_of_work(readonly=True) as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_a_queued_batch_is_stored_together_with_a_result_each(db: Database, workspace: Workspace) -> None:
    group = GroupCommit(db)
    actor = workspace.principal()
    queued = [_Pending(actor, record("a", 1)), _Pending(actor, record("b")), _Pending(actor, record("a", 9))]
    group._queue.extend(queued)
    # The caller finds the queue non-empty but nobody leading: it leads and stores all four in one batch.
    mine = group.submit(actor, record("c"))
    assert mine.model_dump() == {"accepted": 1, "created": 1, "updated": 0}
    outcomes = [(p.result.created, p.result.updated) for p in queued if p.result is not None]
    assert outcomes == [(1, 0), (1, 0), (0, 1)]  # "a" is created by the first request, updated by the third
    assert all(p.done.is_set() and p.error is None for p in queued)
    assert count(db, FeedbackRecord) == 3
    with db.unit_of_work(readonly=True) as session:
        value = session.scalar(select(FeedbackRecord.value_number).where(FeedbackRecord.submission_id == "a"))
    assert value == 9  # the later request wins
    assert count(db, AuditLog, AuditLog.action == "feedback.ingest") == 4  # one entry per request


def test_one_bad_record_fails_alone(db: Database, workspace: Workspace) -> None:
    group = GroupCommit(db)
    actor = workspace.principal()
    bad = _Pending(actor, record("bad", touchpoint="no-such-touchpoint"))
    good = _Pending(actor, record("good"))
    group._queue.extend([bad, good])
    assert group.submit(actor, record("mine")).created == 1
    assert isinstance(bad.error, CEMError) and "no-such-touchpoint" in bad.error.detail
    assert good.result is not None and good.result.created == 1
    assert count(db, FeedbackRecord) == 2
    assert count(db, FeedbackRecord, FeedbackRecord.submission_id == "bad") == 0


def test_concurrent_callers_each_get_their_outcome(db: Database, workspace: Workspace) -> None:
    group = GroupCommit(db, max_batch=8)
    actor = workspace.principal()
    start = threading.Barrier(30)
    outcomes: dict[int, object] = {}

    def call(i: int) -> None:
        start.wait()
        extra = {"touchpoint": "missing"} if i == 13 else {}
        try:
            outcomes[i] = group.submit(actor, record(f"s{i}", i % 11, **extra)).created
        except CEMError as exc:
            outcomes[i] = exc.code

    threads = [threading.Thread(target=call, args=(i,)) for i in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert outcomes == {i: ("invalid_input" if i == 13 else 1) for i in range(30)}
    assert count(db, FeedbackRecord) == 29
    assert not group._queue and not group._leading


def test_the_api_answers_after_commit(admin_api: Any, db: Database) -> None:
    r = admin_api.post(
        "/api/v1/feedback",
        json={
            "source_type": "api",
            "source_name": "app",
            "submission_id": "x",
            "field_id": "nps",
            "field_type": "nps",
            "value": 10,
        },
    )
    assert r.json() == {"accepted": 1, "created": 1, "updated": 0}
    assert count(db, FeedbackRecord, FeedbackRecord.submission_id == "x") == 1
