"""Reading JSON, JSON-array and NDJSON bodies for bulk endpoints, with per-item validation errors."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from cem.errors import BadRequest, InvalidInput, PayloadTooLarge, UnsupportedMediaType

M = TypeVar("M", bound=BaseModel)
NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")


async def read_items(request: Request, *, max_items: int) -> list[Any]:
    """A JSON object, a JSON array, or NDJSON (one object per line) -> list of raw items."""
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("The body is not valid UTF-8.") from None
    if content_type in NDJSON_TYPES:
        items = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    items.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise BadRequest(f"Malformed JSON on line {number}: {exc.msg}.") from None
    elif content_type == "application/json":
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadRequest(f"Malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}.") from None
        items = parsed if isinstance(parsed, list) else [parsed]
    else:
        raise UnsupportedMediaType(
            f"Content-Type {content_type!r} is not accepted; send application/json or application/x-ndjson."
        )
    if not items:
        raise InvalidInput("The body holds no records.")
    if len(items) > max_items:
        raise PayloadTooLarge(f"{len(items)} records in one request; the limit is {max_items}. Split the batch.")
    return items


def validate_items(model: type[M], items: list[Any]) -> list[M]:
    """Validate every item; report all failures at once with the item index in `loc`."""
    valid: list[M] = []
    errors: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        try:
            valid.append(model.model_validate(item))
        except ValidationError as exc:
            for err in exc.errors():
                errors.append({"loc": [index, *err["loc"]], "msg": err["msg"], "type": err["type"]})
    if errors:
        first = errors[0]
        raise ValidationFailed(
            f"{len({e['loc'][0] for e in errors})} of {len(items)} records are invalid; nothing was stored. "
            f"First: record {first['loc'][0]}: {'.'.join(str(p) for p in first['loc'][1:])}: {first['msg']}",
            errors=errors,
        )
    return valid


class ValidationFailed(InvalidInput):
    code = "validation_error"
