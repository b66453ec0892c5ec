"""Two people with data in every personal table: Ann (to be erased) and Joann (must survive).

Joann's address contains Ann's (`joann@example.com` ends with `ann@example.com`), so erasure that
matched substrings instead of whole addresses would damage her data.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import JSON, String, Text, cast, func, select, text
from sqlalchemy.orm import Session

from cem.admin import service as admin_service
from cem.auth import audit, credentials
from cem.auth.models import User, Workspace
from cem.auth.permissions import permissions_for
from cem.auth.principal import Principal
from cem.db.base import Base
from cem.db.session import Database
from cem.imports.models import ImportRun
from cem.jobs.models import Job, JobEffect
from tests.conftest import PASSWORD
from tests.conftest import Workspace as WorkspaceFixture

ANN = "ann@example.com"
JOANN = "joann@example.com"


def whole(email: str) -> re.Pattern[str]:
    """The address as a whole word (independent of the code under test)."""
    return re.compile(rf"(?<![\w.+-]){re.escape(email)}(?![\w-]|\.\w)", re.IGNORECASE)


def traces(db: Database, needle: str) -> dict[str, int]:
    """Rows per table whose text or JSON columns contain `needle` as a whole address, across all tables."""
    regex = whole(needle)
    found: dict[str, int] = {}
    with db.unit_of_work(readonly=True) as session:
        for table in Base.metadata.sorted_tables:
            cols = [c for c in table.columns if isinstance(c.type, String | Text | JSON)]
            if not cols:
                continue
            # Compare in Python with whole-address boundaries; case may differ.
            for row in session.execute(select(*(cast(c, Text) for c in cols))):
                if any(v is not None and regex.search(str(v)) for v in row):
                    found[table.name] = found.get(table.name, 0) + 1
    return found


def fts_hits(session: Session, word: str) -> int:
    """Feedback rows the database's full-text index finds for `word` (SQLite FTS5 or PostgreSQL GIN)."""
    if session.get_bind().dialect.name == "postgresql":
        sql = "SELECT count(*) FROM feedback_record WHERE to_tsvector('simple', cem_fts_text(value_text)) @@ to_tsquery('simple', :w)"
    else:
        sql = "SELECT count(*) FROM feedback_fts WHERE feedback_fts MATCH :w"
    return int(session.execute(text(sql), {"w": word}).scalar_one())


def _feedback(email: str, name: str, submission: str, words: str) -> list[dict[str, Any]]:
    base = {"source_type": "survey", "source_name": "nps-q1", "submission_id": submission}
    customer = {"external_id": f"ext-{submission}", "email": email, "name": name, "attributes": {"plan": "pro"}}
    return [
        {**base, "customer": customer, "field_id": "score", "field_type": "nps", "value": 9},
        {**base, "customer": customer, "field_id": "why", "field_type": "text", "value": words},
    ]


@dataclass
class People:
    workspace: WorkspaceFixture
    ann_user_id: int
    ann_token: str
    joann_token: str


def _user_principal(session: Session, ws_id: int, email: str) -> Principal:
    user = session.scalars(select(User).where(User.email == email)).one()
    return Principal(ws_id, "analyst", "user", user.id, email, permissions_for("analyst"))


def _seed_rows(db: Database, ws_id: int) -> tuple[int, str, str]:
    with db.unit_of_work() as session:
        ws = session.get(Workspace, ws_id)
        assert ws is not None
        tokens = []
        for email, name in ((ANN, "Ann Lee"), (JOANN, "Joann Roe")):
            admin_service.create_user(session, email=email, password=PASSWORD, name=name, workspace=ws, role="analyst")
            actor = _user_principal(session, ws_id, email)
            tokens.append(admin_service.create_token(session, actor=actor, name="laptop", role="analyst").secret)
            audit.record(session, actor, "customer.update", entity_type="customer", entity_id=1)
            credentials.login(session, email=email, password=PASSWORD, workspace_slug=None, hours=1)
            session.add(
                ImportRun(
                    workspace_id=ws_id,
                    target="feedback",
                    filename="upload.csv",
                    errors=[{"row": 3, "msg": f"duplicate email {email.upper()}"}],
                    message="done",
                    created_by=email,
                )
            )
            session.add(Job(workspace_id=ws_id, name="mail.send", args={"to": email}, last_error=f"bounce {email}"))
            session.add(JobEffect(key=f"mail.sent:{email}"))
        ann_id = _user_principal(session, ws_id, ANN).actor_id
        assert ann_id is not None
        return ann_id, tokens[0], tokens[1]


@pytest.fixture
def people(workspace: WorkspaceFixture, admin_api: TestClient) -> People:
    ann_id, ann_token, joann_token = _seed_rows(workspace.db, workspace.id)
    for email, name, sub, words in (
        (ANN, "Ann Lee", "a1", "zebrafish delivery was late"),
        (JOANN, "Joann Roe", "j1", "kangaroo support was great"),
    ):
        assert admin_api.post("/api/v1/feedback/bulk", json=_feedback(email, name, sub, words)).status_code == 200
        event = {"customer": {"email": email}, "type": "login", "occurred_at": "2024-05-01T10:00:00Z"}
        assert admin_api.post("/api/v1/events", json=event).status_code == 200
    # A record of someone else quoting Ann's address in free text.
    quote = {
        "source_type": "ticket",
        "source_name": "desk",
        "submission_id": "t1",
        "field_id": "body",
        "field_type": "text",
        "value": f"Please forward to {ANN} or {JOANN}",
    }
    assert admin_api.post("/api/v1/feedback", json=quote).status_code == 200
    return People(workspace=workspace, ann_user_id=ann_id, ann_token=ann_token, joann_token=joann_token)


@pytest.fixture
def count_rows(db: Database) -> Callable[[str], int]:
    def count(table: str) -> int:
        with db.unit_of_work(readonly=True) as session:
            return int(session.scalar(select(func.count()).select_from(Base.metadata.tables[table])) or 0)

    return count
