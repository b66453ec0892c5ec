"""Sources pages: list and create inbound webhooks, show the URL and a curl example, rotate, (de)activate."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from cem.api.deps import get_db, get_settings
from cem.auth.permissions import Permission
from cem.auth.principal import Principal
from cem.errors import CEMError
from cem.json_input import parse_json
from cem.sources import service
from cem.sources.examples import EXAMPLE_MAPPING, example_payload
from cem.sources.schemas import SourceCreate, SourceMapping, SourceUpdate
from cem.web.deps import PageReader, PageSources, render

router = APIRouter()

SOURCE_TYPES = ("review", "ticket", "chat", "social", "survey", "api")
MappingText = Annotated[str, Form(max_length=100_000)]


def _problems(exc: ValidationError) -> list[str]:
    """Readable lines for a form: `mapping.fields.0.field_type: Input should be ...`."""
    return [f"{'.'.join(str(p) for p in err['loc']) or 'form'}: {err['msg']}" for err in exc.errors()]


def _parse_mapping(text: str) -> Any:
    try:
        return parse_json(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"The mapping is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).") from None


def _index(request: Request, principal: Principal, *, status: int = 200, **context: Any) -> Response:
    with get_db(request).unit_of_work(readonly=True) as session:
        sources = service.list_sources(session, workspace_id=principal.workspace_id)
        slug = service.workspace_slug(session, workspace_id=principal.workspace_id)
    form = context.pop("form", None) or {"key": "", "name": "", "source_type": "review", "mapping": EXAMPLE_MAPPING}
    response = render(
        request,
        "sources/index.html",
        principal,
        sources=sources,
        urls={s.id: _url(request, slug, s.key) for s in sources},
        can_manage=principal.can(Permission.sources),
        source_types=SOURCE_TYPES,
        form=form,
        errors=context.pop("errors", []),
        **context,
    )
    response.status_code = status
    return response


def _url(request: Request, slug: str, key: str) -> str:
    return str(request.base_url).rstrip("/") + service.hook_path(slug, key)


def _detail(request: Request, principal: Principal, source_id: int, *, status: int = 200, **context: Any) -> Response:
    with get_db(request).unit_of_work(readonly=True) as session:
        source = service.get_source(session, workspace_id=principal.workspace_id, source_id=source_id)
        slug = service.workspace_slug(session, workspace_id=principal.workspace_id)
    response = render(
        request,
        "sources/detail.html",
        principal,
        source=source,
        url=_url(request, slug, source.key),
        mapping_text=context.pop("mapping_text", None) or json.dumps(source.mapping, indent=2, ensure_ascii=False),
        payload=json.dumps(example_payload(source.mapping), indent=2, ensure_ascii=False),
        can_manage=principal.can(Permission.sources),
        errors=context.pop("errors", []),
        **context,
    )
    response.status_code = status
    return response


@router.get("/sources")
def sources_page(request: Request, principal: PageReader) -> Response:
    """The list of sources, and the create form for those who may manage them."""
    return _index(request, principal)


@router.post("/sources")
def create_source(
    request: Request,
    principal: PageSources,
    key: Annotated[str, Form(max_length=200)],
    name: Annotated[str, Form(max_length=400)],
    source_type: Annotated[str, Form(max_length=32)],
    mapping: MappingText,
) -> Response:
    """Create a source and show its secret once; a bad form is shown again with every problem listed."""
    form = {"key": key, "name": name, "source_type": source_type, "mapping": mapping}
    try:
        source_in = SourceCreate.model_validate(
            {"key": key, "name": name, "source_type": source_type, "mapping": _parse_mapping(mapping)}
        )
        with get_db(request).unit_of_work() as session:
            secret_key = get_settings(request).secret_key
            issued = service.create_source(session, actor=principal, source_in=source_in, secret_key=secret_key)
    except ValidationError as exc:
        return _index(request, principal, status=422, form=form, errors=_problems(exc))
    except ValueError as exc:
        return _index(request, principal, status=422, form=form, errors=[str(exc)])
    except CEMError as exc:
        return _index(request, principal, status=exc.status_code, form=form, errors=[exc.detail])
    return _detail(request, principal, issued.source.id, status=201, secret=issued.secret, notice="Source created.")


@router.get("/sources/{source_id}")
def source_page(request: Request, principal: PageReader, source_id: int) -> Response:
    """One source: inbound URL, example payload and curl commands, management forms."""
    return _detail(request, principal, source_id)


@router.post("/sources/{source_id}/rotate")
def rotate_secret(request: Request, principal: PageSources, source_id: int) -> Response:
    """A new secret, shown once on the returned page; the old one stops working now."""
    with get_db(request).unit_of_work() as session:
        secret_key = get_settings(request).secret_key
        issued = service.rotate_secret(session, actor=principal, source_id=source_id, secret_key=secret_key)
    return _detail(request, principal, issued.source.id, secret=issued.secret, notice="Secret rotated.")


@router.post("/sources/{source_id}/active")
def toggle_active(
    request: Request, principal: PageSources, source_id: int, active: Annotated[bool, Form()]
) -> Response:
    """Switch a source on or off, then back to its page."""
    with get_db(request).unit_of_work() as session:
        service.update_source(session, actor=principal, source_id=source_id, update=SourceUpdate(is_active=active))
    return RedirectResponse(f"/sources/{source_id}", status_code=303)


@router.post("/sources/{source_id}/mapping")
def update_mapping(
    request: Request,
    principal: PageSources,
    source_id: int,
    name: Annotated[str, Form(max_length=400)],
    mapping: MappingText,
) -> Response:
    """Rename or remap; a bad mapping is shown again, as typed, with every problem listed."""
    try:
        update = SourceUpdate(name=name, mapping=SourceMapping.model_validate(_parse_mapping(mapping)))
        with get_db(request).unit_of_work() as session:
            service.update_source(session, actor=principal, source_id=source_id, update=update)
    except ValidationError as exc:
        return _detail(request, principal, source_id, status=422, mapping_text=mapping, errors=_problems(exc))
    except ValueError as exc:
        return _detail(request, principal, source_id, status=422, mapping_text=mapping, errors=[str(exc)])
    except CEMError as exc:
        return _detail(request, principal, source_id, status=exc.status_code, mapping_text=mapping, errors=[exc.detail])
    return RedirectResponse(f"/sources/{source_id}", status_code=303)
