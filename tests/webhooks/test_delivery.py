"""Deliveries reach a real HTTP receiver on loopback, signed so that `standardwebhooks` verifies them; failures
retry on the Standard Webhooks schedule, 410 and long failure disable, redirects are not followed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select
from standardwebhooks.webhooks import WebhookVerificationError

from cem import hooks
from cem.auth.models import Workspace as WorkspaceRow
from cem.db.session import Database
from cem.jobs.models import Job
from cem.webhooks.models import WebhookDelivery
from cem.webhooks.outbox import RETRY_DELAYS
from tests.webhooks.conftest import TEST_TIMEOUT, Answer, Clock, Received, Receiver

Subscribe = Callable[..., dict[str, Any]]


def feedback(submission: str, **extra: Any) -> list[dict[str, Any]]:
    """Two fields of one survey submission: one message, not two."""
    base = {"source_type": "survey", "source_name": "nps", "submission_id": submission, **extra}
    return [
        {**base, "field_id": "nps", "field_type": "nps", "value": 3},
        {**base, "field_id": "why", "field_type": "text", "value": "Slow delivery <b>again</b>"},
    ]


def deliveries(admin_api: TestClient, **params: Any) -> list[dict[str, Any]]:
    response = admin_api.get("/api/v1/webhooks/deliveries", params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def delivery(admin_api: TestClient, delivery_id: int) -> dict[str, Any]:
    return dict(admin_api.get(f"/api/v1/webhooks/deliveries/{delivery_id}").json())


def test_feedback_post_reaches_the_receiver_signed_one_message_per_submission(
    admin_api: TestClient, receiver: Receiver, subscribe: Subscribe, run_jobs: Callable[[], int]
) -> None:
    sub = subscribe(receiver.url, description="CRM")
    assert sub["secret"].startswith("whsec_") and len(sub["secret"]) > len("whsec_") + 32
    assert admin_api.post("/api/v1/feedback/bulk", json=feedback("r1") + feedback("r2")).status_code == 200
    run_jobs()
    assert len(receiver.requests) == 2  # two submissions, four fields
    payloads = [r.verified(sub["secret"]) for r in receiver.requests]
    assert {p["data"]["submission_id"] for p in payloads} == {"r1", "r2"}
    first = payloads[0]
    assert first["type"] == "feedback.created" and first["timestamp"]
    assert first["data"]["fields"]["nps"] == {"type": "nps", "label": "", "value": 3.0}
    assert first["data"]["fields"]["why"]["value"] == "Slow delivery <b>again</b>"
    headers = receiver.requests[0].headers
    assert headers["webhook-id"].startswith("msg_") and headers["webhook-signature"].startswith("v1,")
    log = deliveries(admin_api)
    assert [d["status"] for d in log] == ["succeeded", "succeeded"]
    assert {d["message_id"] for d in log} == {r.headers["webhook-id"] for r in receiver.requests}
    assert all(d["last_status_code"] == 200 and d["attempts"] == 1 for d in log)


def test_a_tampered_body_or_another_secret_fails_verification(
    admin_api: TestClient, receiver: Receiver, subscribe: Subscribe, run_jobs: Callable[[], int]
) -> None:
    sub = subscribe(receiver.url)
    other = admin_api.post(f"/api/v1/webhooks/{sub['id']}/rotate-secret").json()["secret"]
    admin_api.post("/api/v1/feedback/bulk", json=feedback("r1"))
    run_jobs()
    got = receiver.requests[0]
    got.verified(other)  # signed with the current secret
    with pytest.raises(WebhookVerificationError):
        got.verified(sub["secret"])
    tampered = Received(got.headers, got.body.replace(b'"r1"', b'"r9"'))
    with pytest.raises(WebhookVerificationError):
        tampered.verified(other)


def test_failures_retry_on_the_schedule_and_the_log_keeps_each_attempt(
    admin_api: TestClient, receiver: Receiver, subscribe: Subscribe, clock: Clock, run_jobs: Callable[[], int]
) -> None:
    subscribe(receiver.url)
    receiver.plan = [
        Answer(status=500, body=b"database down"),
        Answer(delay=TEST_TIMEOUT + 1.5),  # longer than the test settings allow
        Answer(status=302, headers={"location": receiver.url + "/elsewhere"}),
        Answer(status=200),
    ]
    admin_api.post("/api/v1/feedback/bulk", json=feedback("r1"))
    run_jobs()
    for expected_delay in RETRY_DELAYS[1:4]:
        pending = deliveries(admin_api)[0]
        assert pending["status"] == "pending"
        due = clock.now + expected_delay
        assert pending["next_attempt_at"].replace("Z", "+00:00") == due.isoformat()
        clock.advance(seconds=expected_delay.total_seconds() - 1)
        assert run_jobs() == 0  # not due a second early
        clock.advance(seconds=1)
        assert run_jobs() == 1
    done = delivery(admin_api, deliveries(admin_api)[0]["id"])
    assert done["status"] == "succeeded" and done["attempts"] == 4
    log = done["attempt_log"]
    assert [a["status_code"] for a in log] == [500, None, 302, 200]
    assert log[0]["response_excerpt"] == "database down"
    assert "timed out" in log[1]["error"]
    assert "redirects are not followed" in log[2]["error"]
    assert len(receiver.requests) == 4  # the redirect's target was never requested
    ids = {r.headers["webhook-id"] for r in receiver.requests}
    assert len(ids) == 1  # every attempt carries the same webhook-id
    sub = admin_api.get("/api/v1/webhooks").json()[0]
    assert sub["enabled"] and sub["failing_since"] is None  # the success reset the failure clock


def test_a_message_failing_every_attempt_ends_failed_after_eight(
    admin_api: TestClient, receiver: Receiver, subscribe: Subscribe, clock: Clock, run_jobs: Callable[[], int]
) -> None:
    subscribe(receiver.url)
    receiver.plan = [Answer(status=503) for _ in range(20)]
    admin_api.post("/api/v1/feedback/bulk", json=feedback("r1"))
    run_jobs()
    for delay in RETRY_DELAYS[1:]:
        clock.advance(seconds=delay.total_seconds())
        run_jobs()
    last = deliveries(admin_api)[0]
    assert last["status"] == "failed" and last["attempts"] == len(RETRY_DELAYS) == 8
    assert len(receiver.requests) == 8
    clock.advance(hours=48)
    assert run_jobs() == 0  # nothing more is scheduled
    sub = admin_api.get("/api/v1/webhooks").json()[0]
    assert sub["enabled"] and sub["failing_since"] is not None  # 27.6 h of failure: not yet 5 days


def test_410_gone_disables_the_subscription_and_cancels_its_queued_messages(
    admin_api: TestClient, receiver: Receiver, subscribe: Subscribe, db: Database, run_jobs: Callable[[], int]
) -> None:
    subscribe(receiver.url)
    receiver.plan = [Answer(status=410, body=b"gone")]
    admin_api.post("/api/v1/feedback/bulk", json=feedback("r1") + feedback("r2") + feedback("r3"))
    run_jobs()
    assert len(receiver.requests) == 1
    sub = admin_api.get("/api/v1/webhooks").json()[0]
    assert not sub["enabled"] and "410 Gone" in sub["disabled_reason"]
    assert sorted(d["status"] for d in deliveries(admin_api)) == ["cancelled", "cancelled", "failed"]
    admin_api.post("/api/v1/feedback/bulk", json=feedback("r4"))
    assert len(deliveries(admin_api)) == 3  # a disabled subscription gets no new messages
    refused = admin_api.post(f"/api/v1/webhooks/deliveries/{deliveries(admin_api)[0]['id']}/redeliver")
    assert refused.status_code == 409 and "410" in refused.json()["errors"][0]["msg"]
    enabled = admin_api.patch(f"/api/v1/webhooks/{sub['id']}", json={"enabled": True}).json()
    assert enabled["enabled"] and enabled["disabled_reason"] == ""
    with db.unit_of_work(readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 3


def test_failing_continuously_for_five_days_disables_with_the_reason(
    admin_api: TestClient, receiver: Receiver, subscribe: Subscribe, clock: Clock, run_jobs: Callable[[], int]
) -> None:
    subscribe(receiver.url)
    receiver.plan = [Answer(status=500) for _ in range(50)]
    for day in range(6):
        admin_api.post("/api/v1/feedback/bulk", json=feedback(f"day{day}"))
        run_jobs()
        clock.advance(days=1)
        run_jobs()
    sub = admin_api.get("/api/v1/webhooks").json()[0]
    assert not sub["enabled"]
    assert "Every attempt failed since" in sub["disabled_reason"] and "HTTP 500" in sub["disabled_reason"]


def test_send_again_repeats_the_same_message_id_and_body(
    admin_api: TestClient, receiver: Receiver, subscribe: Subscribe, run_jobs: Callable[[], int]
) -> None:
    sub = subscribe(receiver.url)
    admin_api.post("/api/v1/feedback/bulk", json=feedback("r1"))
    run_jobs()
    first = deliveries(admin_api)[0]
    again = admin_api.post(f"/api/v1/webhooks/deliveries/{first['id']}/redeliver")
    assert again.status_code == 202 and again.json()["status"] == "pending"
    twice = admin_api.post(f"/api/v1/webhooks/deliveries/{first['id']}/redeliver")
    assert twice.status_code == 409  # already queued
    run_jobs()
    assert len(receiver.requests) == 2
    assert receiver.requests[0].body == receiver.requests[1].body
    assert receiver.requests[1].headers["webhook-id"] == first["message_id"]
    receiver.requests[1].verified(sub["secret"])
    assert delivery(admin_api, first["id"])["attempts"] == 2


def test_the_test_event_reaches_a_subscription_of_other_events(
    admin_api: TestClient, receiver: Receiver, subscribe: Subscribe, run_jobs: Callable[[], int]
) -> None:
    sub = subscribe(receiver.url, ["case.closed"])
    assert admin_api.post(f"/api/v1/webhooks/{sub['id']}/test").status_code == 202
    run_jobs()
    assert receiver.requests[0].verified(sub["secret"])["type"] == "webhook.test"


def test_domain_events_fan_out_to_subscribers_of_that_type_only(
    admin_api: TestClient, receiver: Receiver, subscribe: Subscribe, db: Database, run_jobs: Callable[[], int]
) -> None:
    wanted = subscribe(receiver.url, ["case.created", "alert.fired"])
    subscribe(receiver.url + "/other", ["sla.breached"])
    workspace_id = _workspace_id(db)
    with db.unit_of_work() as session:
        hooks.domain_event(session, workspace_id=workspace_id, event_type="case.created", data={"case_id": 7})
        hooks.domain_event(session, workspace_id=workspace_id, event_type="case.updated", data={"case_id": 7})
    run_jobs()
    assert [r.verified(wanted["secret"])["data"] for r in receiver.requests] == [{"case_id": 7}]


def test_a_rolled_back_change_sends_nothing(
    admin_api: TestClient, receiver: Receiver, subscribe: Subscribe, db: Database, run_jobs: Callable[[], int]
) -> None:
    subscribe(receiver.url, ["case.created"])
    workspace_id = _workspace_id(db)
    try:
        with db.unit_of_work() as session:
            hooks.domain_event(session, workspace_id=workspace_id, event_type="case.created", data={"case_id": 1})
            raise RuntimeError("the case could not be saved")
    except RuntimeError:
        pass
    run_jobs()
    assert receiver.requests == []
    with db.unit_of_work(readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 0


def _workspace_id(db: Database) -> int:
    with db.unit_of_work(readonly=True) as session:
        return int(session.scalars(select(WorkspaceRow.id)).one())


def test_no_delay_is_missing_from_the_schedule() -> None:
    assert [d.total_seconds() for d in RETRY_DELAYS] == [0, 5, 300, 1800, 7200, 18000, 36000, 36000]
    assert timedelta(0) == RETRY_DELAYS[0]


def test_ingest_without_subscribers_asks_once_and_a_new_subscription_is_seen_at_once(
    admin_api: TestClient,
    receiver: Receiver,
    subscribe: Subscribe,
    db: Database,
    run_jobs: Callable[[], int],
) -> None:
    asked: list[str] = []

    def spy(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "webhook_subscription" in statement:
            asked.append(statement)

    event.listen(db.engine, "before_cursor_execute", spy)
    try:
        for n in range(3):
            admin_api.post("/api/v1/feedback/bulk", json=feedback(f"before{n}"))
        assert len(asked) == 1  # the first write asked; the next ones used the cached answer
    finally:
        event.remove(db.engine, "before_cursor_execute", spy)
    subscribe(receiver.url)  # clears the workspace's cached answer
    admin_api.post("/api/v1/feedback/bulk", json=feedback("after"))
    run_jobs()
    assert [r.headers["webhook-id"] for r in receiver.requests] and len(receiver.requests) == 1
