"""A short-lived cache of API-token principals.

On the hot ingest path looking the token up costs about as much as storing the record (a read transaction and
an ORM query per request). Entries live `ttl` seconds at most and never past the token's expiry. A revocation or
erasure committed in this process invalidates every entry at once (`invalidate_after_commit`); other processes
(a second server worker, the CLI) see it within `ttl` seconds, the bound stated in the settings.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import event
from sqlalchemy.orm import Session

from cem.auth.principal import Principal
from cem.db.base import utcnow

_generation = 0
_generation_lock = threading.Lock()


def _bump(_session: Session | None = None) -> None:
    global _generation
    with _generation_lock:
        _generation += 1


def invalidate_after_commit(session: Session) -> None:
    """Drop every cached principal once `session` commits (bumping earlier could re-cache the old state)."""
    event.listen(session, "after_commit", _bump, once=True)


@dataclass(frozen=True)
class _Entry:
    principal: Principal
    until: float  # time.monotonic() deadline
    generation: int


class TokenCache:
    """digest(secret) -> Principal for up to `ttl` seconds (0 disables caching)."""

    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, _Entry] = {}

    def get(self, key: str) -> Principal | None:
        entry = self._entries.get(key)
        if entry is None or entry.generation != _generation or entry.until < time.monotonic():
            return None
        return entry.principal

    def put(self, key: str, principal: Principal, expires_at: datetime | None) -> None:
        if self.ttl <= 0:
            return
        ttl = self.ttl
        if expires_at is not None:
            ttl = min(ttl, (expires_at - utcnow()).total_seconds())
        if ttl <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # a flood of distinct tokens: start over rather than track recency
        self._entries[key] = _Entry(principal, time.monotonic() + ttl, _generation)
