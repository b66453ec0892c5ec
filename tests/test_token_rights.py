"""A token never holds more than it was given, nor more than its owner holds now.

A token's effective permissions are its scopes intersected with its owner's current role in the workspace,
checked at use: a demoted owner's tokens lose rights at once (cached or not), a removed member's tokens stop.
A token can only mint tokens whose permissions it holds itself.
"""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select

from cem.admin import service as admin_service
from cem.auth.models import ApiToken, Membership, User
from cem.auth.permissions import Permission, permissions_for
from cem.auth.principal import Principal
from cem.db.session import Database
from tests.conftest import Workspace


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _token_count(db: Database) -> int:
    with db.unit_of_work(readonly=True) as session:
        return int(session.scalar(select(func.count()).select_from(ApiToken)) or 0)


def _user_id(db: Database, email: str) -> int:
    with db.unit_of_work(readonly=True) as session:
        user_id = session.scalar(select(User.id).where(User.email == email))
    assert user_id is not None
    return int(user_id)


def _users_token(workspace: Workspace, role: str, scopes: list[str] | None = None) -> str:
    """A token issued by the workspace's `role` user themself (so it has an owner)."""
    email = workspace.user_email(role)
    user_id = _user_id(workspace.db, email)
    with workspace.db.unit_of_work() as session:
        me = Principal(workspace.id, role, "user", user_id, email, permissions_for(role))
        return admin_service.create_token(session, actor=me, name=f"{role}-own", role=role, scopes=scopes).secret


def test_an_admin_scoped_token_cannot_mint_a_wider_token(workspace: Workspace, client: TestClient) -> None:
    scoped = _bearer(workspace.token("admin", scopes=[Permission.admin.value]))
    assert client.get("/api/v1/feedback", headers=scoped).status_code == 403
    before = _token_count(workspace.db)
    for wanted in (
        {"name": "all", "role": "admin"},  # unscoped admin: all 11 permissions
        {"name": "read", "role": "admin", "scopes": [Permission.read.value]},
        {"name": "pair", "role": "admin", "scopes": [Permission.admin.value, Permission.pii.value]},
    ):
        r = client.post("/api/v1/tokens", json=wanted, headers=scoped)
        assert r.status_code == 403, (wanted, r.text)
        body = r.json()
        assert body["error"] == "forbidden" and body["status"] == 403 and "more rights" in body["detail"]
    assert _token_count(workspace.db) == before  # nothing stored
    same = client.post(
        "/api/v1/tokens", json={"name": "same", "role": "admin", "scopes": [Permission.admin.value]}, headers=scoped
    )
    assert same.status_code == 201, same.text
    assert client.get("/api/v1/me", headers=_bearer(same.json()["token"])).json()["permissions"] == ["admin"]


def test_a_demoted_admins_tokens_lose_admin_rights_at_once(
    workspace: Workspace, client: TestClient, admin_api: TestClient
) -> None:
    own = _bearer(_users_token(workspace, "admin"))
    # A token minted by the admin's token before the demotion answers to the same person.
    child = client.post("/api/v1/tokens", json={"name": "child", "role": "admin"}, headers=own)
    assert child.status_code == 201, child.text
    minted = _bearer(child.json()["token"])
    for headers in (own, minted):
        assert client.get("/api/v1/members", headers=headers).status_code == 200  # cached from here on
    admin_id = _user_id(workspace.db, workspace.user_email("admin"))
    demoted = admin_api.post("/api/v1/members", json={"email": workspace.user_email("admin"), "role": "viewer"})
    assert demoted.status_code == 201, demoted.text
    before = _token_count(workspace.db)
    for headers in (own, minted):
        assert client.get("/api/v1/members", headers=headers).status_code == 403
        assert client.get("/api/v1/audit", headers=headers).status_code == 403
        me = client.get("/api/v1/me", headers=headers).json()
        assert (me["role"], me["permissions"]) == ("viewer", ["data:read"])
        r = client.post("/api/v1/tokens", json={"name": "more", "role": "admin"}, headers=headers)
        assert r.status_code == 403
        assert client.get("/api/v1/customers", headers=headers).status_code == 200  # what a viewer may do
    assert _token_count(workspace.db) == before
    # Promoted back, the same tokens act as admin again: the role is read at use, not frozen at issue.
    with workspace.db.unit_of_work() as session:
        admin_service.change_role(session, actor=workspace.principal(), user_id=admin_id, role="admin")
    assert client.get("/api/v1/members", headers=own).status_code == 200


def test_a_removed_members_tokens_get_401(workspace: Workspace, client: TestClient, admin_api: TestClient) -> None:
    analyst = _bearer(_users_token(workspace, "analyst"))
    assert client.get("/api/v1/me", headers=analyst).status_code == 200  # cached
    analyst_id = _user_id(workspace.db, workspace.user_email("analyst"))
    assert admin_api.delete(f"/api/v1/members/{analyst_id}").status_code == 204
    r = client.get("/api/v1/me", headers=analyst)
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    assert analyst_id not in [m["id"] for m in admin_api.get("/api/v1/members").json()]
    assert admin_api.delete(f"/api/v1/members/{analyst_id}").status_code == 404


def test_a_membership_deleted_elsewhere_stops_the_token(workspace: Workspace, client: TestClient, db: Database) -> None:
    client.app.state.token_cache.ttl = 0  # type: ignore[attr-defined]  # as after the cache bound has passed
    agent = _bearer(_users_token(workspace, "agent"))
    assert client.get("/api/v1/me", headers=agent).status_code == 200
    agent_id = _user_id(db, workspace.user_email("agent"))
    with db.unit_of_work() as session:  # as another process (or a database tool) would: straight to the rows
        session.execute(delete(Membership).where(Membership.user_id == agent_id))
    try:
        assert client.get("/api/v1/me", headers=agent).status_code == 401
    finally:
        client.app.state.token_cache.ttl = client.app.state.settings.token_cache_seconds  # type: ignore[attr-defined]


def test_the_last_admin_cannot_be_removed(workspace: Workspace, admin_api: TestClient) -> None:
    admin_id = _user_id(workspace.db, workspace.user_email("admin"))
    r = admin_api.delete(f"/api/v1/members/{admin_id}")
    assert r.status_code == 409 and r.json()["error"] == "conflict"


def test_cli_tokens_keep_their_declared_role(workspace: Workspace, client: TestClient) -> None:
    """A token without an owner (issued by `cem user token`) is not tied to anyone's membership."""
    cli_token = _bearer(workspace.token("admin"))
    admin_id = _user_id(workspace.db, workspace.user_email("admin"))
    with workspace.db.unit_of_work() as session:
        admin_service.change_role(
            session,
            actor=workspace.principal(),
            user_id=_user_id(workspace.db, workspace.user_email("analyst")),
            role="admin",
        )
        admin_service.change_role(session, actor=workspace.principal(), user_id=admin_id, role="viewer")
    assert client.get("/api/v1/members", headers=cli_token).status_code == 200
