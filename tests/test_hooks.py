"""The hook contract a new domain plugs into (the closed loop, customer analytics): one extra plugin, registered the
way a composition root registers the built-ins, sees every ingest path through the same hooks and the same typed row.

Each path writes through the one feedback writer, so each one calls `feedback_stored` inside its own unit of work:
a plugin that raises there makes the write fail as a whole (nothing half-stored).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cem import hooks
from cem.db.session import Database
from cem.feedback.models import FeedbackRecord
from cem.hooks.rows import FeedbackRow
from cem.jobs.worker import Worker
from tests.conftest import Workspace
from tests.responses.hosted_helpers import post_page, publish

RECORD = {
    "source_type": "review",
    "source_name": "shop",
    "submission_id": "r1",
    "customer": {"external_id": "c1"},
    "field_id": "stars",
    "field_type": "rating",
    "value": 4,
}
SURVEY: dict[str, Any] = {
    "title": {"en": "Hooks"},
    "pages": [
        {"id": "p1", "questions": [{"id": "nps", "type": "nps", "required": True, "headline": {"en": "Likely?"}}]}
    ],
    "endings": [{"id": "thanks", "headline": {"en": "Thanks!"}}],
}


class Recorder:
    """A third-party plugin: it keeps what it was told, and can refuse (raise) to prove it runs inside the write."""

    def __init__(self) -> None:
        self.stored: list[tuple[int, list[FeedbackRow]]] = []
        self.events: list[tuple[int, list[dict[str, Any]]]] = []
        self.refuse = False

    @hooks.hookimpl
    def feedback_stored(self, session: Session, workspace_id: int, rows: Sequence[FeedbackRow]) -> None:
        assert session.in_transaction()  # called inside the caller's unit of work
        if self.refuse:
            raise RuntimeError("plugin refused")
        self.stored.append((workspace_id, list(rows)))

    @hooks.hookimpl
    def events_ingested(self, workspace_id: int, rows: Sequence[dict[str, Any]]) -> None:
        self.events.append((workspace_id, list(rows)))

    def sources(self) -> list[tuple[str, str, str]]:
        return [(r.source_type, r.source_name, r.field_id) for _, rows in self.stored for r in rows]


@pytest.fixture
def recorder(workspace: Workspace) -> Iterator[Recorder]:
    plugin = Recorder()
    pm = hooks.installed()
    pm.register(plugin)
    try:
        yield plugin
    finally:
        pm.unregister(plugin)


def stored_count(db: Database) -> int:
    with db.unit_of_work(readonly=True) as session:
        return int(session.scalar(select(func.count()).select_from(FeedbackRecord)) or 0)


def test_every_ingest_path_tells_plugins_what_it_stored(
    recorder: Recorder, workspace: Workspace, admin_api: TestClient, client: TestClient, db: Database
) -> None:
    assert admin_api.post("/api/v1/feedback", json=RECORD).status_code == 200
    bulk = [
        {**RECORD, "submission_id": "r2"},
        {**RECORD, "submission_id": "r3", "field_id": "comment", "field_type": "text", "value": "slow delivery"},
    ]
    assert admin_api.post("/api/v1/feedback/bulk", json=bulk).status_code == 200
    csv = "submission_id,nps\nf1,9\nf2,3\n"
    mapping = '{"submission_id": "submission_id", "fields": [{"column": "nps", "field_type": "nps"}]}'
    upload = admin_api.post("/api/v1/imports", files={"file": ("f.csv", csv, "text/csv")}, data={"mapping": mapping})
    assert upload.status_code == 202, upload.text
    Worker(db).run_until_idle()
    publish(db, workspace, SURVEY)
    page = client.get("/s/cx")
    assert post_page(client, "/s/cx", page.text, {"q_nps": "10"}).status_code in (200, 303)

    assert {ws for ws, _ in recorder.stored} == {workspace.id}
    seen = recorder.sources()
    assert ("review", "shop", "stars") in seen and ("review", "shop", "comment") in seen
    assert sum(1 for kind, name, _ in seen if (kind, name) == ("csv", "import")) == 2
    assert ("survey", "cx", "nps") in seen
    # One row per stored record: what plugins were told is what the store holds.
    assert len(
        {(r.source_type, r.source_name, r.submission_id, r.field_id) for _, rows in recorder.stored for r in rows}
    ) == stored_count(db)


def test_events_reach_plugins(recorder: Recorder, admin_api: TestClient, workspace: Workspace) -> None:
    event = {
        "customer": {"external_id": "c9"},
        "type": "purchase",
        "occurred_at": "2026-01-02T03:04:05Z",
        "value": 12.5,
    }
    assert admin_api.post("/api/v1/events", json=event).status_code == 200
    assert [(ws, [(r["type"], r["value"]) for r in rows]) for ws, rows in recorder.events] == [
        (workspace.id, [("purchase", 12.5)])
    ]


def test_a_failing_plugin_fails_the_write_as_a_whole(recorder: Recorder, admin_api: TestClient, db: Database) -> None:
    recorder.refuse = True
    with pytest.raises(RuntimeError, match="plugin refused"):
        admin_api.post("/api/v1/feedback", json=RECORD)
    assert stored_count(db) == 0  # the hook runs before the commit: nothing acknowledged, nothing kept
