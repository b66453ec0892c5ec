"""The webhooks clock: one place tests replace to move time through the retry schedule."""

from __future__ import annotations

from datetime import datetime

from cem.db.base import utcnow


def now() -> datetime:
    return utcnow()
