"""Roles and access: every API route and page is classified and checked as every role.

The tables below (plus each domain's tests/<domain>/.../route_roles.py) are the contract. A route missing from them
fails the suite, so a new route must be classified (and is then called as viewer, agent, analyst and admin)
before it can ship.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select, update

from cem.auth.caller import SESSION_COOKIE
from cem.auth.models import ApiToken, AuditLog, WebSession
from cem.auth.permissions import ROLE_PERMISSIONS, Permission, Role
from cem.auth.security import digest
from cem.db.base import utcnow
from tests.conftest import PASSWORD, Workspace

PUBLIC = "public"  # no credentials needed (authenticated otherwise, e.g. by a webhook secret)
ANY = "any role"  # any authenticated principal of the workspace
R, W, J, IMP, S, E, A, P = (
    Permission.read,
    Permission.write,
    Permission.journeys,
    Permission.imports,
    Permission.sources,
    Permission.export,
    Permission.admin,
    Permission.privacy,
)
Rule = Permission | str

API: dict[tuple[str, str], Rule] = {
    ("GET", "/api/v1/customers"): R,
    ("POST", "/api/v1/customers"): W,
    ("POST", "/api/v1/customers/bulk"): W,
    ("GET", "/api/v1/customers/{customer_id}"): R,
    ("PATCH", "/api/v1/customers/{customer_id}"): W,
    ("GET", "/api/v1/customers/{customer_id}/events"): R,
    ("GET", "/api/v1/customers/{customer_id}/feedback"): R,
    ("POST", "/api/v1/events"): W,
    ("POST", "/api/v1/events/bulk"): W,
    ("POST", "/api/v1/feedback"): W,
    ("POST", "/api/v1/feedback/bulk"): W,
    ("GET", "/api/v1/feedback"): R,
    ("GET", "/api/v1/feedback/export.csv"): E,
    ("GET", "/api/v1/feedback/{record_id}"): R,
    ("GET", "/api/v1/metrics"): R,
    ("GET", "/api/v1/metrics/catalog"): R,
    ("GET", "/api/v1/journeys"): R,
    ("POST", "/api/v1/journeys"): J,
    ("GET", "/api/v1/journeys/{journey_id}"): R,
    ("PATCH", "/api/v1/journeys/{journey_id}"): J,
    ("POST", "/api/v1/journeys/{journey_id}/stages"): J,
    ("PUT", "/api/v1/journeys/{journey_id}/stages/order"): J,
    ("PATCH", "/api/v1/stages/{stage_id}"): J,
    ("POST", "/api/v1/stages/{stage_id}/touchpoints"): J,
    ("PUT", "/api/v1/stages/{stage_id}/touchpoints/order"): J,
    ("PATCH", "/api/v1/touchpoints/{touchpoint_id}"): J,
    ("POST", "/api/v1/imports"): IMP,
    ("POST", "/api/v1/imports/suggest-mapping"): IMP,
    ("GET", "/api/v1/imports"): R,
    ("GET", "/api/v1/imports/{run_id}"): R,
    ("GET", "/api/v1/imports/{run_id}/errors.csv"): R,
    ("POST", "/api/v1/imports/{run_id}/resume"): IMP,
    ("GET", "/api/v1/import-mappings"): R,
    ("POST", "/api/v1/import-mappings"): IMP,
    ("GET", "/api/v1/import-mappings/{mapping_id}"): R,
    ("PATCH", "/api/v1/import-mappings/{mapping_id}"): IMP,
    ("DELETE", "/api/v1/import-mappings/{mapping_id}"): IMP,
    ("GET", "/api/v1/sources"): S,
    ("POST", "/api/v1/sources"): S,
    ("GET", "/api/v1/sources/{source_id}"): S,
    ("PATCH", "/api/v1/sources/{source_id}"): S,
    ("DELETE", "/api/v1/sources/{source_id}"): S,
    ("POST", "/api/v1/sources/{source_id}/rotate-secret"): S,
    ("POST", "/api/v1/hooks/{workspace_slug}/{source_key}"): PUBLIC,  # authenticated by the source secret
    ("POST", "/api/v1/privacy/export"): P,
    ("POST", "/api/v1/privacy/erase"): P,
    ("GET", "/api/v1/me"): ANY,
    ("GET", "/api/v1/members"): A,
    ("POST", "/api/v1/members"): A,
    ("DELETE", "/api/v1/members/{user_id}"): A,
    ("GET", "/api/v1/tokens"): A,
    ("POST", "/api/v1/tokens"): A,
    ("DELETE", "/api/v1/tokens/{token_id}"): A,
    ("GET", "/api/v1/audit"): A,
    ("GET", "/api/v1/jobs"): A,
    ("GET", "/api/v1/jobs/{job_id}"): ANY,  # progress of a job the caller started (e.g. an import)
    ("POST", "/api/v1/jobs/{job_id}/retry"): A,
    ("GET", "/api/v1/clv/model"): R,
    ("GET", "/api/v1/clv/customers/{customer_id}"): R,
    ("GET", "/api/v1/clv/segments"): R,
    ("POST", "/api/v1/clv/score"): W,
    ("GET", "/api/v1/churn/model"): R,
    ("GET", "/api/v1/churn/customers/{customer_id}"): R,
    ("POST", "/api/v1/churn/score"): W,
}

PAGES: dict[tuple[str, str], Rule] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/docs"): PUBLIC,  # the API reference page; the OpenAPI it reads is public too
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): R,
    ("GET", "/"): R,
    ("GET", "/customers"): R,
    ("GET", "/customers/{customer_id}"): R,
    ("GET", "/journeys"): R,
    ("POST", "/journeys"): J,
    ("GET", "/journeys/{journey_id}"): R,
    ("POST", "/journeys/{journey_id}/edit"): J,
    ("POST", "/journeys/{journey_id}/archive"): J,
    ("POST", "/journeys/{journey_id}/stages"): J,
    ("POST", "/journeys/{journey_id}/stages/order"): J,
    ("POST", "/stages/{stage_id}/edit"): J,
    ("POST", "/stages/{stage_id}/archive"): J,
    ("POST", "/stages/{stage_id}/touchpoints"): J,
    ("POST", "/stages/{stage_id}/touchpoints/order"): J,
    ("POST", "/touchpoints/{touchpoint_id}/edit"): J,
    ("POST", "/touchpoints/{touchpoint_id}/archive"): J,
    ("GET", "/feedback"): R,
    ("GET", "/cases"): Permission.cases,
    ("POST", "/cases/bulk-assign"): Permission.cases,
    ("GET", "/cases/{case_id}"): Permission.cases,
    ("POST", "/cases/{case_id}/update"): Permission.cases,
    ("POST", "/cases/{case_id}/assign"): Permission.cases,
    ("POST", "/cases/{case_id}/notes"): Permission.cases,
    ("POST", "/cases/{case_id}/replies"): Permission.cases,
    ("POST", "/cases/{case_id}/close"): Permission.cases,
    ("GET", "/imports"): R,
    ("POST", "/imports"): IMP,
    ("GET", "/imports/{run_id}"): R,
    ("GET", "/imports/{run_id}/status"): R,
    ("POST", "/imports/{run_id}/resume"): IMP,
    ("GET", "/sources"): R,
    ("POST", "/sources"): S,
    ("GET", "/sources/{source_id}"): R,
    ("POST", "/sources/{source_id}/rotate"): S,
    ("POST", "/sources/{source_id}/active"): S,
    ("POST", "/sources/{source_id}/mapping"): S,
    ("GET", "/admin"): A,
    ("POST", "/admin/members"): A,
    ("POST", "/admin/members/{user_id}/role"): A,
    ("POST", "/admin/tokens"): A,
    ("POST", "/admin/tokens/{token_id}/revoke"): A,
    ("POST", "/admin/jobs/{job_id}/retry"): A,
}
PAGES.update(  # the closed loop's setup pages: alert rules, teams, SLA policies and calendars
    {
        ("GET", "/alert-rules"): Permission.loop,
        ("GET", "/alert-rules/new"): Permission.loop,
        ("POST", "/alert-rules/new"): Permission.loop,
        ("GET", "/alert-rules/{rule_id}"): Permission.loop,
        ("POST", "/alert-rules/{rule_id}"): Permission.loop,
        ("POST", "/alert-rules/{rule_id}/delete"): Permission.loop,
        ("GET", "/teams"): Permission.loop,
        ("POST", "/teams"): Permission.loop,
        ("POST", "/teams/{team_id}"): Permission.loop,
        ("POST", "/teams/{team_id}/delete"): Permission.loop,
        ("GET", "/slas"): Permission.loop,
        ("POST", "/slas"): Permission.loop,
        ("GET", "/slas/{policy_id}"): Permission.loop,
        ("POST", "/slas/{policy_id}"): Permission.loop,
        ("POST", "/slas/{policy_id}/delete"): Permission.loop,
        ("POST", "/slas/calendars"): Permission.loop,
        ("GET", "/slas/calendars/{calendar_id}"): Permission.loop,
        ("POST", "/slas/calendars/{calendar_id}"): Permission.loop,
        ("POST", "/slas/calendars/{calendar_id}/delete"): Permission.loop,
    }
)


def _merge_domain_tables() -> None:
    """Each domain may classify its own routes in tests/<domain>/.../route_roles.py (dicts API and PAGES)."""
    tests_dir = Path(__file__).parent
    for path in sorted(tests_dir.glob("**/route_roles.py")):
        parts = path.relative_to(tests_dir).with_suffix("").parts
        module = importlib.import_module(".".join(("tests", *parts)))
        for name, table in (("API", API), ("PAGES", PAGES)):
            extra: dict[tuple[str, str], Rule] = getattr(module, name, {})
            clash = set(extra) & set(table)
            assert not clash, f"{path}: routes classified twice: {sorted(clash)}"
            table.update(extra)


_merge_domain_tables()

ROLES = ("viewer", "agent", "analyst", "admin")
PARAM_VALUES = {"workspace_slug": "acme", "source_key": "no-such-source"}
UNKNOWN_ID = "999999"


# -- route discovery (shared with test_error_shape.py) -------------------------------------------


def walk_routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """Every APIRoute with its full path; FastAPI 0.163 wraps included routers in `_IncludedRouter`."""
    for route in routes:
        if hasattr(route, "original_router"):
            yield from walk_routes(route.original_router.routes, prefix + route.include_context.prefix)
        elif isinstance(route, APIRoute):
            yield prefix + route.path, route


def app_routes(app: FastAPI) -> dict[tuple[str, str], APIRoute]:
    """(METHOD, path) -> route for every API route and page of the app."""
    return {(m, path): route for path, route in walk_routes(list(app.routes)) for m in route.methods}


def api_routes(app: FastAPI) -> list[tuple[str, str]]:
    return sorted(k for k in app_routes(app) if k[1].startswith("/api/"))


def fill(path: str) -> str:
    """A concrete URL: string params get fixed values, ids an id no row has."""
    return re.sub(r"\{(\w+)\}", lambda m: PARAM_VALUES.get(m.group(1), UNKNOWN_ID), path)


def declared_permission(route: APIRoute) -> str | None:
    """The permission a route's dependencies require (set by `require()` / `page_permission()`)."""
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        found = getattr(dep.call, "required_permission", None)
        if found is not None:
            return str(found.value)
        stack.extend(dep.dependencies)
    return None


def allowed(role: str, rule: Rule) -> bool:
    if rule in (PUBLIC, ANY):
        return True
    return Permission(rule) in ROLE_PERMISSIONS[Role(role)]


# -- the tables match the app ---------------------------------------------------------------------


def test_every_route_is_classified(app: FastAPI) -> None:
    routes = app_routes(app)
    missing = sorted(k for k in routes if k not in API and k not in PAGES)
    assert not missing, f"Classify these routes in tests/test_roles_matrix.py: {missing}"
    gone = sorted(k for k in (*API, *PAGES) if k not in routes)
    assert not gone, f"These classified routes no longer exist: {gone}"
    in_schema = {(m.upper(), p) for p, ops in app.openapi()["paths"].items() for m in ops}
    assert in_schema == set(API), "the OpenAPI document and the API table differ"


def test_tables_match_the_route_dependencies(app: FastAPI) -> None:
    """The permission each route actually requires is the one the table promises."""
    for key, route in app_routes(app).items():
        rule = API.get(key, PAGES.get(key))
        expected = rule.value if isinstance(rule, Permission) else None
        assert declared_permission(route) == expected, key


# -- calling every route as every role ------------------------------------------------------------


def _passes(r: Response) -> bool:
    # An unauthenticated page request is sent to /login?next=...; logging out lands on plain /login.
    to_login = r.status_code in (302, 303) and r.headers.get("location", "").startswith("/login?next=")
    return r.status_code not in (401, 403) and not to_login


def test_api_matrix(api: Callable[[str], TestClient]) -> None:
    failures = []
    for role in ROLES:
        client = api(role)
        for (method, path), rule in sorted(API.items()):
            if rule == PUBLIC:
                continue
            r = client.request(method, fill(path), json={} if method in ("POST", "PUT", "PATCH") else None)
            if r.status_code >= 500 or _passes(r) != allowed(role, rule):
                failures.append((role, method, path, r.status_code, r.text[:120]))
            if r.status_code == 403:
                assert r.json()["error"] == "forbidden"
    assert not failures, failures


def login(client: TestClient, email: str) -> str:
    """Log in through the form; returns the session's CSRF token."""
    r = client.post("/login", data={"email": email, "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return csrf_of(client)


def csrf_of(client: TestClient) -> str:
    db = client.app.state.db  # type: ignore[attr-defined]
    with db.unit_of_work(readonly=True) as session:
        token = session.scalar(
            select(WebSession.csrf_token).where(WebSession.session_hash == digest(client.cookies[SESSION_COOKIE]))
        )
    assert token
    return str(token)


def test_page_matrix(app: FastAPI, workspace: Workspace) -> None:
    failures = []
    html = {"accept": "text/html"}
    # Logging out ends the session, so it goes last.
    order = sorted(PAGES.items(), key=lambda item: (item[0][1] == "/logout", item[0]))
    for role in ROLES:
        client = TestClient(app)
        csrf = login(client, workspace.user_email(role))
        for (method, path), rule in order:
            if rule == PUBLIC:
                continue
            data = {"csrf_token": csrf} if method == "POST" else None
            r = client.request(method, fill(path), data=data, headers=html, follow_redirects=False)
            if r.status_code >= 500 or _passes(r) != allowed(role, rule):
                failures.append((role, method, path, r.status_code, r.text[:120]))
    assert not failures, failures


# -- authentication ------------------------------------------------------------------------------


def test_no_credentials_is_401_everywhere_but_public_routes(client: TestClient) -> None:
    for (method, path), rule in sorted(API.items()):
        if rule == PUBLIC:
            continue
        r = client.request(method, fill(path), json={} if method in ("POST", "PUT", "PATCH") else None)
        assert r.status_code == 401, (method, path, r.status_code)
        assert r.json()["error"] == "unauthorized"
    for (method, path), rule in sorted(PAGES.items()):
        if rule == PUBLIC:
            continue
        r = client.request(method, fill(path), headers={"accept": "text/html"}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), (method, path)


def test_public_routes_need_no_credentials(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/login").status_code == 200
    r = client.post("/api/v1/hooks/acme/no-such-source", json={"a": 1})
    assert r.status_code in (401, 404)  # judged by the source secret, not by a token
    assert "Bearer" not in r.json()["detail"]


def test_token_scopes_narrow_permissions(workspace: Workspace, client: TestClient) -> None:
    secret = workspace.token("admin", scopes=[Permission.read.value])
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/customers", headers=headers).status_code == 200
    r = client.post("/api/v1/customers", json={"email": "a@example.com"}, headers=headers)
    assert r.status_code == 403
    assert client.get("/api/v1/members", headers=headers).status_code == 403
    assert client.get("/api/v1/me", headers=headers).json()["permissions"] == ["data:read"]


def test_unknown_revoked_and_expired_tokens_are_401(workspace: Workspace, client: TestClient, db: Any) -> None:
    revoked, expired = workspace.token("admin"), workspace.token("admin")
    with db.unit_of_work() as session:
        session.execute(update(ApiToken).where(ApiToken.token_hash == digest(revoked)).values(revoked_at=utcnow()))
        past = utcnow() - timedelta(minutes=1)
        session.execute(update(ApiToken).where(ApiToken.token_hash == digest(expired)).values(expires_at=past))
    for secret in (revoked, expired, "cem_not-a-real-token"):
        r = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
        assert r.status_code == 401
        assert r.json()["error"] == "unauthorized"
    assert client.get("/api/v1/me", headers={"Authorization": "Basic abc"}).status_code == 401


def test_revoking_through_the_api_locks_the_token_out(workspace: Workspace, admin_api: TestClient) -> None:
    issued = admin_api.post("/api/v1/tokens", json={"name": "ci", "role": "viewer"}).json()
    headers = {"Authorization": f"Bearer {issued['token']}"}
    assert admin_api.get("/api/v1/me", headers=headers).status_code == 200
    assert admin_api.delete(f"/api/v1/tokens/{issued['id']}").status_code == 200
    assert admin_api.get("/api/v1/me", headers=headers).status_code == 401


def test_session_cookie_is_httponly_and_samesite_lax(app: FastAPI, workspace: Workspace) -> None:
    client = TestClient(app)
    r = client.post("/login", data={"email": "viewer@acme.example", "password": PASSWORD}, follow_redirects=False)
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "httponly" in cookie.lower()
    assert "samesite=lax" in cookie.lower()
    wrong = TestClient(app).post("/login", data={"email": "viewer@acme.example", "password": "nope-nope-nope"})
    assert wrong.status_code == 401 and "set-cookie" not in wrong.headers


def test_cookie_writes_need_the_csrf_token(app: FastAPI, workspace: Workspace) -> None:
    client = TestClient(app)
    csrf = login(client, workspace.user_email("agent"))
    body = {"email": "csrf@example.com"}
    r = client.post("/api/v1/customers", json=body)
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    assert client.post("/api/v1/customers", json=body, headers={"X-CSRF-Token": "wrong"}).status_code == 403
    assert client.get("/api/v1/customers").json()["items"] == []
    assert client.post("/api/v1/customers", json=body, headers={"X-CSRF-Token": csrf}).status_code == 200
    # Form posts carry it as a field; without it even logging out is refused.
    assert client.post("/logout", follow_redirects=False).status_code == 403
    r = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/api/v1/me").status_code == 401


# -- audit ---------------------------------------------------------------------------------------

FEEDBACK = {
    "source_type": "api",
    "source_name": "app",
    "submission_id": "s1",
    "field_id": "nps",
    "field_type": "nps",
    "value": 9,
}


@pytest.mark.parametrize(
    ("method", "path", "body", "action"),
    [
        ("POST", "/api/v1/customers", {"email": "x@example.com"}, "customer.upsert"),
        ("POST", "/api/v1/feedback", FEEDBACK, "feedback.ingest"),
        ("POST", "/api/v1/feedback/bulk", [FEEDBACK], "feedback.ingest"),
        (
            "POST",
            "/api/v1/events",
            {"customer": {"external_id": "c1"}, "type": "t", "occurred_at": "2024-01-01T00:00:00Z"},
            "event.ingest",
        ),
        ("POST", "/api/v1/journeys", {"key": "onboarding", "name": "Onboarding"}, "journey.create"),
        ("POST", "/api/v1/tokens", {"name": "ci", "role": "viewer"}, "token.create"),
        ("POST", "/api/v1/privacy/erase", {"email": "x@example.com", "confirm": True}, "privacy.erase"),
    ],
)
def test_token_writes_are_audited(
    workspace: Workspace, client: TestClient, db: Any, method: str, path: str, body: Any, action: str
) -> None:
    secret = workspace.token("admin")
    r = client.request(method, path, json=body, headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code in (200, 201), r.text
    with db.unit_of_work(readonly=True) as session:
        token_id = session.scalar(select(ApiToken.id).where(ApiToken.token_hash == digest(secret)))
        # The fixture issued the token itself through the CLI principal; only the token's own writes count.
        entries = session.scalars(select(AuditLog).where(AuditLog.action == action, AuditLog.actor_type != "cli"))
        seen = [(e.actor_type, e.actor_id, e.workspace_id) for e in entries]
    assert seen == [("token", token_id, workspace.id)]
