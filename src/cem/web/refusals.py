"""A refused form, shown again: the reason in words and the status code of the error.

Pages catch the service's `CEMError`, pydantic's `ValidationError` (the form did not fit the schema) and, where
a field is parsed by hand (JSON, numbers), `ValueError`; all three end as the same page with a readable reason.
"""

from __future__ import annotations

from fastapi.responses import Response
from pydantic import ValidationError

from cem.errors import CEMError
from cem.web.forms import FRIENDLY, validation_message

FormError = CEMError | ValidationError | ValueError


def refusal_message(exc: FormError) -> str:
    """One readable sentence (or one per invalid field) saying why the input was refused."""
    if isinstance(exc, ValidationError):
        return validation_message(exc)
    if isinstance(exc, CEMError):
        return exc.detail
    return str(exc)


def refusal_status(exc: FormError) -> int:
    """The error's own status; 422 for input that did not validate."""
    return exc.status_code if isinstance(exc, CEMError) else 422


def refused(page: Response, exc: FormError) -> Response:
    """The form's page again, showing why the input was refused, with the error's status."""
    page.status_code = refusal_status(exc)
    return page


FORM = "form"  # the key of a refusal that names no field


def field_errors(exc: FormError) -> dict[str, str]:
    """The refusal per form field (the first element of each error's location), to show next to that field;
    a refusal that names no field is under FORM."""
    located: list[tuple[str, str]] = []
    if isinstance(exc, ValidationError):
        for err in exc.errors():
            loc = err.get("loc", ())
            located.append((str(loc[0]) if loc else FORM, FRIENDLY.get(err.get("type", ""), err.get("msg", ""))))
    elif isinstance(exc, CEMError) and exc.errors:
        located = [(str(e["loc"][0]) if e.get("loc") else FORM, str(e.get("msg") or exc.detail)) for e in exc.errors]
    else:
        located = [(FORM, refusal_message(exc))]
    found: dict[str, str] = {}
    for name, msg in located:
        found[name] = f"{found[name]}; {msg}" if name in found else msg
    return found
