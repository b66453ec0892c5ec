"""What a webhook carries: the event types, message ids, the signed body, and the per-workspace subscription cache.

The cache keeps ingest cheap: a workspace without a subscription to an event type pays one dictionary look-up per
write, not a query. It is cleared for a workspace whenever one of its subscriptions changes in this process, and
every entry expires after CACHE_SECONDS, so another process (a separate `cem worker`, a second server) sees a new
subscription within that time.
"""

from __future__ import annotations

import secrets
import threading
import time
from datetime import datetime
from typing import Any, Literal, get_args

import orjson

EventType = Literal[
    "feedback.created",
    "response.completed",
    "alert.fired",
    "case.created",
    "case.updated",
    "case.closed",
    "sla.breached",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)
TEST_EVENT = "webhook.test"  # sent by "Send a test event"; no subscription chooses it
CACHE_SECONDS = 5.0

_cache: dict[int, tuple[float, frozenset[str]]] = {}
_cache_lock = threading.Lock()


def new_message_id() -> str:
    """The webhook-id of a message: unique, the same on every attempt (receivers dedupe by it)."""
    return f"msg_{secrets.token_hex(12)}"


def body(event_type: str, occurred_at: datetime, data: dict[str, Any]) -> str:
    """The JSON text sent (and signed) on every attempt: the Standard Webhooks envelope {type, timestamp, data}."""
    payload = {"type": event_type, "timestamp": occurred_at.isoformat(), "data": data}
    return orjson.dumps(payload, default=str).decode()


def cached_types(workspace_id: int) -> frozenset[str] | None:
    """The event types the workspace's enabled subscriptions want, if known and fresh; None: ask the database."""
    entry = _cache.get(workspace_id)
    if entry is None or entry[0] < time.monotonic():
        return None
    return entry[1]


def remember_types(workspace_id: int, types: frozenset[str]) -> None:
    with _cache_lock:
        _cache[workspace_id] = (time.monotonic() + CACHE_SECONDS, types)


def forget_types(workspace_id: int) -> None:
    """A subscription of the workspace changed: the next event asks the database again."""
    with _cache_lock:
        _cache.pop(workspace_id, None)
