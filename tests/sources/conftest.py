"""A real HTTP server (uvicorn on a free loopback port, in a thread) for the inbound webhook tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cem.app import create_app
from cem.config import Settings
from cem.db.session import Database
from tests.conftest import Workspace

REVIEW_MAPPING: dict[str, Any] = {
    "submission_id": "review.id",
    "collected_at": "review.createdAt",
    "customer": {
        "external_id": "consumer.id",
        "email": "consumer.email",
        "name": "consumer.displayName",
        "attributes": {"country": "consumer.countryCode"},
    },
    "language": "review.language",
    "metadata": {"title": "review.title", "tags": "review.tags"},
    "fields": [
        {"path": "review.stars", "field_id": "stars", "field_type": "rating", "label": "Stars"},
        {"path": "review.text", "field_id": "text", "field_type": "text", "label": "Review"},
    ],
}


def serve(app: FastAPI) -> Iterator[str]:
    """Run `app` with uvicorn on 127.0.0.1:<free port> until the generator is closed."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


@pytest.fixture(scope="session")
def live_url(app: FastAPI) -> Iterator[str]:
    """Base URL of the test app served over real HTTP."""
    yield from serve(app)


@pytest.fixture(scope="session")
def small_live_url(settings: Settings, db: Database) -> Iterator[str]:
    """The same database behind an app with tiny body and batch limits."""
    small = settings.model_copy(update={"max_body_bytes": 4096, "max_bulk_records": 3})
    yield from serve(create_app(small, db=db))


@pytest.fixture
def http(live_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_url, timeout=30) as client:
        yield client


@dataclass
class Source:
    id: int
    key: str
    secret: str
    path: str  # /api/v1/hooks/<slug>/<key>


@pytest.fixture
def make_source(admin_api: TestClient, workspace: Workspace) -> Callable[..., Source]:
    """Create a source through the management API; returns its id, key, secret and inbound path."""

    def make(key: str = "reviews", mapping: dict[str, Any] | None = None, source_type: str = "review") -> Source:
        body = {"key": key, "name": f"{key} source", "source_type": source_type, "mapping": mapping or REVIEW_MAPPING}
        r = admin_api.post("/api/v1/sources", json=body)
        assert r.status_code == 201, r.text
        data = r.json()
        path = f"/api/v1/hooks/{workspace.slug}/{key}"
        assert data["inbound_url"].endswith(path)
        return Source(id=data["id"], key=key, secret=data["secret"], path=path)

    return make
