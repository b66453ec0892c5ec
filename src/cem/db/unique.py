"""Write-then-check for unique names and keys: the database's unique constraint is the one judge."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cem.errors import Conflict


def flush_unique(session: Session, what: str) -> None:
    """Flush pending changes; if a unique constraint refuses them, raise Conflict("<what> already exists.").

    The flush runs in a savepoint, so only it is rolled back and the caller's unit of work stays usable."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(f"{what} already exists.") from None
