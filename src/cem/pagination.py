"""Opaque keyset cursors: base64 of a JSON list of the last row's sort key."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from cem.errors import BadRequest


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, default=str).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> list[Any] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadRequest("The cursor is not valid; start again without it.") from None
    if not isinstance(value, list):
        raise BadRequest("The cursor is not valid; start again without it.")
    return value
