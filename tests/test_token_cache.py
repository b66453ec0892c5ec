"""API-token principals are cached briefly; revocation and erasure in this process apply at once."""

from __future__ import annotations

import time
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from cem.admin import service as admin_service
from cem.auth.models import ApiToken, User
from cem.auth.permissions import permissions_for
from cem.auth.principal import Principal, system_principal
from cem.auth.security import digest
from cem.auth.token_cache import TokenCache, invalidate_after_commit
from cem.db.base import utcnow
from cem.db.session import Database
from tests.conftest import Workspace


def test_entries_expire_after_ttl_and_never_outlive_the_token() -> None:
    principal = system_principal(1, label="t")
    cache = TokenCache(ttl=0.05)
    cache.put("a", principal, None)
    cache.put("b", principal, utcnow() + timedelta(milliseconds=10))
    cache.put("c", principal, utcnow() - timedelta(seconds=1))
    assert cache.get("a") is principal and cache.get("c") is None
    time.sleep(0.02)
    assert cache.get("b") is None and cache.get("a") is principal
    time.sleep(0.05)
    assert cache.get("a") is None
    off = TokenCache(ttl=0)
    off.put("a", principal, None)
    assert off.get("a") is None


def test_invalidation_waits_for_commit(db: Database) -> None:
    cache = TokenCache(ttl=60)
    principal = system_principal(1, label="t")
    cache.put("k", principal, None)
    try:
        with db.unit_of_work() as session:
            invalidate_after_commit(session)
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    assert cache.get("k") is principal  # a rolled-back revocation changes nothing
    with db.unit_of_work() as session:
        invalidate_after_commit(session)
    assert cache.get("k") is None


def test_a_cached_token_is_refused_right_after_erasure(
    workspace: Workspace, admin_api: TestClient, db: Database
) -> None:
    email = workspace.user_email("agent")
    with db.unit_of_work() as session:
        user_id = session.scalar(select(User.id).where(User.email == email))
        agent = Principal(workspace.id, "agent", "user", user_id, email, permissions_for("agent"))
        secret = admin_service.create_token(session, actor=agent, name="mine", role="agent").secret
    headers = {"Authorization": f"Bearer {secret}"}
    assert admin_api.get("/api/v1/me", headers=headers).status_code == 200  # now cached
    erased = admin_api.post("/api/v1/privacy/erase", json={"email": email, "confirm": True})
    assert erased.status_code == 200, erased.text
    assert admin_api.get("/api/v1/me", headers=headers).status_code == 401


def test_other_processes_revocations_apply_within_the_ttl(
    workspace: Workspace, client: TestClient, db: Database
) -> None:
    secret = workspace.token("admin")
    headers = {"Authorization": f"Bearer {secret}"}
    client.app.state.token_cache.ttl = 0.2  # type: ignore[attr-defined]
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    with db.unit_of_work() as session:  # as another process would: straight to the database
        session.execute(update(ApiToken).where(ApiToken.token_hash == digest(secret)).values(revoked_at=utcnow()))
    time.sleep(0.25)
    assert client.get("/api/v1/me", headers=headers).status_code == 401
