"""Fixtures for closed-loop tests: a controllable clock shared by the loop and the worker, the real SMTP server
of the distribution tests, users by role, and an agent token that belongs to the agent user."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cem.admin import service as admin_service
from cem.auth.models import User
from cem.auth.permissions import permissions_for
from cem.auth.principal import Principal
from cem.cases import clock as loop_clock
from cem.db.session import Database
from cem.distribution import clock as distribution_clock
from cem.jobs.worker import Worker
from tests.conftest import Workspace
from tests.distribution.conftest import Clock, Inbox, smtp  # noqa: F401  (the real SMTP fixture)

__all__ = ["Inbox"]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Starts a minute after the wall clock (so jobs queued "now" are due); tests move it."""
    c = Clock(datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1))
    monkeypatch.setattr(loop_clock, "now", c)
    monkeypatch.setattr(distribution_clock, "now", c)
    return c


@pytest.fixture
def run_jobs(db: Database, clock: Clock) -> Callable[[], int]:
    return lambda: Worker(db, clock=clock, poll_seconds=0.01).run_until_idle()


def user_id(db: Database, email: str) -> int:
    with db.unit_of_work(readonly=True) as session:
        found = session.scalar(select(User.id).where(User.email == email))
    assert found is not None
    return int(found)


@pytest.fixture
def users(db: Database, workspace: Workspace) -> dict[str, int]:
    return add_users(db, workspace)


def add_users(db: Database, workspace: Workspace) -> dict[str, int]:
    """The workspace's users by role, plus a second agent ("agent2")."""
    with db.unit_of_work() as session:
        ws = admin_service.ensure_workspace(session, slug="acme", name="Acme")
        admin_service.create_user(
            session, email="agent2@acme.example", password="correct-horse-battery", workspace=ws, role="agent"
        )
    ids = {role: user_id(db, workspace.user_email(role)) for role in ("admin", "analyst", "agent", "viewer")}
    ids["agent2"] = user_id(db, "agent2@acme.example")
    return ids


@pytest.fixture
def as_user(db: Database, workspace: Workspace, users: dict[str, int]) -> Callable[[str], TestClient]:
    """`as_user("agent")`: a client with an API token owned by that user (tokens of the CLI belong to nobody)."""

    def make(who: str) -> TestClient:
        role = "agent" if who.startswith("agent") else who
        owner = Principal(
            workspace_id=workspace.id,
            role=role,
            actor_type="user",
            actor_id=users[who],
            label=f"{who}@acme.example",
            permissions=permissions_for(role),
        )
        with db.unit_of_work() as session:
            secret = admin_service.create_token(session, actor=owner, name=f"t-{who}", role=role).secret
        c = TestClient(workspace.client.app)
        c.headers["Authorization"] = f"Bearer {secret}"
        return c

    return make


def nps_detractor_rule(**extra: Any) -> dict[str, Any]:
    return {
        "name": "Detractors",
        "condition": {"op": "and", "conditions": [{"field": "score", "field_type": "nps", "op": "<=", "value": 6}]},
        "actions": {"open_case": {"priority": "high"}},
        **extra,
    }


def nps_record(submission: str, score: int, *, customer: str | None = "c1", **extra: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "source_type": "survey",
        "source_name": "relationship",
        "submission_id": submission,
        "field_id": "nps",
        "field_type": "nps",
        "value": score,
        **extra,
    }
    if customer is not None:
        record["customer"] = {"external_id": customer, "email": f"{customer}@example.org"}
    return record
