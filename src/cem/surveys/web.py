"""HTML pages of surveys: the builder for the CX team (its preview and the response viewer: cem.responses.web_team).

The builder is forms per question, page and ending (plain POST + redirect, works without JavaScript):
display and jump conditions as rows joined by all/any, page calculations; a JSON editor for everything
else (e.g. groups nested inside groups, shown read-only in the forms), a live preview of the
working copy in an iframe (reloaded after every save) and lifecycle buttons.
Every edit goes through service.update_survey: on a live survey it must be valid and makes a version.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from cem.api.deps import get_db
from cem.auth.permissions import Permission
from cem.auth.principal import Principal
from cem.errors import CEMError
from cem.json_input import parse_json
from cem.surveys import builder, service
from cem.surveys.builder import BuilderError, Form
from cem.surveys.definition import (
    OPERATORS,
    QUESTION_TYPE_LABELS,
    QUESTION_TYPES,
    DefinitionError,
    parse_definition,
    validate_definition,
)
from cem.surveys.models import Survey
from cem.web.deps import PageReader, page_permission, render
from cem.web.forms import see_other

router = APIRouter()

PageSurveys = Annotated[Principal, Depends(page_permission(Permission.surveys))]
Edit = Callable[[dict[str, Any], Form], dict[str, Any]]
Change = Callable[[Session, Survey], None]


async def _form(request: Request) -> dict[str, list[str]]:
    posted = await request.form()
    return {key: [v for v in posted.getlist(key) if isinstance(v, str)] for key in posted}


def _grouped(problems: list[DefinitionError]) -> dict[str, list[DefinitionError]]:
    """Problems by the item they belong to ("pages[0].questions[1]", "pages[0]", "endings[0]", "")."""
    groups: dict[str, list[DefinitionError]] = {}
    for problem in problems:
        parts = problem.path.split(".")
        key = ""
        if parts[0].startswith("pages["):
            key = parts[0]
            if len(parts) > 1 and parts[1].startswith("questions["):
                key = f"{parts[0]}.{parts[1]}"
        elif parts[0].startswith("endings["):
            key = parts[0]
        groups.setdefault(key, []).append(problem)
    return groups


def _editor(request: Request, principal: Principal, survey_id: int, **extra: Any) -> Response:
    with get_db(request).unit_of_work(readonly=True) as session:
        survey = service.get_survey(session, workspace_id=principal.workspace_id, survey_id=survey_id)
        defn = parse_definition(survey.definition)
        problems = validate_definition(defn)
        versions = service.list_versions(session, survey)
        counts = service.response_counts(session, survey)
    context = {
        "survey": survey,
        "defn": defn,
        "raw_json": json.dumps(survey.definition, indent=2, ensure_ascii=False),
        "problems": problems,
        "errors": [p for p in problems if p.severity == "error"],
        "grouped": _grouped(problems),
        "versions": versions,
        "counts": counts,
        "languages": defn.all_languages(),
        "question_types": [(t, QUESTION_TYPE_LABELS[t]) for t in QUESTION_TYPES],
        "operators": OPERATORS,
        "sources": builder.SOURCES,
        "condition_editor": builder.condition_editor,
        "calc_ops": [(op, builder.CALC_OP_LABELS.get(op, op)) for op in builder.CALC_OPS],
        "targets": [p.id for p in defn.pages] + [e.id for e in defn.endings],
        "can_edit": principal.can(Permission.surveys),
        "error": None,
        "error_list": [],
        **extra,
    }
    return render(request, "surveys/edit.html", principal, **context)


async def _apply(request: Request, principal: Principal, survey_id: int, edit: Edit, anchor: str = "") -> Response:
    """Run one builder edit and save it; on a bad edit re-render the editor with the reason, nothing saved."""
    form = await _form(request)

    def change(session: Session, survey: Survey) -> None:
        service.update_survey(session, principal, survey, definition=edit(survey.definition, form))

    return await _save(request, principal, survey_id, change, anchor)


async def _save(request: Request, principal: Principal, survey_id: int, change: Change, anchor: str = "") -> Response:
    """Apply `change` to the survey in one unit of work, then show the editor at `anchor`; a bad change
    re-renders the editor with the reason, nothing saved."""

    def work() -> None:
        with get_db(request).unit_of_work() as session:
            change(session, service.get_survey(session, workspace_id=principal.workspace_id, survey_id=survey_id))

    try:
        await run_in_threadpool(work)
    except BuilderError as exc:
        return _error(request, principal, survey_id, str(exc), [], 400)
    except CEMError as exc:
        if exc.status_code == 404:
            raise
        return _error(request, principal, survey_id, exc.detail, exc.errors, exc.status_code)
    return see_other(f"/surveys/{survey_id}{anchor}")


def _error(
    request: Request, principal: Principal, survey_id: int, message: str, errors: list[dict[str, Any]], status: int
) -> Response:
    lines = [f"{'.'.join(str(x) for x in e.get('loc', []))}: {e.get('msg', '')}" for e in errors]
    response = _editor(request, principal, survey_id, error=message, error_list=lines)
    response.status_code = status
    return response


# --------------------------------------------------------------------------------------------------
# List, create


@router.get("/surveys")
def survey_list(request: Request, principal: PageReader) -> Response:
    with get_db(request).unit_of_work(readonly=True) as session:
        surveys = service.list_surveys(session, workspace_id=principal.workspace_id)
        counts = {s.id: service.response_counts(session, s) for s in surveys}
    return render(
        request,
        "surveys/list.html",
        principal,
        surveys=surveys,
        counts=counts,
        can_edit=principal.can(Permission.surveys),
    )


@router.get("/surveys/new")
def survey_new(request: Request, principal: PageSurveys) -> Response:
    return render(request, "surveys/new.html", principal, error=None, form={})


@router.post("/surveys")
async def survey_create(request: Request, principal: PageSurveys) -> Response:
    form = await _form(request)
    name, slug, raw = builder.one(form, "name"), builder.one(form, "slug"), builder.one(form, "definition")

    def work() -> int:
        definition = None
        if raw:
            try:
                definition = parse_json(raw)
            except json.JSONDecodeError as exc:
                raise BuilderError(f"The definition is not valid JSON: {exc.msg} (line {exc.lineno}).") from None
        if not name:
            raise BuilderError("Give the survey a name.")
        with get_db(request).unit_of_work() as session:
            survey = service.create_survey(
                session, principal, name=name[:200], slug=slug or None, definition=definition
            )
            return survey.id

    try:
        survey_id = await run_in_threadpool(work)
    except (BuilderError, CEMError) as exc:
        message = str(exc) if isinstance(exc, BuilderError) else exc.detail
        errors = [] if isinstance(exc, BuilderError) else exc.errors
        detail = [f"{'.'.join(str(x) for x in e.get('loc', []))}: {e.get('msg', '')}" for e in errors]
        status = 400 if isinstance(exc, BuilderError) else exc.status_code
        response = render(
            request,
            "surveys/new.html",
            principal,
            error=message,
            error_list=detail,
            form={"name": name, "slug": slug, "definition": raw},
        )
        response.status_code = status
        return response
    return see_other(f"/surveys/{survey_id}")


# --------------------------------------------------------------------------------------------------
# Editor


@router.get("/surveys/{survey_id}")
def survey_edit(request: Request, principal: PageReader, survey_id: int) -> Response:
    return _editor(request, principal, survey_id)


@router.post("/surveys/{survey_id}/settings")
async def survey_settings(request: Request, principal: PageSurveys, survey_id: int) -> Response:
    form = await _form(request)
    name, slug = builder.one(form, "name"), builder.one(form, "slug")

    def change(session: Session, survey: Survey) -> None:
        service.update_survey(
            session,
            principal,
            survey,
            name=name or None,
            slug=slug if slug and slug != survey.slug else None,
            definition=builder.edit_settings(survey.definition, form),
        )

    return await _save(request, principal, survey_id, change, "#settings")


@router.post("/surveys/{survey_id}/json")
async def survey_json(request: Request, principal: PageSurveys, survey_id: int) -> Response:
    def replace(_old: dict[str, Any], form: Form) -> dict[str, Any]:
        try:
            value = parse_json(builder.one(form, "definition"))
        except json.JSONDecodeError as exc:
            raise BuilderError(f"The definition is not valid JSON: {exc.msg} (line {exc.lineno}).") from None
        if not isinstance(value, dict):
            raise BuilderError("The definition must be a JSON object.")
        return value

    return await _apply(request, principal, survey_id, replace, "#json")


@router.post("/surveys/{survey_id}/pages")
async def page_add(request: Request, principal: PageSurveys, survey_id: int) -> Response:
    return await _apply(request, principal, survey_id, builder.add_page)


@router.post("/surveys/{survey_id}/pages/{page_id}")
async def page_edit(request: Request, principal: PageSurveys, survey_id: int, page_id: str) -> Response:
    def edit(defn: dict[str, Any], form: Form) -> dict[str, Any]:
        action = builder.one(form, "action", "save")
        if action == "save":
            return builder.edit_page(defn, page_id, form)
        return builder.page_action(defn, page_id, action)

    return await _apply(request, principal, survey_id, edit, f"#page-{page_id}")


@router.post("/surveys/{survey_id}/pages/{page_id}/questions")
async def question_add(request: Request, principal: PageSurveys, survey_id: int, page_id: str) -> Response:
    return await _apply(
        request, principal, survey_id, lambda d, f: builder.add_question(d, page_id, f), f"#page-{page_id}"
    )


@router.post("/surveys/{survey_id}/questions/{question_id}")
async def question_edit(request: Request, principal: PageSurveys, survey_id: int, question_id: str) -> Response:
    def edit(defn: dict[str, Any], form: Form) -> dict[str, Any]:
        action = builder.one(form, "action", "save")
        if action == "save":
            return builder.edit_question(defn, question_id, form)
        return builder.question_action(defn, question_id, action, form)

    return await _apply(request, principal, survey_id, edit, f"#q-{question_id}")


@router.post("/surveys/{survey_id}/endings")
async def ending_add(request: Request, principal: PageSurveys, survey_id: int) -> Response:
    return await _apply(request, principal, survey_id, builder.add_ending, "#endings")


@router.post("/surveys/{survey_id}/endings/{ending_id}")
async def ending_edit(request: Request, principal: PageSurveys, survey_id: int, ending_id: str) -> Response:
    return await _apply(request, principal, survey_id, lambda d, f: builder.edit_ending(d, ending_id, f), "#endings")


@router.post("/surveys/{survey_id}/status")
async def survey_status(request: Request, principal: PageSurveys, survey_id: int) -> Response:
    """publish | pause | close; publishing an invalid survey shows its located errors."""
    form = await _form(request)
    action = builder.one(form, "action")

    def change(session: Session, survey: Survey) -> None:
        if action == "publish":
            service.publish_survey(session, principal, survey)
        elif action in ("pause", "close"):
            service.set_status(session, principal, survey, "paused" if action == "pause" else "closed")
        else:
            raise BuilderError(f"Unknown action {action!r}.")

    return await _save(request, principal, survey_id, change)
