"""Fixtures for webhook tests: a real HTTP receiver on loopback, settings that allow it, a controllable clock."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from standardwebhooks.webhooks import Webhook

from cem.config import Settings
from cem.db.base import utcnow
from cem.db.session import Database
from cem.jobs.worker import Worker
from cem.webhooks import clock as webhook_clock
from cem.webhooks import events

TEST_TIMEOUT = 2.0  # short, yet roomy enough for a loaded test machine


@dataclass
class Answer:
    """How the receiver answers one request."""

    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    hold: threading.Event | None = None  # answer only once this is set (a worker killed mid-request)


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    def verified(self, secret: str) -> Any:
        """The payload, after the Standard Webhooks package's own verification (raises if the signature is wrong)."""
        return Webhook(secret).verify(self.body, self.headers)


@dataclass
class Receiver:
    url: str
    plan: list[Answer] = field(default_factory=list)  # consumed in order; then 200s
    requests: list[Received] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    def answer(self) -> Answer:
        return self.plan.pop(0) if self.plan else Answer()


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            receiver.requests.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
            receiver.arrived.set()
            answer = receiver.answer()
            if answer.hold is not None:
                answer.hold.wait(10)
            if answer.delay:
                threading.Event().wait(answer.delay)
            try:
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)
            except OSError:  # the sender gave up (timeout) or died
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP server on a free loopback port, answering as its `plan` says."""
    made = Receiver(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(made))
    server.daemon_threads = True
    made.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield made
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def loopback_allowed(settings: Settings) -> Iterator[Settings]:
    """Tests allow loopback receivers and wait 2 s, not 5 s, for an answer."""
    saved = (settings.webhooks_allow_private, settings.webhooks_timeout_seconds)
    settings.webhooks_allow_private, settings.webhooks_timeout_seconds = True, TEST_TIMEOUT
    events._cache.clear()
    try:
        yield settings
    finally:
        settings.webhooks_allow_private, settings.webhooks_timeout_seconds = saved
        events._cache.clear()


class Clock:
    """The webhooks clock and the worker's, moved together."""

    def __init__(self) -> None:
        self.now = utcnow() + timedelta(seconds=60)  # jobs enqueued at the real now are due

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    made = Clock()
    monkeypatch.setattr(webhook_clock, "now", made)
    return made


@pytest.fixture
def run_jobs(db: Database, clock: Clock) -> Callable[[], int]:
    return lambda: Worker(db, clock=clock).run_until_idle()


@pytest.fixture
def subscribe(admin_api: TestClient, loopback_allowed: Settings) -> Callable[..., dict[str, Any]]:
    """Create a subscription through the API; returns its JSON (with the secret)."""

    def make(url: str, event_types: list[str] | None = None, **extra: Any) -> dict[str, Any]:
        body = {"url": url, "event_types": event_types or ["feedback.created"], **extra}
        response = admin_api.post("/api/v1/webhooks", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    return make
