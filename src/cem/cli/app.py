"""The Typer app and helpers shared by every command: settings, database, errors as readable messages."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from cem.auth.security import use_password_hash_cost
from cem.config import Settings, get_settings
from cem.db import migrate
from cem.db.session import Database
from cem.errors import CEMError

app = typer.Typer(help="cem: self-hosted Customer Experience Management.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
user_app = typer.Typer(help="Users and API tokens.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")

F = TypeVar("F", bound=Callable[..., Any])


def open_db(settings: Settings | None = None, *, upgrade: bool = True) -> Database:
    """The configured database, migrated to head."""
    settings = settings or get_settings()
    use_password_hash_cost(settings.password_hash_cost)
    db = Database(settings)
    if upgrade:
        migrate.upgrade(db.engine)
    return db


def fail(message: str, code: int = 1) -> None:
    typer.secho(f"Error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def friendly_errors(fn: F) -> F:
    """Turn business errors into one red line and a non-zero exit instead of a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CEMError as exc:
            fail(exc.detail, 2)
        except FileNotFoundError as exc:
            fail(f"File not found: {exc.filename}", 2)
        return None

    return wrapper  # type: ignore[return-value]


def echo(text: str) -> None:
    sys.stdout.write(text + "\n")
