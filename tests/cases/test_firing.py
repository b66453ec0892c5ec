"""Rules fire on stored feedback from every ingest path: a hosted survey page, the API; each (rule, submission)
once, one open case per customer per rule within the window, every firing logged with its reason; rules on
sentiment wait for enrichment; regular expressions are bounded at evaluation time."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cem import hooks
from cem.cases.calendar import Calendar
from cem.cases.conditions import MATCH_TIMEOUT_SECONDS, Evaluator, Group, RecordFacts, SubmissionFacts, TextCondition
from cem.cases.models import AlertFiring, Case
from cem.db.session import Database
from cem.hooks import hookimpl
from cem.jobs.models import Job
from tests.cases.conftest import Inbox, nps_detractor_rule, nps_record
from tests.conftest import Workspace
from tests.distribution.conftest import Clock, two_page_nps
from tests.responses.hosted_helpers import post_page, publish


class Recorder:
    """A plugin that records the domain events it is given (what a webhook subscriber would receive)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    @hookimpl
    def domain_event(self, workspace_id: int, event_type: str, data: dict[str, Any]) -> None:
        self.events.append((event_type, data))

    def types(self) -> list[str]:
        return [t for t, _ in self.events]


@pytest.fixture
def recorder(app: object) -> Iterator[Recorder]:
    """Registered with the process's plugin manager (the one the app installed)."""
    found = Recorder()
    hooks.installed().register(found)
    yield found
    hooks.installed().unregister(found)


def _cases(db: Database) -> list[Case]:
    with db.unit_of_work(readonly=True) as session:
        return list(session.scalars(select(Case).order_by(Case.id)))


def _firings(db: Database) -> list[AlertFiring]:
    with db.unit_of_work(readonly=True) as session:
        return list(session.scalars(select(AlertFiring).order_by(AlertFiring.id)))


def test_detractor_on_a_hosted_survey_page_opens_a_case(
    client: TestClient,
    db: Database,
    workspace: Workspace,
    admin_api: TestClient,
    run_jobs: Callable[[], int],
    recorder: Recorder,
    clock: Clock,
) -> None:
    rule = admin_api.post("/api/v1/alert-rules", json=nps_detractor_rule()).json()
    hours = {d: [["00:00", "23:59"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    calendar = {"name": "Always", "timezone": "UTC", "hours": hours}
    calendar_id = admin_api.post("/api/v1/business-calendars", json=calendar).json()["id"]
    policy = {
        "name": "High",
        "conditions": {"priorities": ["high"]},
        "calendar_id": calendar_id,
        "first_response_minutes": 30,
        "resolution_minutes": 240,
    }
    policy_id = admin_api.post("/api/v1/slas", json=policy).json()["id"]
    publish(db, workspace, two_page_nps(), slug="post-nps")
    first = client.get("/s/post-nps")
    r = post_page(client, "/s/post-nps", first.text, {"q_nps": "3"})
    second = client.get(r.headers["location"])
    post_page(client, "/s/post-nps", second.text, {"q_why": "The courier lost my parcel"})
    run_jobs()
    [case] = _cases(db)
    assert (case.rule_id, case.priority, case.status, case.source_type) == (rule["id"], "high", "new", "survey")
    assert case.source_name == "post-nps" and case.title.startswith("Detractors: nps <= 6 (3")
    [firing] = _firings(db)
    assert firing.outcome == "case_opened" and firing.case_id == case.id
    assert firing.reason == [{"condition": "nps <= 6", "value": 3.0, "record_id": case.record_id}]
    assert recorder.types().count("alert.fired") == 1 and recorder.types().count("case.created") == 1
    fired = dict(recorder.events)["alert.fired"]
    assert fired["case_id"] == case.id and fired["reason"] == ["nps <= 6"]
    detail = admin_api.get(f"/api/v1/cases/{case.id}").json()
    assert [a["kind"] for a in detail["activity"]] == ["created"]
    opened = Calendar.from_config("UTC", hours, []).add(case.created_at, 30)
    assert (case.sla_policy_id, case.first_response_due_at) == (policy_id, opened)
    assert detail["sla"]["state"] == "running"
    assert detail["activity"][0]["actor_label"] == "rule:Detractors"


def test_promoters_and_inactive_rules_fire_nothing(
    admin_api: TestClient, db: Database, run_jobs: Callable[[], int]
) -> None:
    admin_api.post("/api/v1/alert-rules", json=nps_detractor_rule())
    admin_api.post("/api/v1/alert-rules", json=nps_detractor_rule(name="Off", active=False))
    admin_api.post("/api/v1/feedback/bulk", json=[nps_record("p1", 9), nps_record("p2", 10)])
    run_jobs()
    assert _firings(db) == [] and _cases(db) == []


def test_no_active_rule_queues_no_evaluation(admin_api: TestClient, db: Database) -> None:
    admin_api.post("/api/v1/feedback/bulk", json=[nps_record("d1", 2)])
    with db.unit_of_work(readonly=True) as session:
        assert session.scalars(select(Job.name).where(Job.name == "cases.evaluate")).all() == []


def test_one_open_case_per_customer_and_rule_within_the_window(
    admin_api: TestClient, db: Database, run_jobs: Callable[[], int], clock: Clock
) -> None:
    admin_api.post("/api/v1/alert-rules", json=nps_detractor_rule(dedupe_window_hours=24))
    admin_api.post(
        "/api/v1/feedback/bulk", json=[nps_record("d1", 2), nps_record("d2", 4), nps_record("x1", 1, customer="c2")]
    )
    run_jobs()
    assert len(_cases(db)) == 2  # c1 once, c2 once
    assert sorted(f.outcome for f in _firings(db)) == ["case_opened", "case_opened", "deduplicated"]
    # Re-sending the same submission fires nothing new.
    admin_api.post("/api/v1/feedback/bulk", json=[nps_record("d1", 2)])
    run_jobs()
    assert len(_firings(db)) == 3
    # After the window a new detractor answer opens a new case, although the old one is still open.
    clock.advance(hours=25)
    admin_api.post("/api/v1/feedback/bulk", json=[nps_record("d3", 0)])
    run_jobs()
    c1_cases = [c for c in _cases(db) if c.submission_id in ("d1", "d2", "d3")]
    assert [c.submission_id for c in c1_cases] == ["d1", "d3"]
    # A closed case does not hold back the next one either.
    admin_api.post(
        f"/api/v1/cases/{c1_cases[-1].id}/close", json={"contacted": True, "root_cause": "delivery", "recovered": False}
    )
    admin_api.post("/api/v1/feedback/bulk", json=[nps_record("d4", 0)])
    run_jobs()
    assert [c.submission_id for c in _cases(db)][-1] == "d4"


def test_alert_email_reaches_a_real_smtp_server(
    admin_api: TestClient, db: Database, run_jobs: Callable[[], int], smtp: Inbox
) -> None:
    rule = nps_detractor_rule(
        name="VIP <script>",
        condition={
            "conditions": [
                {"field": "score", "field_type": "nps", "op": "<=", "value": 6},
                {"field": "customer_attribute", "key": "plan", "value": "enterprise"},
            ]
        },
        actions={"email": ["cx-lead@acme.example"]},
    )
    assert admin_api.post("/api/v1/alert-rules", json=rule).status_code == 201
    vip = {**nps_record("v1", 5), "customer": {"external_id": "vip", "attributes": {"plan": "Enterprise"}}}
    admin_api.post("/api/v1/feedback/bulk", json=[vip, nps_record("n1", 5, customer="basic")])
    run_jobs()
    [message] = smtp.to("cx-lead@acme.example")
    assert message["Subject"] == "Alert: VIP <script>"
    html = next(p for p in message.walk() if p.get_content_type() == "text/html").get_payload(decode=True).decode()
    assert "<script>" not in html and "&lt;script&gt;" in html
    [firing] = _firings(db)
    assert firing.outcome == "no_case"
    assert [r["condition"] for r in firing.reason] == ["nps <= 6", "customer.plan is enterprise"]
    run_jobs()  # nothing left to send twice
    assert len(smtp.to("cx-lead@acme.example")) == 1


def test_sentiment_rule_fires_once_the_record_is_enriched(
    admin_api: TestClient, db: Database, run_jobs: Callable[[], int]
) -> None:
    rule = nps_detractor_rule(
        name="Angry", condition={"conditions": [{"field": "sentiment_label", "value": "negative"}]}
    )
    assert admin_api.post("/api/v1/alert-rules", json=rule).json()["needs_enrichment"] is True
    texts = {
        "neg": "I am furious, my flight was cancelled and nobody at the desk would help me. Unacceptable!",
        "pos": "Wonderful crew, we landed early and the staff were so friendly. Thank you!",
    }
    records = [
        {
            "source_type": "review",
            "source_name": "store",
            "submission_id": k,
            "field_id": "comment",
            "field_type": "text",
            "value": v,
            "customer": {"external_id": k},
        }
        for k, v in texts.items()
    ]
    admin_api.post("/api/v1/feedback/bulk", json=records)
    with db.unit_of_work(readonly=True) as session:
        queued = session.scalars(select(Job.name).where(Job.status == "queued")).all()
    assert "text.enrich_submissions" in queued
    run_jobs()
    [case] = _cases(db)
    assert case.submission_id == "neg"
    [firing] = _firings(db)
    assert firing.reason[0]["condition"] == "sentiment_label is negative" and firing.reason[0]["value"] == "negative"


def test_a_slow_regular_expression_is_cut_off_at_evaluation() -> None:
    # A pattern that slipped past the save-time probes (built here without validation) still cannot hang ingest.
    slow = TextCondition.model_construct(field="text", op="matches", value=r"(\w|\w\w)+!")
    evaluator = Evaluator(Group.model_construct(op="and", conditions=[slow]))
    hostile = SubmissionFacts(
        "review", "store", "s1", None, [RecordFacts(1, "comment", "text", None, "ab" * 2000 + "?")]
    )
    started = time.monotonic()
    assert evaluator.evaluate(hostile) is None
    assert time.monotonic() - started < MATCH_TIMEOUT_SECONDS * 20
    fine = SubmissionFacts("review", "store", "s2", None, [RecordFacts(2, "comment", "text", None, "ok!")])
    assert evaluator.evaluate(fine) is not None
