"""OpenAPI description of operations that answer with a file instead of JSON."""

from __future__ import annotations

from typing import Any

CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def file_responses(*media_types: str) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route with `response_class=Response`: its 200 is a file of one of `media_types`
    (FastAPI would otherwise document an application/json body that the route never sends)."""
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {200: {"description": "The file", "content": dict.fromkeys(media_types, binary)}}
