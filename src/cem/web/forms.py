"""Small helpers shared by HTML form routes: blank-field cleaning, readable validation messages, redirects."""

from __future__ import annotations

from fastapi.responses import RedirectResponse
from pydantic import ValidationError

FRIENDLY = {
    "string_pattern_mismatch": "use only letters, digits and _ . : - (no spaces)",
    "string_too_short": "this field is required",
    "missing": "this field is required",
    "bool_type": "choose yes or no",
    "bool_parsing": "choose yes or no",
}


def blank_to_none(value: str | None) -> str | None:
    """HTML forms send empty strings for untouched fields; treat them as absent."""
    if value is None:
        return None
    value = value.strip()
    return value or None


def validation_message(exc: ValidationError) -> str:
    """One readable sentence per invalid field, e.g. "key: use only letters, digits ..."."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()))
        msg = FRIENDLY.get(err.get("type", ""), err.get("msg", "invalid value"))
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts)


def see_other(url: str) -> RedirectResponse:
    """Post/redirect/get: a 303 so reloading the next page never re-posts the form."""
    return RedirectResponse(url, status_code=303)
