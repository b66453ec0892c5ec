"""Routes that answer with a file to save (CSV, XLSX, JSON) instead of a JSON body: the route and the response."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter
from fastapi.responses import Response
from fastapi.types import DecoratedCallable

from cem.api.files import file_responses


def download_route(
    router: APIRouter, path: str, *, summary: str, media_types: tuple[str, ...]
) -> Callable[[DecoratedCallable], DecoratedCallable]:
    """A GET route on `router` whose 200 is a file of one of `media_types` (documented as such in OpenAPI)."""
    return router.get(path, summary=summary, response_class=Response, responses=file_responses(*media_types))


def attachment(content: bytes | str, media_type: str, filename: str) -> Response:
    """`content` as a file the browser saves under `filename`."""
    headers = {"content-disposition": f'attachment; filename="{filename}"'}
    return Response(content, media_type=media_type, headers=headers)
