"""Helpers shared by the web and browser tests: log in through the form, and seed data via the services."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from cem.auth.principal import Principal
from cem.customers import service as customer_service
from cem.customers.schemas import CustomerIn, CustomerRef, EventIn
from cem.db.session import Database
from cem.feedback import service as feedback_service
from cem.feedback.schemas import FeedbackIn
from cem.journeys import service as journey_service
from cem.journeys.schemas import JourneyIn
from tests.conftest import PASSWORD

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
HTML = {"accept": "text/html"}
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
INJECTIONS = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "'; DROP TABLE customer; --")


@dataclass
class WebUser:
    """A logged-in browser session: the cookie lives in the client, the CSRF token is read from a page."""

    client: TestClient
    csrf: str

    def get(self, url: str, **kwargs: Any) -> Response:
        return self.client.get(url, headers=HTML, **kwargs)

    def post(self, url: str, data: dict[str, Any] | None = None, *, csrf: bool = True) -> Response:
        body = {**(data or {}), **({"csrf_token": self.csrf} if csrf else {})}
        return self.client.post(url, data=body, headers=HTML, follow_redirects=False)


def login(app: object, email: str, password: str = PASSWORD) -> WebUser:
    """Log in through the /login form exactly as a browser does."""
    client = TestClient(app)  # type: ignore[arg-type]
    r = client.post("/login", data={"email": email, "password": password}, follow_redirects=False)
    assert r.status_code == 303, r.text
    home = client.get("/", headers=HTML)
    match = CSRF_RE.search(home.text)
    assert match, "the page carries no CSRF token"
    return WebUser(client=client, csrf=match.group(1))


def seed_journey(db: Database, actor: Principal) -> dict[str, int]:
    """One journey with two stages and three touchpoints; returns ids by key."""
    spec = {
        "key": "buy",
        "name": "Purchase",
        "stages": [
            {"key": "browse", "name": "Browse", "touchpoints": [{"key": "site", "name": "Website", "channel": "web"}]},
            {
                "key": "support",
                "name": "Support",
                "touchpoints": [
                    {"key": "call", "name": "Call centre", "channel": "phone"},
                    {"key": "chatbot", "name": "Chat bot", "channel": "chat"},
                ],
            },
        ],
    }
    with db.unit_of_work() as session:
        journey = journey_service.create_journey(session, actor=actor, journey_in=JourneyIn.model_validate(spec))
        read = journey_service.read_journey(session, workspace_id=actor.workspace_id, journey_id=journey.id)
    ids = {"journey": read.id}
    for stage in read.stages:
        ids[stage.key] = stage.id
        ids.update({tp.key: tp.id for tp in stage.touchpoints})
    return ids


def seed_customer(db: Database, actor: Principal, *, name: str = "Ada Lovelace", email: str = "ada@example.com") -> int:
    """A customer with two events and two feedback submissions at known, interleaved times."""
    ref = CustomerRef(external_id="c-ada", email=email)
    with db.unit_of_work() as session:
        customer, _ = customer_service.upsert_customer(
            session,
            actor=actor,
            customer_in=CustomerIn(external_id="c-ada", email=email, name=name, attributes={"plan": "pro"}),
        )
        events = [
            EventIn(customer=ref, type="signup", occurred_at=T0, touchpoint="site", properties={"plan": "pro"}),
            EventIn(customer=ref, type="call", occurred_at=T0 + timedelta(days=2), touchpoint="call", value=12),
        ]
        customer_service.ingest_events(session, actor=actor, events=events)
        records = [
            feedback_in(ref, "survey", "nps-q1", "s-1", "nps", "nps", 9, T0 + timedelta(days=1), touchpoint="site"),
            feedback_in(ref, "survey", "nps-q1", "s-1", "why", "text", "Fast delivery", T0 + timedelta(days=1)),
            feedback_in(
                ref, "review", "appstore", "r-7", "stars", "rating", 2, T0 + timedelta(days=3), touchpoint="chatbot"
            ),
            feedback_in(ref, "review", "appstore", "r-7", "body", "text", "Bot was useless", T0 + timedelta(days=3)),
        ]
        feedback_service.ingest_feedback(session, actor=actor, records=records)
        return customer.id


def feedback_in(
    ref: CustomerRef | None,
    stype: str,
    sname: str,
    sub: str,
    field: str,
    ftype: str,
    value: Any,
    at: datetime,
    touchpoint: str | None = None,
) -> FeedbackIn:
    return FeedbackIn.model_validate(
        {
            "source_type": stype,
            "source_name": sname,
            "submission_id": sub,
            "customer": ref,
            "field_id": field,
            "field_label": field.title(),
            "field_type": ftype,
            "value": value,
            "collected_at": at,
            "touchpoint": touchpoint,
        }
    )


def seed_feedback(db: Database, actor: Principal, rows: list[tuple[str, str, str, str, str, Any, datetime]]) -> None:
    """Feedback without customers: (source_type, source_name, submission, field, type, value, at)."""
    with db.unit_of_work() as session:
        records = [feedback_in(None, *row) for row in rows]
        feedback_service.ingest_feedback(session, actor=actor, records=records)
