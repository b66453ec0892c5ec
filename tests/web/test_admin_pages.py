from __future__ import annotations

import re
from collections.abc import Callable

from sqlalchemy import select

from cem.admin import service as admin_service
from cem.jobs.models import Job
from cem.jobs.queue import enqueue
from tests.conftest import Workspace
from tests.web.helpers import WebUser, login


def _members(workspace: Workspace) -> dict[str, str]:
    with workspace.db.unit_of_work(readonly=True) as session:
        return {u.email: role for u, role in admin_service.list_members(session, workspace_id=workspace.id)}


def _dead_job(workspace: Workspace) -> int:
    with workspace.db.unit_of_work() as session:
        job = enqueue(session, "jobs.purge_finished", workspace_id=workspace.id)
        job.status, job.attempts, job.last_error = "dead", 5, "RuntimeError: <b>boom</b>"
        done = enqueue(session, "jobs.purge_finished", workspace_id=workspace.id)
        done.status = "done"
        return job.id


def test_only_admins_open_admin_pages(web: Callable[[str], WebUser]) -> None:
    for role in ("viewer", "agent", "analyst"):
        user = web(role)
        assert user.get("/admin").status_code == 403, role
        assert (
            user.post(
                "/admin/members", {"email": "x@acme.example", "role": "admin", "password": "long-enough-pw"}
            ).status_code
            == 403
        )
    page = web("admin").get("/admin")
    assert page.status_code == 200
    assert page.text.count('data-testid="member-row"') == 4


def test_add_member_change_role_and_keep_one_admin(
    web: Callable[[str], WebUser], workspace: Workspace, app: object
) -> None:
    admin = web("admin")
    r = admin.post(
        "/admin/members", {"email": "New@Acme.example", "name": "Nia", "password": "a-long-password", "role": "agent"}
    )
    assert r.status_code == 303 and r.headers["location"] == "/admin?ok=member"
    assert "Member saved." in admin.get(r.headers["location"]).text
    assert _members(workspace)["new@acme.example"] == "agent"
    assert login(app, "new@acme.example", "a-long-password").get("/").status_code == 200
    bad = admin.post("/admin/members", {"email": "not-an-email", "password": "a-long-password", "role": "agent"})
    assert bad.status_code == 422 and "is not an email address" in bad.text
    weak = admin.post("/admin/members", {"email": "weak@acme.example", "password": "short", "role": "agent"})
    assert weak.status_code == 422 and "password needs at least" in weak.text
    unknown_role = admin.post(
        "/admin/members", {"email": "r@acme.example", "password": "a-long-password", "role": "god"}
    )
    assert unknown_role.status_code == 422 and "Unknown role" in unknown_role.text
    assert set(_members(workspace)) == {f"{r}@acme.example" for r in ("admin", "analyst", "agent", "viewer", "new")}
    with workspace.db.unit_of_work(readonly=True) as session:
        ids = {u.email: u.id for u, _ in admin_service.list_members(session, workspace_id=workspace.id)}
    assert admin.post(f"/admin/members/{ids['viewer@acme.example']}/role", {"role": "analyst"}).status_code == 303
    assert _members(workspace)["viewer@acme.example"] == "analyst"
    last = admin.post(f"/admin/members/{ids['admin@acme.example']}/role", {"role": "viewer"})
    assert last.status_code == 409 and "last admin" in last.text
    assert _members(workspace)["admin@acme.example"] == "admin"


def test_token_secret_shown_once_then_revoked(web: Callable[[str], WebUser], workspace: Workspace) -> None:
    admin = web("admin")
    r = admin.post("/admin/tokens", {"name": "ETL", "role": "analyst", "expires_in_days": "30"})
    assert r.status_code == 201
    secret = re.search(r'data-testid="token-secret">([^<]+)<', r.text)
    assert secret
    token = secret.group(1)
    assert admin.client.get("/api/v1/me", headers={"authorization": f"Bearer {token}"}).status_code == 200
    later = admin.get("/admin").text
    assert token not in later and token[:10] in later  # only the prefix is listed
    for data, message in (
        ({"name": "x", "role": "analyst", "expires_in_days": "soon"}, "whole number of days"),
        ({"name": "x", "role": "analyst", "expires_in_days": "0"}, "between 1 and 3650"),
        ({"name": "x", "role": "root"}, "Unknown role"),
        ({"name": "  ", "role": "viewer"}, "needs a name"),
    ):
        bad = admin.post("/admin/tokens", data)
        assert bad.status_code == 422 and message in bad.text, data
    with workspace.db.unit_of_work(readonly=True) as session:
        tokens = admin_service.list_tokens(session, workspace_id=workspace.id)
    assert [t.name for t in tokens] == ["ETL"]
    assert admin.post(f"/admin/tokens/{tokens[0].id}/revoke").status_code == 303
    assert admin.client.get("/api/v1/me", headers={"authorization": f"Bearer {token}"}).status_code == 401
    assert admin.post("/admin/tokens/99999/revoke").status_code == 404


def test_dead_letters_filter_and_retry(web: Callable[[str], WebUser], workspace: Workspace) -> None:
    job_id = _dead_job(workspace)
    admin = web("admin")
    everything = admin.get("/admin").text
    assert everything.count('data-testid="job-row"') == 2
    dead = admin.get("/admin?jobs=dead").text
    assert re.findall(r'data-testid="job-row" data-status="(\w+)"', dead) == ["dead"]
    assert "&lt;b&gt;boom&lt;/b&gt;" in dead
    r = admin.post(f"/admin/jobs/{job_id}/retry")
    assert r.status_code == 303 and r.headers["location"] == "/admin?jobs=dead&ok=retried"
    after = admin.get(r.headers["location"]).text
    assert "Job queued again." in after and 'data-testid="jobs-empty"' in after
    with workspace.db.unit_of_work(readonly=True) as session:
        job = session.scalars(select(Job).where(Job.id == job_id)).one()
        assert (job.status, job.attempts) == ("queued", 0)
    again = admin.post(f"/admin/jobs/{job_id}/retry")
    assert again.status_code == 409 and "only dead jobs can be retried" in again.text
    audit = admin.get("/admin").text
    assert "job.retry" in audit and 'data-testid="audit-row"' in audit


def test_admin_posts_without_csrf_are_refused(web: Callable[[str], WebUser], workspace: Workspace) -> None:
    job_id = _dead_job(workspace)
    admin = web("admin")
    attempts = [
        ("/admin/members", {"email": "c@acme.example", "password": "a-long-password", "role": "admin"}),
        ("/admin/tokens", {"name": "sneaky", "role": "admin"}),
        (f"/admin/jobs/{job_id}/retry", {}),
    ]
    for url, data in attempts:
        assert admin.post(url, data, csrf=False).status_code == 403, url
        assert admin.post(url, {**data, "csrf_token": "forged"}, csrf=False).status_code == 403, url
    assert "c@acme.example" not in _members(workspace)
    with workspace.db.unit_of_work(readonly=True) as session:
        assert admin_service.list_tokens(session, workspace_id=workspace.id) == []
        assert session.get(Job, job_id).status == "dead"  # type: ignore[union-attr]


def test_every_page_renders_for_a_viewer(web: Callable[[str], WebUser], workspace: Workspace) -> None:
    from tests.web.helpers import seed_customer, seed_journey

    ids = seed_journey(workspace.db, workspace.principal())
    cid = seed_customer(workspace.db, workspace.principal())
    viewer = web("viewer")
    for url in ("/", "/customers", f"/customers/{cid}", "/journeys", f"/journeys/{ids['journey']}", "/feedback"):
        r = viewer.get(url)
        assert r.status_code == 200, url
        assert "<title>" in r.text and 'href="/static/css/cem.css"' in r.text
