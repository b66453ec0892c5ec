"""Page dependencies: like the API's, but an anonymous visitor is sent to the login page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request

from cem.auth.caller import current_principal
from cem.auth.permissions import Permission
from cem.auth.principal import Principal
from cem.errors import Forbidden
from cem.web.templating import templates


def page_permission(permission: Permission) -> Callable[..., Any]:
    async def check(request: Request) -> Principal:
        principal = await current_principal(request)
        if not principal.can(permission):
            raise Forbidden(f"Your role ({principal.role}) cannot open this page.")
        return principal

    check.required_permission = permission  # type: ignore[attr-defined]
    return check


PageReader = Annotated[Principal, Depends(page_permission(Permission.read))]
PageWriter = Annotated[Principal, Depends(page_permission(Permission.write))]
PageJourneys = Annotated[Principal, Depends(page_permission(Permission.journeys))]
PageImporter = Annotated[Principal, Depends(page_permission(Permission.imports))]
PageExporter = Annotated[Principal, Depends(page_permission(Permission.export))]
PageSources = Annotated[Principal, Depends(page_permission(Permission.sources))]
PageWebhooks = Annotated[Principal, Depends(page_permission(Permission.webhooks))]
PageCases = Annotated[Principal, Depends(page_permission(Permission.cases))]
PageAdmin = Annotated[Principal, Depends(page_permission(Permission.admin))]


def render(request: Request, template: str, principal: Principal | None, **context: Any) -> Any:
    """Render a page with the principal (for the nav and the CSRF token) in context."""
    return templates.TemplateResponse(request, template, {"principal": principal, **context})
