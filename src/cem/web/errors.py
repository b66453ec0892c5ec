"""Readable HTML error pages for browser requests."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cem.web.templating import templates


def render_error_page(request: Request, status: int, detail: str) -> Response:
    if status == 401:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    return templates.TemplateResponse(
        request, "error.html", {"status": status, "detail": detail, "principal": None}, status_code=status
    )


__all__ = ["HTMLResponse", "render_error_page"]
