"""Finding and removing an email address wherever it appears in free text or JSON values."""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import JSON, ColumnElement, String, Table, Text, cast, func, or_
from sqlalchemy.sql.schema import Column

# Columns holding secrets or their digests: never exported, never scanned.
SECRET_COLUMNS = frozenset(
    {"password_hash", "token_hash", "session_hash", "csrf_token", "secret_hash", "secret_encrypted"}
)
# Characters that may continue an address on either side; a match must not touch them, so erasing
# ann@example.com leaves joann@example.com and ann@example.com.au alone.
_LOCAL_CHARS = r"\w.!#$%&'*+/=?^`{|}~-"


def text_columns(table: Table) -> list[Column[Any]]:
    """String, Text and JSON columns that may hold free text mentioning a person."""
    return [c for c in table.columns if isinstance(c.type, String | JSON) and c.name not in SECRET_COLUMNS]


def needles(email: str) -> tuple[str, ...]:
    """Substrings to look for in stored text: the email and its JSON-escaped form (SQLite JSON is ASCII)."""
    escaped = json.dumps(email)[1:-1].lower()
    return (email,) if escaped == email else (email, escaped)


def mentions(columns: list[Column[Any]], *emails: str) -> ColumnElement[bool]:
    """A broad SQL pre-filter: any of `columns` contains an email (exact boundaries are checked in Python)."""
    return or_(
        *(func.lower(cast(c, Text)).contains(n, autoescape=True) for c in columns for e in emails for n in needles(e))
    )


def pattern(*emails: str) -> re.Pattern[str]:
    """Any of the emails as a whole address, case-insensitively."""
    alternatives = "|".join(re.escape(e) for e in emails)
    return re.compile(rf"(?<![{_LOCAL_CHARS}])(?:{alternatives})(?![\w-]|\.[\w-])", re.IGNORECASE)


def scrub(value: Any, regex: re.Pattern[str], placeholder: str) -> Any:
    """`value` with every mention replaced, recursing into JSON lists and objects (keys too)."""
    if isinstance(value, str):
        return regex.sub(placeholder, value)
    if isinstance(value, list):
        return [scrub(v, regex, placeholder) for v in value]
    if isinstance(value, dict):
        return {scrub(k, regex, placeholder): scrub(v, regex, placeholder) for k, v in value.items()}
    return value


def mentioned(value: Any, regex: re.Pattern[str]) -> bool:
    """Whether `value` (text or JSON) holds the address."""
    return scrub(value, regex, "\x00") != value
