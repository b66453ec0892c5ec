"""Fixtures for distribution tests: a live SMTP server on loopback (aiosmtpd), a published survey,
customers, a controllable clock, and a helper that runs the job queue."""

from __future__ import annotations

import email
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from cem.config import Settings
from cem.customers.models import Customer
from cem.db.session import Database
from cem.distribution import clock
from cem.jobs.worker import Worker
from cem.surveys import service as survey_service
from tests.conftest import Workspace


def two_page_nps() -> dict[str, Any]:
    return {
        "default_language": "en",
        "title": {"en": "How did we do?"},
        "pages": [
            {
                "id": "p1",
                "questions": [
                    {"id": "nps", "type": "nps", "required": True, "headline": {"en": "Would you recommend us?"}},
                ],
            },
            {
                "id": "p2",
                "questions": [{"id": "why", "type": "text", "headline": {"en": "Why?"}}],
            },
        ],
        "endings": [{"id": "thanks", "headline": {"en": "Thanks!"}}],
    }


@dataclass
class Inbox:
    """Messages the SMTP server accepted."""

    messages: list[tuple[list[str], Message]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # recipients the server rejects (a bounce)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        self.messages.append((list(envelope.rcpt_tos), email.message_from_bytes(content)))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for rcpts, m in self.messages if address in rcpts]

    def clear(self) -> None:
        self.messages.clear()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp(settings: Settings) -> Iterator[Inbox]:
    """A real SMTP server on a free loopback port; the app's settings point at it during the test."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    saved = (settings.smtp_host, settings.smtp_port, settings.smtp_from, settings.public_url)
    settings.smtp_host, settings.smtp_port = "127.0.0.1", port
    settings.smtp_from = "CX Team <cx@acme.example>"
    settings.public_url = "http://testserver"
    try:
        yield inbox
    finally:
        settings.smtp_host, settings.smtp_port, settings.smtp_from, settings.public_url = saved
        controller.stop()


class Clock:
    """The distribution clock and the worker's clock, moved together by the test."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    # A minute ahead of the wall clock, so jobs enqueued "now" (by the real clock) are due.
    c = Clock(datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1))
    monkeypatch.setattr(clock, "now", c)
    return c


@pytest.fixture
def run_jobs(db: Database, fixed_clock: Clock) -> Callable[[], int]:
    return lambda: Worker(db, clock=fixed_clock).run_until_idle()


@pytest.fixture
def survey_id(workspace: Workspace, db: Database) -> int:
    with db.unit_of_work() as session:
        survey = survey_service.create_survey(
            session, workspace.principal(), name="Post-purchase NPS", definition=two_page_nps(), slug="post-nps"
        )
        survey_service.publish_survey(session, workspace.principal(), survey)
        return survey.id


def add_customers(db: Database, workspace_id: int, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Customers by external id -> id."""
    with db.unit_of_work() as session:
        made = [Customer(workspace_id=workspace_id, **{"attributes": {}, **row}) for row in rows]
        session.add_all(made)
        session.flush()
        return {c.external_id or "": c.id for c in made}


def links_in(message: Message) -> tuple[str, str]:
    """(text body, html body) of a multipart/alternative message."""
    text = html = ""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            text = part.get_payload(decode=True).decode()  # type: ignore[union-attr]
        elif part.get_content_type() == "text/html":
            html = part.get_payload(decode=True).decode()  # type: ignore[union-attr]
    return text, html
