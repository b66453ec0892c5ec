"""The app refuses to start in production with the published default secret, a short one or a guessable one."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

import pytest

from cem.app import create_app
from cem.config import DEFAULT_SECRET, Settings, get_settings


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(data_dir=tmp_path, database_url="", in_process_worker=False, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        (DEFAULT_SECRET, "published default"),
        ("short-secret", "shorter than 32 characters"),
        ("x" * 31, "shorter than 32 characters"),
        ("a" * 32, "fewer than 8 different characters"),  # accepted before: only the length was checked
        ("ab" * 16, "fewer than 8 different characters"),
        ("s3cr3t-" * 6, "fewer than 8 different characters"),
        ("0123456789abcdef" * 2, "too easy to guess"),  # 16 different characters, but a sequence
        ("qwertyuiopasdfghjklzxcvbnm123456", "too easy to guess"),  # a keyboard walk
        ("password-password-password-password", "too easy to guess"),
    ],
)
def test_prod_refuses_default_short_or_guessable_secret(tmp_path: Path, secret: str, reason: str) -> None:
    with pytest.raises(RuntimeError, match="CEM_SECRET_KEY") as info:
        create_app(_settings(tmp_path, env="prod", secret_key=secret))
    assert reason in str(info.value)
    assert "secrets.token_urlsafe(32)" in str(info.value)  # says how to make a good one
    assert not (tmp_path / "cem.db").exists()  # refused before touching any database


@pytest.mark.parametrize("make", [lambda: secrets.token_urlsafe(32), lambda: secrets.token_hex(16)])
def test_prod_accepts_random_secrets(tmp_path: Path, make: Callable[[], str]) -> None:
    for _ in range(20):  # random secrets of the usual recipes pass every time, not by luck
        secret = make()
        assert Settings(env="prod", secret_key=secret).check_secrets() is None, secret
    app = create_app(_settings(tmp_path, env="prod", secret_key=secrets.token_urlsafe(32)))
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
