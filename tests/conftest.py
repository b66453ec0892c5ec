"""Shared fixtures. The suite runs on SQLite by default and on PostgreSQL when CEM_TEST_DATABASE_URL is set
(scripts/test.sh starts a real server and runs the suite a second time against it).

One migrated database per xdist worker; every table is emptied after each test.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pluggy
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from cem import plugins as cem_plugins
from cem.admin import service as admin_service
from cem.app import create_app
from cem.auth.models import Membership, User
from cem.auth.principal import Principal, system_principal
from cem.auth.security import use_password_hash_cost
from cem.config import PasswordHashCost, Settings, get_settings
from cem.db.base import Base
from cem.db.session import Database

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
PASSWORD = "correct-horse-battery"
# The suite creates four users per workspace: at argon2's production cost that was most of a test's setup time.
# tests/test_password_hash_cost.py keeps the production cost under test.
TEST_HASH_COST: PasswordHashCost = "minimal"


def _worker_id() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _database_url(tmp_dir: Path) -> str:
    base = os.environ.get("CEM_TEST_DATABASE_URL")
    if not base:
        return f"sqlite:///{tmp_dir / 'cem-test.db'}"
    url = make_url(base)
    name = f"{url.database}_{_worker_id()}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session", autouse=True)
def plugins() -> pluggy.PluginManager:
    """The built-in plugins, registered as the composition roots register them (create_app and the CLI do too)."""
    return cem_plugins.install()


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    tmp = tmp_path_factory.mktemp("cem")
    return Settings(
        env="test",
        data_dir=tmp,
        database_url=_database_url(tmp),
        in_process_worker=False,
        warm_text_search=False,  # a background thread reading the store would race the per-test clean-up
        shared_data_dir=SHARED_DATA,
        password_hash_cost=TEST_HASH_COST,
    )


@pytest.fixture(autouse=True)
def _cheap_password_hashing() -> None:
    """Every test starts hashing cheaply, even after one before it built an app at the production cost."""
    use_password_hash_cost(TEST_HASH_COST)


@pytest.fixture(scope="session")
def app_and_db(settings: Settings) -> Iterator[tuple[object, Database]]:
    db = Database(settings)
    app = create_app(settings, db=db)
    yield app, db
    db.dispose()


@pytest.fixture(scope="session")
def db(app_and_db: tuple[object, Database]) -> Database:
    return app_and_db[1]


@pytest.fixture(scope="session")
def app(app_and_db: tuple[object, Database]) -> object:
    return app_and_db[0]


def _truncate(db: Database) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f'DELETE FROM "{table}"'))
            conn.execute(text("INSERT INTO feedback_fts(feedback_fts) VALUES ('delete-all')"))


@pytest.fixture(autouse=True)
def _clean_database(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "db" in request.fixturenames or "app" in request.fixturenames:
        _truncate(request.getfixturevalue("db"))


@pytest.fixture
def client(app: object) -> Iterator[TestClient]:
    with TestClient(app) as c:  # type: ignore[arg-type]
        yield c


@dataclass
class Workspace:
    """A workspace with one user per role and helpers to call the API as any of them."""

    id: int
    slug: str
    db: Database
    client: TestClient

    def principal(self) -> Principal:
        return system_principal(self.id, label="test")

    def token(self, role: str = "admin", scopes: list[str] | None = None) -> str:
        with self.db.unit_of_work() as session:
            return admin_service.create_token(
                session, actor=self.principal(), name=f"test-{role}", role=role, scopes=scopes
            ).secret

    def headers(self, role: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role)}"}

    def user_email(self, role: str) -> str:
        return f"{role}@{self.slug}.example"


@pytest.fixture
def workspace(db: Database, client: TestClient) -> Workspace:
    with db.unit_of_work() as session:
        ws = admin_service.ensure_workspace(session, slug="acme", name="Acme")
        for role in ("admin", "analyst", "agent", "viewer"):
            admin_service.create_user(session, email=f"{role}@acme.example", password=PASSWORD, workspace=ws, role=role)
        ws_id = ws.id
    return Workspace(id=ws_id, slug="acme", db=db, client=client)


@pytest.fixture
def production_hash_cost(workspace: Workspace) -> Workspace:
    """For tests about what checking a password costs: the workspace's users re-hashed at the production cost,
    and this test hashing at it (the dummy hash for unknown emails included)."""
    use_password_hash_cost("standard")
    with workspace.db.unit_of_work() as session:
        users = session.scalars(select(User).join(Membership).where(Membership.workspace_id == workspace.id))
        for user in users:
            admin_service.set_password(user, PASSWORD)
    return workspace


@pytest.fixture
def api(workspace: Workspace) -> Callable[..., TestClient]:
    """`api("viewer")` -> a TestClient authenticated with a token of that role."""

    def make(role: str = "admin") -> TestClient:
        c = TestClient(workspace.client.app)
        c.headers.update(workspace.headers(role))
        return c

    return make


@pytest.fixture
def admin_api(api: Callable[..., TestClient]) -> TestClient:
    return api("admin")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"The shared data folder is missing at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    """For CLI tests that point CEM_* variables elsewhere: settings are read again from the environment."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, workspace: Workspace) -> Iterator[CliRunner]:
    """A runner whose `cem` commands open the test database, with the test workspace in it."""
    monkeypatch.setenv("CEM_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CEM_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("CEM_PASSWORD_HASH_COST", settings.password_hash_cost)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()
