"""Business errors. Services raise these; one handler renders them in one JSON shape.

Shape of every API error (also validation and HTTP errors):
    {"error": "<code>", "detail": "<human readable message>", "status": <int>, "errors": [{"loc": [...], "msg": "..."}]}
"""

from __future__ import annotations

from typing import Any


class CEMError(Exception):
    """Base class for errors a user can act on."""

    status_code = 400
    code = "bad_request"

    def __init_subclass__(cls, *, status_code: int | None = None, code: str | None = None, **kwargs: Any) -> None:
        """A subclass names its status and code in its class line: `class NotFound(CEMError, status_code=404, ...)`."""
        super().__init_subclass__(**kwargs)
        if status_code is not None:
            cls.status_code = status_code
        if code is not None:
            cls.code = code

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class BadRequest(CEMError, status_code=400, code="bad_request"): ...


class Unauthorized(CEMError, status_code=401, code="unauthorized"): ...


class Forbidden(CEMError, status_code=403, code="forbidden"): ...


class NotFound(CEMError, status_code=404, code="not_found"): ...


class Conflict(CEMError, status_code=409, code="conflict"): ...


class PayloadTooLarge(CEMError, status_code=413, code="payload_too_large"): ...


class UnsupportedMediaType(CEMError, status_code=415, code="unsupported_media_type"): ...


class TooManyRequests(CEMError, status_code=429, code="too_many_requests"):
    """Refused for now: retry after `retry_after` seconds (sent as the Retry-After header)."""

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = max(1, retry_after)

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class InvalidInput(CEMError, status_code=422, code="invalid_input"):
    """A semantically invalid request that passed schema validation (e.g. unknown reference)."""


def error_body(code: str, detail: str, status: int, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The one JSON error shape."""
    return {"error": code, "detail": detail, "status": status, "errors": errors or []}
