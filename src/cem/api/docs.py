"""The interactive API reference at /docs, served offline and under the app's Content-Security-Policy.

FastAPI's built-in /docs loads Swagger UI from a CDN and starts it with an inline script: offline it is blank,
and the CSP (no inline script, scripts from our own origin only) would refuse it anyway. Here Swagger UI 5 (the
first that reads OpenAPI 3.1, which FastAPI writes; the PyPI wheels that bundle it stop at 4.x) is vendored under
static/vendor from the npm package swagger-ui-dist, and started by our own static file.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse

ASSETS = "/static/vendor/swagger-ui-5.36.0"

PAGE = f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>cem API reference</title>
  <link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui" data-openapi-url="/openapi.json"></div>
  <script src="{ASSETS}/swagger-ui-bundle.js"></script>
  <script src="/static/js/api-docs.js"></script>
</body>
</html>
"""

router = APIRouter(include_in_schema=False)


@router.get("/docs", response_class=HTMLResponse)
def api_reference() -> HTMLResponse:
    return HTMLResponse(PAGE)


def install(app: FastAPI) -> None:
    """The /docs page (the app is created with docs_url=None, redoc_url=None; assets are under /static)."""
    app.include_router(router)
