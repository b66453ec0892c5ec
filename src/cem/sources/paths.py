"""Dotted JSON paths for webhook mappings: `user.email`, `items.0.id`, `answers.-1`, `a\\.b` for a key with a dot.

A segment of digits (optionally with a leading minus) indexes a list; on an object it is an ordinary key,
so `{"0": ...}` still resolves. Written here rather than pulled in (JSONPath/JMESPath) because mappings
only ever need plain lookups, and a tiny grammar gives users error messages that point at the exact step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

MAX_PATH_LENGTH = 300
MAX_DEPTH = 32
_INDEX = re.compile(r"^-?\d{1,9}$")


class PathSyntaxError(ValueError):
    """A path that cannot be parsed; the message says why."""


@dataclass(frozen=True)
class Missing:
    """Why a path found nothing: the step where resolution stopped."""

    reason: str


@lru_cache(maxsize=4096)  # a mapping's few paths are looked up for every record of every delivery
def parse_path(path: str) -> tuple[str, ...]:
    """Split a dotted path into segments, honouring `\\.` (a literal dot) and `\\\\` (a backslash)."""
    if not path or not path.strip():
        raise PathSyntaxError("a path cannot be empty")
    if len(path) > MAX_PATH_LENGTH:
        raise PathSyntaxError(f"a path is at most {MAX_PATH_LENGTH} characters")
    segments: list[str] = []
    current: list[str] = []
    chars = iter(path)
    for char in chars:
        if char == "\\":
            escaped = next(chars, None)
            if escaped not in (".", "\\"):
                raise PathSyntaxError(f"in {path!r}: a backslash may only escape '.' or '\\'")
            current.append(escaped)
        elif char == ".":
            segments.append(_segment(path, current))
            current = []
        else:
            current.append(char)
    segments.append(_segment(path, current))
    if len(segments) > MAX_DEPTH:
        raise PathSyntaxError(f"in {path!r}: at most {MAX_DEPTH} steps")
    return tuple(segments)


def _segment(path: str, chars: list[str]) -> str:
    segment = "".join(chars)
    if not segment:
        raise PathSyntaxError(f"in {path!r}: empty step (two dots in a row, or a leading/trailing dot)")
    return segment


def resolve(data: Any, segments: tuple[str, ...]) -> Any:
    """The value at `segments`, or a `Missing` telling where the lookup stopped."""
    current = data
    for depth, segment in enumerate(segments):
        where = ".".join(segments[: depth + 1])
        if isinstance(current, dict):
            if segment not in current:
                return Missing(f"no key {segment!r} at {where!r}")
            current = current[segment]
        elif isinstance(current, list):
            if not _INDEX.match(segment):
                return Missing(f"{'.'.join(segments[:depth]) or 'the record'!r} is a list; {segment!r} is not an index")
            index = int(segment)
            if not -len(current) <= index < len(current):
                return Missing(f"index {index} is out of range at {where!r} (the list has {len(current)} items)")
            current = current[index]
        else:
            parent = ".".join(segments[:depth]) or "the record"
            return Missing(f"{parent!r} is {_kind(current)}, not an object or list")
    return current


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return type(value).__name__
