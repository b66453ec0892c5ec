"""Import pages: upload a CSV/NDJSON file with a column mapping, then watch the run and its error report.

Simplest use, with the default mapping: upload a CSV whose header is

    submission_id,email,nps,comment

leave the mapping empty and press "Import". The default mapping picks `submission_id` as the submission,
`email` as the customer's email, `nps` as an NPS answer (0-10) and `comment` as a text answer, so every
row becomes up to two feedback records (source csv/import). A row whose nps is "eleven" is rejected
and listed in the error table (`#import-errors tr[data-line="N"]`, N being its line in the file);
the other rows are stored. The run page polls its status every second until it reads "done" or "failed".

Stable element ids (used by the browser tests): form `#import-form` (file input `file`, select `target`,
textarea `mapping`), button `#import-submit`, and on the run page `#import-status`, `#import-progress`,
`#import-ok-rows`, `#import-error-rows` and `#import-errors`.
"""

from __future__ import annotations

from typing import Annotated, Any, get_args

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from cem.api.deps import get_db, get_settings
from cem.auth.permissions import Permission
from cem.auth.principal import Principal
from cem.errors import CEMError
from cem.feedback.schemas import FieldType
from cem.imports import service
from cem.imports.api import parse_mapping_json
from cem.imports.schemas import TARGETS
from cem.web.deps import PageImporter, PageReader, render

router = APIRouter()


def _index(
    request: Request, principal: Principal, *, form: dict[str, Any], error: str = "", status: int = 200
) -> Response:
    with get_db(request).unit_of_work(readonly=True) as session:
        runs = service.list_runs(session, workspace_id=principal.workspace_id)
        mappings = service.list_mappings(session, workspace_id=principal.workspace_id)
    response = render(
        request,
        "imports/index.html",
        principal,
        runs=runs,
        mappings=mappings,
        targets=TARGETS,
        field_types=get_args(FieldType),
        can_import=principal.can(Permission.imports),
        form=form,
        error=error,
    )
    response.status_code = status
    return response


@router.get("/imports")
def imports_page(request: Request, principal: PageReader) -> Response:
    return _index(request, principal, form={"target": "feedback", "mapping": ""})


@router.post("/imports")
def upload(
    request: Request,
    principal: PageImporter,
    file: Annotated[UploadFile, File()],
    target: Annotated[str, Form()] = "feedback",
    mapping: Annotated[str, Form()] = "",
    mapping_id: Annotated[str, Form()] = "",
    save_mapping_as: Annotated[str, Form(max_length=200)] = "",
    encoding: Annotated[str, Form(max_length=40)] = "",
    delimiter: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Store the upload and queue the run; a file-level problem re-shows the form with the reason."""
    form = {
        "target": target,
        "mapping": mapping,
        "mapping_id": mapping_id,
        "save_mapping_as": save_mapping_as,
        "encoding": encoding,
    }
    try:
        if not file.filename:
            raise CEMError("Choose a file to import.")
        raw = parse_mapping_json(mapping)
        path = service.save_upload(file.file, file.filename, get_settings(request).data_dir)
        with get_db(request).unit_of_work() as session:
            run = service.start_import(
                session,
                actor=principal,
                path=path,
                filename=file.filename,
                target=target,
                mapping=raw,
                mapping_id=int(mapping_id) if mapping_id.strip().isdigit() else None,
                save_as=save_mapping_as.strip() or None,
                encoding=encoding.strip() or None,
                delimiter=delimiter or None,
            )
            run_id = run.id
    except CEMError as exc:
        return _index(request, principal, form=form, error=exc.detail, status=exc.status_code)
    return RedirectResponse(f"/imports/{run_id}", status_code=303)


def _render_run(request: Request, principal: Principal, run_id: int, template: str) -> Response:
    with get_db(request).unit_of_work(readonly=True) as session:
        run = service.get_run(session, workspace_id=principal.workspace_id, run_id=run_id)
    return render(request, template, principal, run=run, can_import=principal.can(Permission.imports))


@router.get("/imports/{run_id}")
def run_page(request: Request, principal: PageReader, run_id: int) -> Response:
    return _render_run(request, principal, run_id, "imports/run.html")


@router.post("/imports/{run_id}/resume")
def resume(request: Request, principal: PageImporter, run_id: int) -> Response:
    """Queue an interrupted run again, then show its page (which polls until it ends)."""
    with get_db(request).unit_of_work() as session:
        service.resume_run(session, actor=principal, run_id=run_id)
    return RedirectResponse(f"/imports/{run_id}", status_code=303)


@router.get("/imports/{run_id}/status")
def run_status(request: Request, principal: PageReader, run_id: int) -> Response:
    """The status fragment the run page polls (it stops polling once the run has ended)."""
    return _render_run(request, principal, run_id, "imports/_status.html")
