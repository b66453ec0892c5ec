"""Logins: throttled per account and per client address, no user enumeration by timing, no weak passwords,
Secure cookies in production.

The throttle is counted in the database, so the parallel test runs two real `cem serve` processes on one store
and spreads the guesses over both.
"""

from __future__ import annotations

import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from cem.admin import service as admin_service
from cem.api import errors as api_errors
from cem.app import create_app
from cem.auth.models import LoginAttempt, User
from cem.auth.security import check_password_strength
from cem.cli import app as cli_app
from cem.config import Settings
from cem.db.session import Database
from cem.errors import InvalidInput, TooManyRequests
from tests.conftest import PASSWORD, Workspace
from tests.test_roles_matrix import login as login_with_csrf

REPO = Path(__file__).resolve().parents[1]
LIMIT = 10  # the default failures per account and window


def _login(client: TestClient, email: str, password: str) -> httpx.Response:
    return client.post("/login", data={"email": email, "password": password}, follow_redirects=False)


def _shift_attempts(db: Database, seconds: float) -> None:
    """Move every counted attempt `seconds` into the past: the window passing without the test sleeping."""
    with db.unit_of_work() as session:
        for attempt in session.scalars(select(LoginAttempt)):
            attempt.at = attempt.at - timedelta(seconds=seconds)


def _retry_after(response: httpx.Response) -> int:
    value = int(response.headers["retry-after"])
    assert value >= 1
    return value


# -- throttling ------------------------------------------------------------------------------------------


def test_fifty_wrong_passwords_then_the_right_one_is_refused_until_the_window_passes(
    workspace: Workspace, client: TestClient, db: Database
) -> None:
    email = workspace.user_email("viewer")
    statuses = [_login(client, email, f"wrong-guess-{i}").status_code for i in range(50)]
    assert statuses == [401] * LIMIT + [429] * (50 - LIMIT)
    right = _login(client, email, PASSWORD)
    assert right.status_code == 429
    wait = _retry_after(right)
    window = client.app.state.settings.login_window_seconds  # type: ignore[attr-defined]
    assert window - 60 < wait <= window  # when the oldest failure leaves the window
    # The login page says it in words, keeps the email typed, and sets no session.
    assert "Too many failed logins for this account; try again in 15 minutes." in right.text
    assert 'value="viewer@acme.example"' in right.text and "cem_session" not in right.headers.get("set-cookie", "")
    # Refused attempts are not counted: hammering a locked account does not push the lock further out.
    with db.unit_of_work(readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(LoginAttempt)) == 2 * LIMIT  # account + address
    _shift_attempts(db, wait - 10)
    assert _login(client, email, PASSWORD).status_code == 429  # not yet
    _shift_attempts(db, 10)
    assert _login(client, email, PASSWORD).status_code == 303  # the window has passed


def test_a_success_clears_the_accounts_failures_but_not_the_addresss(
    workspace: Workspace, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client.app.state.settings, "login_max_failures_per_address", 11)  # type: ignore[attr-defined]
    email = workspace.user_email("agent")
    for i in range(LIMIT - 1):
        assert _login(client, email, f"typo-{i}").status_code == 401
    assert _login(client, email, PASSWORD).status_code == 303
    # Without the reset these would be failures 10 and 11 of the account (the 11th refused).
    assert [_login(client, email, f"later-typo-{i}").status_code for i in range(2)] == [401, 401]
    # The address keeps its 11 failures: a guess at another account from here is refused.
    r = _login(client, workspace.user_email("analyst"), "a-guess-for-another-account")
    assert r.status_code == 429 and "Too many failed logins for this address" in r.text


def test_one_address_guessing_many_accounts_is_throttled(
    workspace: Workspace, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client.app.state.settings, "login_max_failures_per_address", 5)  # type: ignore[attr-defined]
    statuses = [_login(client, f"nobody-{i}@acme.example", "some-guess-here").status_code for i in range(8)]
    assert statuses == [401] * 5 + [429] * 3
    assert _login(client, workspace.user_email("admin"), PASSWORD).status_code == 429
    other = TestClient(client.app, client=("10.1.2.3", 5000))  # another client address is not affected
    assert _login(other, workspace.user_email("admin"), PASSWORD).status_code == 303


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CEM_DATA_DIR": str(data_dir),
        "CEM_DATABASE_URL": "",
        "CEM_ENV": "test",
        "CEM_IN_PROCESS_WORKER": "false",
        "PYTHONPATH": str(REPO / "src"),
        "PYTHONUNBUFFERED": "1",
    }


def _cem(*args: str) -> list[str]:
    return [sys.executable, "-c", "import sys; from cem.cli import main; sys.argv[0] = 'cem'; main()", *args]


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[list[str]]:
    """Two `cem serve` processes on one SQLite store, with a user created by `cem user create`."""
    env = _env(tmp_path)
    created = subprocess.run(
        _cem("user", "create", "--email", "pat@shop.example", "--role", "admin", "--password", PASSWORD),
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    procs, urls = [], []
    try:
        for _ in range(2):  # started together: `cem user create` has already migrated the store
            port = _free_port()
            procs.append(subprocess.Popen(_cem("serve", "--port", str(port)), env=env, stderr=subprocess.DEVNULL))
            urls.append(f"http://127.0.0.1:{port}")
        for proc, url in zip(procs, urls, strict=True):
            deadline = time.monotonic() + 90
            while True:
                try:
                    if httpx.get(f"{url}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline and proc.poll() is None, "server did not start"
                time.sleep(0.2)
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=20)


@pytest.mark.slow
def test_parallel_guesses_across_two_server_processes_share_one_budget(two_servers: list[str]) -> None:
    def guess(i: int) -> httpx.Response:
        data = {"email": "pat@shop.example", "password": f"parallel-guess-{i}"}
        return httpx.post(f"{two_servers[i % 2]}/login", data=data, timeout=60)

    with ThreadPoolExecutor(max_workers=16) as pool:
        responses = list(pool.map(guess, range(50)))
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {401, 429}, statuses
    assert 1 <= statuses.count(401) <= LIMIT  # never more password checks than the budget, over both processes
    assert all(_retry_after(r) > 0 for r in responses if r.status_code == 429)
    for url in two_servers:
        right = httpx.post(f"{url}/login", data={"email": "pat@shop.example", "password": PASSWORD})
        assert right.status_code == 429 and _retry_after(right) > 60


# -- timing -----------------------------------------------------------------------------------------------


def test_an_unknown_email_takes_as_long_to_refuse_as_a_wrong_password(
    production_hash_cost: Workspace, client: TestClient
) -> None:
    workspace = production_hash_cost  # two real argon2 checks compared, not two cheap test hashes

    def seconds(email: str) -> float:
        started = time.perf_counter()
        assert _login(client, email, "not-the-password").status_code == 401
        return time.perf_counter() - started

    seconds(workspace.user_email("viewer"))  # warm-up: the dummy hash is made once per process
    seconds("warm-up@nowhere.example")
    known, unknown = [], []
    for i in range(5):
        known.append(seconds(workspace.user_email("viewer")))
        unknown.append(seconds(f"nobody-{i}@nowhere.example"))
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.5 <= ratio <= 2.0, (known, unknown)


# -- passwords --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short-pw", "at least 10 characters"),
        (" " * 12, "only spaces"),
        ("1234567890", "most common passwords"),
        ("Password123", "most common passwords"),
        ("qwertyuiop", "most common passwords"),
        ("aaaaaaaaaaaa", "too easy to guess"),
        ("abcdefghijkl", "too easy to guess"),
        ("new@acme.example", "too easy to guess"),  # the account's own email
    ],
)
def test_weak_passwords_are_refused(workspace: Workspace, db: Database, password: str, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason), db.unit_of_work() as session:
        ws = admin_service.get_workspace_by_slug(session, workspace.slug)
        admin_service.create_user(session, email="new@acme.example", password=password, workspace=ws, role="agent")
    with db.unit_of_work(readonly=True) as session:
        assert session.scalar(select(User.id).where(User.email == "new@acme.example")) is None


@pytest.mark.parametrize("password", [PASSWORD, "long-enough-pw", "a-long-password", "Tr0ub4dor&3x", "x7#Qm!2pL9zr"])
def test_reasonable_passwords_pass(password: str) -> None:
    check_password_strength(password, user_inputs=["someone@acme.example"])


def test_weak_passwords_are_refused_by_the_api_the_page_and_the_cli(
    workspace: Workspace, admin_api: TestClient, app: FastAPI, cli: CliRunner
) -> None:
    r = admin_api.post("/api/v1/members", json={"email": "w@acme.example", "password": "1234567890", "role": "agent"})
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "invalid_input" and body["status"] == 422 and "most common" in body["detail"]
    page = TestClient(app)
    csrf = login_with_csrf(page, workspace.user_email("admin"))
    form = {"email": "w@acme.example", "password": "          ", "role": "agent", "csrf_token": csrf}
    r = page.post("/admin/members", data=form, headers={"accept": "text/html"})
    assert r.status_code == 422 and "A password cannot be only spaces." in r.text
    result = cli.invoke(cli_app, ["user", "create", "--email", "w@acme.example", "--password", "iloveyou12"])
    assert result.exit_code == 2 and "most common passwords" in result.output
    assert w_count(workspace.db) == 0


def w_count(db: Database) -> int:
    with db.unit_of_work(readonly=True) as session:
        return int(session.scalar(select(func.count()).where(User.email == "w@acme.example")) or 0)


def test_a_password_change_refuses_weak_passwords(workspace: Workspace, db: Database) -> None:
    with pytest.raises(InvalidInput, match="most common"), db.unit_of_work() as session:
        user = session.scalars(select(User).where(User.email == workspace.user_email("viewer"))).one()
        admin_service.set_password(user, "1q2w3e4r5t")
    with TestClient(workspace.client.app) as c:
        assert _login(c, workspace.user_email("viewer"), PASSWORD).status_code == 303  # the old one still works


# -- production cookies -----------------------------------------------------------------------------------


def test_session_cookies_are_secure_in_production(tmp_path: Path) -> None:
    settings = Settings(
        env="prod", secret_key=secrets.token_urlsafe(32), data_dir=tmp_path, database_url="", in_process_worker=False
    )
    app = create_app(settings)
    try:
        with app.state.db.unit_of_work() as session:
            ws = admin_service.ensure_workspace(session, slug="prod", name="Prod")
            admin_service.create_user(session, email="ops@prod.example", password=PASSWORD, workspace=ws, role="admin")
        with TestClient(app, base_url="https://cem.example") as c:
            r = _login(c, "ops@prod.example", PASSWORD)
            assert r.status_code == 303
            cookie = r.headers["set-cookie"].lower()
            assert "cem_session=" in cookie and "; secure" in cookie and "httponly" in cookie
    finally:
        app.state.db.dispose()


def test_a_429_from_the_api_has_the_one_error_shape_and_retry_after() -> None:
    app = FastAPI()
    api_errors.install(app)

    @app.get("/api/v1/limited")
    def limited() -> None:
        raise TooManyRequests("Slow down; try again in 7 seconds.", retry_after=7)

    r = TestClient(app).get("/api/v1/limited")
    assert r.status_code == 429 and r.headers["retry-after"] == "7"
    assert r.json() == {
        "error": "too_many_requests",
        "detail": "Slow down; try again in 7 seconds.",
        "status": 429,
        "errors": [],
    }
