"""Running an import end to end: in-process for the CLI, or from a stored upload for the background job."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cem.auth import audit
from cem.auth.principal import Principal, system_principal
from cem.db.session import Database
from cem.imports import service
from cem.imports.engine import BATCH_ROWS, Counts, ErrorsFn, Plan, ProgressFn, execute
from cem.imports.models import ImportRun
from cem.imports.reader import ImportFileError, check_columns, inspect_file
from cem.imports.schemas import parse_mapping

log = logging.getLogger("cem.imports")


@dataclass
class LocalImport:
    """What `cem import` asks for."""

    path: Path
    target: str = "feedback"
    mapping: dict[str, Any] | None = None
    mapping_name: str | None = None
    save_as: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    batch_rows: int = BATCH_ROWS


@dataclass
class Outcome:
    run_id: int
    counts: Counts
    note: str


def run_local(
    db: Database,
    actor: Principal,
    request: LocalImport,
    *,
    on_start: Callable[[int, str], None] | None = None,
    on_progress: ProgressFn | None = None,
    on_errors: ErrorsFn | None = None,
) -> Outcome:
    """Check the file and mapping (nothing stored on a file-level error), then import it batch by batch."""
    info = inspect_file(request.path, encoding=request.encoding, delimiter=request.delimiter)
    with db.unit_of_work() as session:
        mapping, mapping_id, note = service.resolve_mapping(
            session,
            workspace_id=actor.workspace_id,
            target=request.target,
            info=info,
            mapping=request.mapping,
            mapping_name=request.mapping_name,
        )
        if request.save_as and mapping is not None:
            mapping_id = service.save_mapping_as(
                session, actor=actor, name=request.save_as, target=request.target, mapping=mapping
            )
        run = service.create_run(
            session,
            actor=actor,
            target=request.target,
            filename=request.path.name,
            mapping=mapping,
            mapping_id=mapping_id,
            total_rows=info.estimated_rows,
            status="running",
        )
        run.owner = service.this_process()
        run_id = run.id
    if on_start:
        on_start(info.estimated_rows, note)
    plan = Plan(info=info, target=request.target, mapping=mapping, actor=actor, run_id=run_id)
    try:
        counts = execute(db, plan, batch_rows=request.batch_rows, on_progress=on_progress, on_errors=on_errors)
    except Exception as exc:
        _fail(db, run_id, f"Stopped: {exc}")
        raise
    _complete(db, actor, run_id, counts)
    return Outcome(run_id, counts, note)


def _complete(db: Database, actor: Principal, run_id: int, counts: Counts) -> None:
    with db.unit_of_work() as session:
        service.finish_run(session, run_id=run_id, counts=counts, message=service.summary(counts), failed=False)
        details = {"rows": counts.processed, "ok": counts.ok, "errors": counts.errors}
        audit.record(session, actor, "import.complete", entity_type="import_run", entity_id=run_id, details=details)


def _fail(db: Database, run_id: int, message: str) -> None:
    with db.unit_of_work() as session:
        service.finish_run(session, run_id=run_id, counts=None, message=message, failed=True)


def run_stored(
    db: Database,
    *,
    run_id: int,
    encoding: str | None = None,
    delimiter: str | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, Any]:
    """The background job's body: import a stored upload, resuming from the run's committed progress."""
    with db.unit_of_work() as session:
        run = session.get(ImportRun, run_id)
        if run is None or run.status in ("done", "failed"):
            return {"skipped": True}
        run.status, run.message, run.owner = "running", "", service.this_process()
        actor = system_principal(run.workspace_id, label=f"import by {run.created_by}"[:200], actor_type="system")
        path, target, raw_mapping, start = Path(run.stored_path), run.target, run.mapping, service.counts_of(run)
    try:
        info = inspect_file(path, encoding=encoding, delimiter=delimiter)
        mapping = None if info.kind == "ndjson" else parse_mapping(target, raw_mapping)
        if mapping is not None:
            check_columns(info, service.mapping_columns(mapping))
    except ImportFileError as exc:
        _fail(db, run_id, exc.detail)
        path.unlink(missing_ok=True)
        return {"failed": exc.detail}

    def report(counts: Counts) -> None:
        if progress:
            progress(counts.processed, counts.total, service.summary(counts))

    plan = Plan(info=info, target=target, mapping=mapping, actor=actor, run_id=run_id)
    try:
        counts = execute(db, plan, start=start, on_progress=report)
    except Exception as exc:
        _retrying(db, run_id, exc)
        raise
    _complete(db, actor, run_id, counts)
    path.unlink(missing_ok=True)
    return {"rows": counts.processed, "ok": counts.ok, "errors": counts.errors}


def _retrying(db: Database, run_id: int, exc: Exception) -> None:
    """Keep the upload and the committed batches; the job's retry resumes after the last committed batch."""
    log.warning("import run %s stopped: %s", run_id, exc)
    with db.unit_of_work() as session:
        run = session.get(ImportRun, run_id)
        if run is not None:
            run.status, run.owner = "queued", ""
            run.message = f"Stopped by an error, will retry: {exc}"[:2000]


def recover_interrupted(db: Database) -> list[int]:
    """At the start of a server, worker or `cem import`: runs whose importing process died become interrupted."""
    with db.unit_of_work() as session:
        ids = service.mark_interrupted(session)
    if ids:
        log.warning("import runs %s were interrupted (their process stopped); they can be resumed", ids)
    return ids
