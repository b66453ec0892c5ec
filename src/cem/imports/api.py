"""CSV / NDJSON imports over HTTP: upload (runs as a background job), status, error report, saved mappings."""

from __future__ import annotations

import io
import json
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from cem.api.body import StrictJsonRoute
from cem.api.deps import DbSession, Importer, Reader, get_settings
from cem.api.downloads import attachment, download_route
from cem.api.files import CSV
from cem.errors import BadRequest
from cem.exports_safety import csv_writer
from cem.imports import service
from cem.imports.schemas import MappingIn, MappingRead, MappingUpdate, RunRead
from cem.imports.suggest import Suggestion, source_name_of, suggest_for_file
from cem.json_input import parse_json
from cem.schemas import Id

router = APIRouter(tags=["imports"], route_class=StrictJsonRoute)


def parse_mapping_json(text: str | None) -> dict[str, Any] | None:
    """The mapping form field: empty means "none", otherwise a JSON object."""
    if text is None or not text.strip():
        return None
    try:
        value = parse_json(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"The mapping is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}.") from None
    if not isinstance(value, dict):
        raise BadRequest("The mapping must be a JSON object.")
    return value


@router.post("/imports", response_model=RunRead, status_code=202, summary="Upload a file to import in the background")
def create_import(
    request: Request,
    session: DbSession,
    actor: Importer,
    file: Annotated[UploadFile, File(description="CSV, or NDJSON (.ndjson/.jsonl) of feedback records")],
    target: Annotated[str, Form()] = "feedback",
    mapping: Annotated[str | None, Form(description="mapping as JSON; empty for the default")] = None,
    mapping_id: Annotated[Id | None, Form()] = None,
    save_mapping_as: Annotated[str | None, Form(max_length=200)] = None,
    encoding: Annotated[str | None, Form(max_length=40)] = None,
    delimiter: Annotated[str | None, Form(max_length=10)] = None,
) -> RunRead:
    """202 with the queued run; poll `GET /imports/{id}` for progress and the first row errors."""
    raw = parse_mapping_json(mapping)
    path = service.save_upload(file.file, file.filename or "upload.csv", get_settings(request).data_dir)
    run = service.start_import(
        session,
        actor=actor,
        path=path,
        filename=file.filename or "upload",
        target=target,
        mapping=raw,
        mapping_id=mapping_id,
        save_as=(save_mapping_as or "").strip() or None,
        encoding=encoding or None,
        delimiter=delimiter or None,
    )
    return RunRead.model_validate(run)


@router.post(
    "/imports/suggest-mapping", response_model=Suggestion, summary="Guess a mapping from a file's header and first rows"
)
def suggest_mapping(
    request: Request,
    _importer: Importer,  # who may import may ask for a mapping; nothing is stored
    file: Annotated[UploadFile, File(description="CSV file whose header and first 1,000 rows are read")],
    target: Annotated[str, Form()] = "feedback",
    encoding: Annotated[str | None, Form(max_length=40)] = None,
    delimiter: Annotated[str | None, Form(max_length=10)] = None,
) -> Suggestion:
    """The mapping to edit and pass back to `POST /imports`, each column's guessed type, examples, distinct and
    empty counts, and notes on what was assumed (scales, date order, keys). Nothing is stored; the upload is
    deleted once read."""
    filename = file.filename or "upload.csv"
    path = service.save_upload(file.file, filename, get_settings(request).data_dir)
    try:
        return suggest_for_file(
            path,
            target=target,
            encoding=encoding or None,
            delimiter=delimiter or None,
            source_name=source_name_of(filename),
        )
    finally:
        path.unlink(missing_ok=True)


@router.get("/imports", response_model=list[RunRead], summary="Recent import runs")
def list_imports(session: DbSession, actor: Reader) -> list[RunRead]:
    return [RunRead.model_validate(r) for r in service.list_runs(session, workspace_id=actor.workspace_id)]


@router.get("/imports/{run_id}", response_model=RunRead, summary="Status, counts and first errors of a run")
def get_import(session: DbSession, actor: Reader, run_id: Id) -> RunRead:
    return RunRead.model_validate(service.get_run(session, workspace_id=actor.workspace_id, run_id=run_id))


@router.post("/imports/{run_id}/resume", response_model=RunRead, status_code=202, summary="Continue an interrupted run")
def resume_import(session: DbSession, actor: Importer, run_id: Id) -> RunRead:
    """202 with the run queued again; it continues after its last committed batch. 409 unless interrupted."""
    return RunRead.model_validate(service.resume_run(session, actor=actor, run_id=run_id))


@download_route(
    router,
    "/imports/{run_id}/errors.csv",
    summary="The run's row errors as CSV (line, column, reason, value)",
    media_types=(CSV,),
)
def import_errors_csv(session: DbSession, actor: Reader, run_id: Id) -> Response:
    run = service.get_run(session, workspace_id=actor.workspace_id, run_id=run_id)
    buffer = io.StringIO()
    writer = csv_writer(buffer)
    writer.writerow(["line", "column", "reason", "value"])
    writer.writerows([e.get("line"), e.get("column"), e.get("reason"), e.get("value", "")] for e in run.errors or [])
    return attachment(buffer.getvalue(), "text/csv; charset=utf-8", f"import-{run.id}-errors.csv")


# -- saved mappings ------------------------------------------------------------------------------


@router.get("/import-mappings", response_model=list[MappingRead], summary="Saved import mappings")
def list_mappings(session: DbSession, actor: Reader) -> list[MappingRead]:
    return [MappingRead.model_validate(m) for m in service.list_mappings(session, workspace_id=actor.workspace_id)]


@router.post("/import-mappings", response_model=MappingRead, status_code=201, summary="Save a mapping")
def create_mapping(session: DbSession, actor: Importer, mapping_in: MappingIn) -> MappingRead:
    return MappingRead.model_validate(service.create_mapping(session, actor=actor, mapping_in=mapping_in))


@router.get("/import-mappings/{mapping_id}", response_model=MappingRead, summary="Get a saved mapping")
def get_mapping(session: DbSession, actor: Reader, mapping_id: Id) -> MappingRead:
    return MappingRead.model_validate(
        service.get_mapping(session, workspace_id=actor.workspace_id, mapping_id=mapping_id)
    )


@router.patch("/import-mappings/{mapping_id}", response_model=MappingRead, summary="Rename or change a mapping")
def update_mapping(session: DbSession, actor: Importer, mapping_id: Id, update: MappingUpdate) -> MappingRead:
    return MappingRead.model_validate(
        service.update_mapping(session, actor=actor, mapping_id=mapping_id, update=update)
    )


@router.delete("/import-mappings/{mapping_id}", status_code=204, summary="Delete a saved mapping")
def delete_mapping(session: DbSession, actor: Importer, mapping_id: Id) -> Response:
    service.delete_mapping(session, actor=actor, mapping_id=mapping_id)
    return Response(status_code=204)
