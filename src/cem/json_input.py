"""The one parser for JSON that comes from outside (request bodies, NDJSON lines, uploaded files, webhooks).

The standard library's `json.loads` accepts what cannot be stored or safely processed: lone UTF-16 surrogates
("\\ud800", which SQLite and PostgreSQL refuse at commit time), and nesting deep enough to exhaust Python's stack
(100,000 brackets raise RecursionError, a 500). pydantic-core's parser (jiter) refuses both while parsing, keeps
big integers exact, and is as fast; this module only turns its errors into `json.JSONDecodeError`, so every caller
(and FastAPI's own body handling) reports them as malformed JSON.

It also refuses the NUL character (\\u0000) in any string or key: PostgreSQL can keep it neither in text nor in
jsonb, so the same payload would be stored on SQLite and fail at commit on PostgreSQL.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pydantic_core

MAX_DEPTH = 200  # jiter's fixed nesting limit; no legitimate payload (SurveyJS panels included) comes close
_WHERE = re.compile(r"^(?P<reason>.*) at line (?P<line>\d+) column (?P<column>\d+)$")
_REASONS = {
    "recursion limit exceeded": f"nested more than {MAX_DEPTH} levels deep",
    "unexpected end of hex escape": "a \\u escape is a lone UTF-16 surrogate, which is not a character",
    "lone leading surrogate in hex escape": "a \\u escape is a lone UTF-16 surrogate, which is not a character",
    "invalid unicode code point": "a \\u escape is a lone UTF-16 surrogate, which is not a character",
}


NUL_REASON = "a string holds the NUL character (\\u0000), which cannot be stored"


def parse_json(data: bytes | str) -> Any:
    """Parse JSON text; raise json.JSONDecodeError (a ValueError) with a readable reason and position."""
    try:
        parsed = pydantic_core.from_json(data, allow_inf_nan=False)
    except ValueError as exc:
        raise _decode_error(str(exc), data) from None
    if _may_hold_nul(data) and _holds_nul(parsed):  # the walk only when the text could hold one
        text = data if isinstance(data, str) else data.decode("utf-8", errors="replace")
        raise json.JSONDecodeError(NUL_REASON, text, text.find("\\u0000"))
    return parsed


def _may_hold_nul(data: bytes | str) -> bool:
    return "\\u0000" in data if isinstance(data, str) else b"\\u0000" in data


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any("\x00" in key or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def _decode_error(message: str, data: bytes | str) -> json.JSONDecodeError:
    text = data if isinstance(data, str) else data.decode("utf-8", errors="replace")
    match = _WHERE.match(message)
    if match is None:
        return json.JSONDecodeError(message, text, 0)
    reason = _REASONS.get(match["reason"], match["reason"])
    line, column = int(match["line"]), int(match["column"])
    lines = text.split("\n")
    pos = sum(len(part) + 1 for part in lines[: line - 1]) + max(column - 1, 0)
    return json.JSONDecodeError(reason, text, min(pos, len(text)))
