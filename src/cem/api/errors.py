"""Exception handlers: every API error leaves in the one JSON shape of cem.errors.error_body."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request, params
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from psycopg.errors import NumericValueOutOfRange, UntranslatableCharacter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from cem.errors import CEMError, InvalidInput, NotFound, TooManyRequests, UnsupportedMediaType, error_body

log = logging.getLogger("cem.api")
NUL_IN_TEXT = "Text in the request holds the NUL character (\\u0000), which cannot be stored or searched for."


def _is_nul_refusal(error: BaseException | None) -> bool:
    """PostgreSQL refuses NUL in text: psycopg before sending a parameter, the server inside jsonb (SQLite keeps it).

    JSON bodies are refused at parsing (cem.json_input); this catches the rest (query strings, form fields)."""
    return isinstance(error, UntranslatableCharacter) or "NUL (0x00)" in str(error)


FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    500: "internal_error",
}


class ErrorItem(BaseModel):
    """One problem: where (`loc`: field path, record index, line) and what (`msg`)."""

    model_config = ConfigDict(extra="allow")

    loc: list[str | int] = Field(default_factory=list)
    msg: str


class ErrorBody(BaseModel):
    """The one error shape of every API response with a 4xx or 5xx status."""

    error: str = Field(description="machine-readable code, e.g. not_found, validation_error")
    detail: str = Field(description="what went wrong, for a person")
    status: int = Field(description="the HTTP status code again")
    errors: list[ErrorItem] = Field(description="each problem found (validation errors list every field)")


ERROR_STATUSES = {
    400: "Malformed request: JSON that does not parse, a bad cursor or parameter combination",
    401: "Authentication required or failed",
    403: "The caller's role or token scopes do not allow this",
    404: "No such resource (or not in the caller's workspace)",
    409: "Conflicts with stored data (duplicate key, wrong state)",
    413: "The body or batch is larger than the limit",
    415: "The body's Content-Type is not accepted here",
    422: "The request is well formed but invalid; `errors` lists every problem",
    429: "Too many requests; retry after the Retry-After header's seconds",
    500: "Internal error (logged on the server)",
}
# Documented on every /api/v1 operation (cem.routes.api_router); this also replaces FastAPI's own 422 schema
# (HTTPValidationError), which is not what the exception handlers below send.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description} for status, description in ERROR_STATUSES.items()
}


def _clean(errors: list[Any]) -> list[dict[str, Any]]:
    cleaned = []
    for err in errors:
        loc = [p for p in err.get("loc", ()) if p != "body"]
        cleaned.append({"loc": loc, "msg": str(err.get("msg", "")), "type": str(err.get("type", ""))})
    return cleaned


def _json_detail(raw: list[Any]) -> str:
    err = next(e for e in raw if e.get("type") == "json_invalid")
    where = err.get("loc", ())[-1]
    reason = (err.get("ctx") or {}).get("error") or err.get("msg", "")
    return f"Malformed JSON body at character {where}: {reason}."


def _not_validation(request: Request, raw: list[Any]) -> CEMError | None:
    """Request errors that are not payload validation get their real status (422 is for payloads only)."""
    locs = [tuple(e.get("loc", ())) for e in raw]
    if locs and all(loc[:1] == ("path",) for loc in locs):
        # /customers/abc names no customer, exactly like /customers/999999.
        return NotFound(f"No resource matches {request.url.path}.")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    has_body = bool(content_type) or request.headers.get("content-length", "0") != "0"
    expected = _expected_media(request)
    if not (
        request.url.path.startswith("/api/") and has_body and expected and any(loc[:1] == ("body",) for loc in locs)
    ):
        return None
    accepted = (
        content_type in FORM_TYPES if expected != "application/json" else content_type.endswith(("/json", "+json"))
    )
    if accepted:
        return None
    return UnsupportedMediaType(f"Content-Type {content_type or '(none)'!r} is not accepted here; send {expected}.")


def _expected_media(request: Request) -> str | None:
    """The media type the matched route reads its body as (None: it declares no body)."""
    route = request.scope.get("route")
    body = route.dependant.body_params if isinstance(route, APIRoute) else []
    if not body:
        return None
    if any(isinstance(p.field_info, params.File) for p in body):
        return "multipart/form-data"
    if any(isinstance(p.field_info, params.Form) for p in body):
        return "application/x-www-form-urlencoded or multipart/form-data"
    return "application/json"


def wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def install(app: FastAPI) -> None:
    from cem.web.errors import render_error_page

    @app.exception_handler(CEMError)
    async def _cem_error(request: Request, exc: CEMError) -> Response:
        headers = exc.headers if isinstance(exc, TooManyRequests) else None
        if wants_html(request):
            page = render_error_page(request, exc.status_code, exc.detail)
            page.headers.update(headers or {})
            return page
        body = error_body(exc.code, exc.detail, exc.status_code, exc.errors)
        return JSONResponse(body, exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        raw = list(exc.errors())
        errors = _clean(raw)
        if any(e["type"] == "json_invalid" for e in errors):
            return JSONResponse(error_body("malformed_json", _json_detail(raw), 400, errors), 400)
        refusal = _not_validation(request, raw)
        if refusal is not None:
            return await _cem_error(request, refusal)
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"]) or "body"
        detail = f"Invalid request: {where}: {first['msg']}"
        if wants_html(request):
            return render_error_page(request, 422, detail)
        return JSONResponse(error_body("validation_error", detail, 422, errors), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = HTTP_CODES.get(exc.status_code, "http_error")
        detail = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"No route matches {request.method} {request.url.path}."
        if exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}."
        if wants_html(request):
            return render_error_page(request, exc.status_code, detail)
        return JSONResponse(error_body(code, detail, exc.status_code), exc.status_code, headers=exc.headers)

    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, exc: OverflowError) -> Response:  # noqa: ARG001
        # Safety net behind the bounded id types (cem.schemas.Id): sqlite3 cannot bind an int beyond 64 bits.
        return await _cem_error(request, InvalidInput("A number in the request is too large to store."))

    @app.exception_handler(DataError)
    async def _data_error(request: Request, exc: DataError) -> Response:
        # The same safety net on PostgreSQL, which refuses an out-of-range integer at execution time.
        if isinstance(exc.orig, NumericValueOutOfRange):
            return await _cem_error(request, InvalidInput("A number in the request is too large to store."))
        if _is_nul_refusal(exc.orig):
            return await _cem_error(request, InvalidInput(NUL_IN_TEXT))
        return await _unexpected(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:  # noqa: ARG001
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        detail = "Internal error; it has been logged."
        if wants_html(request):
            return render_error_page(request, 500, detail)
        return JSONResponse(error_body("internal_error", detail, 500), 500)
