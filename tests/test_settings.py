"""The app refuses to start in production with the published default secret or a short one."""

from __future__ import annotations

from pathlib import Path

import pytest

from cem.app import create_app
from cem.config import DEFAULT_SECRET, Settings, get_settings


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(data_dir=tmp_path, database_url="", in_process_worker=False, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize("secret", [DEFAULT_SECRET, "short-secret", "x" * 31])
def test_prod_refuses_default_or_short_secret(tmp_path: Path, secret: str) -> None:
    with pytest.raises(RuntimeError, match="CEM_SECRET_KEY") as info:
        create_app(_settings(tmp_path, env="prod", secret_key=secret))
    assert "32 characters" in str(info.value)
    assert not (tmp_path / "cem.db").exists()  # refused before touching any database


def test_prod_accepts_a_long_secret(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path, env="prod", secret_key="s3cr3t-" * 6))
    assert app.state.settings.env == "prod"
    app.state.db.dispose()


@pytest.mark.parametrize("env", ["dev", "test"])
def test_dev_and_test_accept_the_default(tmp_path: Path, env: str) -> None:
    app = create_app(_settings(tmp_path, env=env))
    assert app.state.settings.secret_key == DEFAULT_SECRET
    app.state.db.dispose()


def test_settings_come_from_cem_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CEM_ENV", "prod")
    monkeypatch.setenv("CEM_SECRET_KEY", "short")
    monkeypatch.setenv("CEM_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        settings = get_settings()
        assert (settings.env, settings.secret_key, settings.data_dir) == ("prod", "short", tmp_path)
        with pytest.raises(RuntimeError, match="CEM_SECRET_KEY"):
            create_app()
        with pytest.raises(ValueError, match="env"):
            Settings(env="production")  # type: ignore[arg-type]
    finally:
        get_settings.cache_clear()
