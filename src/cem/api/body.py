"""Reading JSON, JSON-array and NDJSON bodies for bulk endpoints, with per-item validation errors."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from cem.errors import BadRequest, InvalidInput, PayloadTooLarge, UnsupportedMediaType
from cem.json_input import parse_json

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
                    items.append(parse_json(line))
                except json.JSONDecodeError as exc:
                    raise BadRequest(f"Malformed JSON on line {number}: {exc.msg}.") from None
    elif content_type == "application/json":
        try:
            parsed = parse_json(text)
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


class ValidationFailed(InvalidInput, code="validation_error"): ...


class StrictJsonRequest(Request):
    """A request whose JSON body is read by cem's one parser (no lone surrogates, bounded nesting)."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_json(await self.body())
        return self._json


class StrictJsonRoute(APIRoute):
    """The route class of every JSON API router: FastAPI parses declared bodies with `request.json()`, which
    for a plain Starlette request is `json.loads` (a RecursionError, i.e. a 500, on deeply nested input)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict_handler
