"""Passwords are hashed at argon2's production cost unless CEM_PASSWORD_HASH_COST=minimal says otherwise, which only
a non-production deployment may say (the test suite does, to create its users quickly). Stored hashes verify at
either cost: an argon2 hash carries its own parameters."""

from __future__ import annotations

from pathlib import Path

import argon2
import pytest
from pydantic import ValidationError
from sqlalchemy import select
from typer.testing import CliRunner

from cem.admin import service as admin_service
from cem.app import create_app
from cem.auth import credentials
from cem.auth.models import User
from cem.auth.security import HASH_PARAMETERS, use_password_hash_cost, verify_password
from cem.cli import app as cli_app
from cem.config import Settings, get_settings
from cem.db.session import Database
from tests.conftest import PASSWORD, Workspace

PRODUCTION = argon2.profiles.RFC_9106_LOW_MEMORY  # argon2-cffi's default: 64 MiB, 3 passes, 4 lanes


def _stored_hash(db: Database, email: str) -> str:
    with db.unit_of_work(readonly=True) as session:
        return session.scalars(select(User.password_hash).where(User.email == email)).one()


def test_a_default_deployment_hashes_at_the_production_cost_and_logs_in(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="", in_process_worker=False)
    assert settings.password_hash_cost == "standard" and HASH_PARAMETERS["standard"] == PRODUCTION
    app = create_app(settings)
    db: Database = app.state.db
    try:
        with db.unit_of_work() as session:
            ws = admin_service.ensure_workspace(session, slug="real", name="Real")
            admin_service.create_user(session, email="pat@real.example", password=PASSWORD, workspace=ws, role="admin")
        stored = _stored_hash(db, "pat@real.example")
        assert argon2.extract_parameters(stored) == PRODUCTION
        assert verify_password(stored, PASSWORD) and not verify_password(stored, PASSWORD + "x")
        with db.unit_of_work() as session:
            login = credentials.login(
                session, email="pat@real.example", password=PASSWORD, workspace_slug=None, hours=1
            )
        assert login.session_secret
    finally:
        db.dispose()


def test_the_cli_hashes_at_the_configured_cost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_settings: None
) -> None:
    monkeypatch.setenv("CEM_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CEM_DATABASE_URL", "")
    for cost, email in (("standard", "std@cli.example"), ("minimal", "min@cli.example")):
        monkeypatch.setenv("CEM_PASSWORD_HASH_COST", cost)
        get_settings.cache_clear()
        result = CliRunner().invoke(cli_app, ["user", "create", "--email", email, "--password", PASSWORD])
        assert result.exit_code == 0, result.output
    db = Database(get_settings())
    try:
        assert argon2.extract_parameters(_stored_hash(db, "std@cli.example")) == PRODUCTION
        assert argon2.extract_parameters(_stored_hash(db, "min@cli.example")) == argon2.profiles.CHEAPEST
    finally:
        db.dispose()


def test_the_test_session_hashes_cheaply_and_hashes_of_either_cost_verify(workspace: Workspace) -> None:
    cheap = _stored_hash(workspace.db, workspace.user_email("viewer"))
    assert argon2.extract_parameters(cheap) == argon2.profiles.CHEAPEST
    use_password_hash_cost("standard")  # a deployment that raised its cost still lets its old users in
    assert verify_password(cheap, PASSWORD) and not verify_password(cheap, "not-" + PASSWORD)
    real = argon2.PasswordHasher.from_parameters(PRODUCTION).hash(PASSWORD)
    use_password_hash_cost("minimal")
    assert verify_password(real, PASSWORD) and not verify_password(real, "not-" + PASSWORD)


def test_production_refuses_the_minimal_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="CEM_PASSWORD_HASH_COST=minimal is for tests"):
        Settings(env="prod", password_hash_cost="minimal")
    monkeypatch.setenv("CEM_ENV", "prod")
    monkeypatch.setenv("CEM_PASSWORD_HASH_COST", "minimal")
    with pytest.raises(ValidationError, match="production hashes passwords at full cost"):
        Settings()
    with pytest.raises(ValidationError, match="password_hash_cost"):
        Settings(password_hash_cost="cheap")  # type: ignore[arg-type]
