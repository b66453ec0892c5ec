"""`GET /api/v1/feedback/export.csv` over real HTTP (uvicorn on loopback): a bad parameter is an error response
before anything is streamed, and a failure mid-stream is visible to the client (issue 12, item 6)."""

from __future__ import annotations

import csv
import io
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy.exc import OperationalError

from cem.db.session import Database
from cem.feedback import service as feedback_service
from cem.feedback.api import EXPORT_CHUNK_CHARS
from cem.feedback.schemas import FeedbackIn
from tests.conftest import Workspace

EXPORT = "/api/v1/feedback/export.csv"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(app: object) -> Iterator[str]:
    """The test app served by uvicorn in a thread; yields its base URL."""
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical")  # type: ignore[arg-type]
    served = uvicorn.Server(config)
    thread = threading.Thread(target=served.run, name="export-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not served.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    served.should_exit = True
    thread.join(timeout=10)


def _store(db: Database, workspace: Workspace, count: int) -> None:
    items = [
        FeedbackIn(
            source_type="api",
            source_name="web",
            submission_id=f"s{n}",
            field_id="comment",
            field_type="text",
            value=f"comment {n} " + "x" * 200,
        )
        for n in range(count)
    ]
    with db.unit_of_work() as session:
        feedback_service.ingest_feedback(session, actor=workspace.principal(), records=items)


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"touchpoint_id": str(2**63)}, 422),
        ({"customer_id": str(2**63)}, 422),
        ({"stage_id": "0"}, 422),
        ({"score_min": "high"}, 422),
        ({"date_from": "yesterday"}, 422),
        ({"source_type": "fax"}, 422),
    ],
)
def test_a_bad_parameter_is_refused_before_streaming(
    server: str, db: Database, workspace: Workspace, params: dict[str, str], status: int
) -> None:
    _store(db, workspace, 3)
    r = httpx.get(server + EXPORT, params=params, headers=workspace.headers("admin"))
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) >= {"error", "detail", "status"} and body["status"] == status
    assert "transfer-encoding" not in r.headers  # a whole error body, not a started stream


def test_a_good_export_streams_complete(server: str, db: Database, workspace: Workspace) -> None:
    _store(db, workspace, 600)  # several chunks
    with httpx.stream("GET", server + EXPORT, headers=workspace.headers("admin")) as r:
        assert r.status_code == 200 and r.headers["transfer-encoding"] == "chunked"
        text = r.read().decode()
    assert len(text) > 2 * EXPORT_CHUNK_CHARS
    assert len(list(csv.reader(io.StringIO(text)))) == 601 and "EXPORT FAILED" not in text


def test_a_failure_mid_stream_is_visible(
    server: str, db: Database, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database fails after the first chunk went out: the client gets an incomplete chunked body (an error
    in every HTTP client) whose last line says the file is incomplete, never a clean-looking short file."""
    _store(db, workspace, 600)
    real_rows = feedback_service.export_rows

    def failing_rows(*args: Any, **kwargs: Any) -> Iterator[list[Any]]:
        for n, row in enumerate(real_rows(*args, **kwargs)):
            if n == 400:  # past the first chunk (about 220 rows)
                raise OperationalError("SELECT ...", {}, Exception("disk I/O error"))
            yield row

    monkeypatch.setattr(feedback_service, "export_rows", failing_rows)
    received = bytearray()
    with httpx.stream("GET", server + EXPORT, headers=workspace.headers("admin")) as r:
        assert r.status_code == 200  # already sent with the first chunk
        with pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"):
            for chunk in r.iter_raw():
                received.extend(chunk)
    text = received.decode()
    assert text.count("\n") > 200  # the first chunk did arrive
    assert text.rstrip().splitlines()[-1].startswith("# EXPORT FAILED: this file is incomplete (OperationalError)")


def test_a_failure_before_the_first_chunk_is_an_error_response(
    server: str, db: Database, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    _store(db, workspace, 3)

    def failing_rows(*args: Any, **kwargs: Any) -> Iterator[list[Any]]:
        raise OperationalError("SELECT ...", {}, Exception("disk I/O error"))
        yield []  # pragma: no cover - makes this a generator

    monkeypatch.setattr(feedback_service, "export_rows", failing_rows)
    r = httpx.get(server + EXPORT, headers=workspace.headers("admin"))
    assert r.status_code == 500 and r.json()["error"] == "internal_error"
