"""The closed loop's clock: one place tests replace to move time (firing windows, SLA due times, the sweep)."""

from __future__ import annotations

from datetime import datetime

from cem.db.base import utcnow


def now() -> datetime:
    return utcnow()
