"""Imports: saved mappings, import runs, the default mapping, and running an import (CLI or job)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import uuid
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from cem.auth import audit
from cem.auth.principal import Principal
from cem.db.base import utcnow
from cem.db.unique import flush_unique
from cem.errors import Conflict, InvalidInput, NotFound
from cem.imports import engine
from cem.imports.models import ImportMapping, ImportRun
from cem.imports.reader import FileInfo, ImportFileError, check_columns, delimiter_hint, inspect_file
from cem.imports.schemas import (
    AnyMapping,
    CustomerMap,
    FeedbackMapping,
    FieldMap,
    MappingIn,
    MappingUpdate,
    mapped_columns,
    parse_mapping,
    parse_target,
)
from cem.jobs.models import Job
from cem.jobs.queue import enqueue

# -- saved mappings ------------------------------------------------------------------------------


def list_mappings(session: Session, *, workspace_id: int) -> list[ImportMapping]:
    """Saved mappings of the workspace by name."""
    stmt = select(ImportMapping).where(ImportMapping.workspace_id == workspace_id).order_by(ImportMapping.name)
    return list(session.scalars(stmt))


def get_mapping(session: Session, *, workspace_id: int, mapping_id: int) -> ImportMapping:
    """One saved mapping, or NotFound."""
    found = session.get(ImportMapping, mapping_id)
    if found is None or found.workspace_id != workspace_id:
        raise NotFound(f"Import mapping {mapping_id} does not exist.")
    return found


def mapping_by_name(session: Session, *, workspace_id: int, name: str) -> ImportMapping:
    """A saved mapping by its name, or NotFound listing the names that exist."""
    found = session.scalars(
        select(ImportMapping).where(ImportMapping.workspace_id == workspace_id, ImportMapping.name == name)
    ).first()
    if found is None:
        names = [m.name for m in list_mappings(session, workspace_id=workspace_id)]
        raise NotFound(f"No saved mapping is named {name!r}; saved: {', '.join(names) or 'none'}.")
    return found


def create_mapping(session: Session, *, actor: Principal, mapping_in: MappingIn) -> ImportMapping:
    """Save a validated mapping under a workspace-unique name."""
    parsed = parse_mapping(mapping_in.target, mapping_in.mapping)
    saved = ImportMapping(
        workspace_id=actor.workspace_id,
        name=mapping_in.name,
        target=mapping_in.target,
        mapping=parsed.model_dump(mode="json", exclude_defaults=True),
    )
    session.add(saved)
    flush_unique(session, f"A mapping named {mapping_in.name!r}")
    audit.record(session, actor, "import_mapping.create", entity_type="import_mapping", entity_id=saved.id)
    return saved


def update_mapping(session: Session, *, actor: Principal, mapping_id: int, update: MappingUpdate) -> ImportMapping:
    """Rename a mapping or replace its target/mapping (validated together)."""
    saved = get_mapping(session, workspace_id=actor.workspace_id, mapping_id=mapping_id)
    target = update.target or saved.target
    if update.mapping is not None or update.target is not None:
        raw = update.mapping if update.mapping is not None else saved.mapping
        saved.mapping = parse_mapping(target, raw).model_dump(mode="json", exclude_defaults=True)
        saved.target = target
    if update.name is not None:
        saved.name = update.name
    flush_unique(session, f"A mapping named {saved.name!r}")
    audit.record(session, actor, "import_mapping.update", entity_type="import_mapping", entity_id=saved.id)
    return saved


def delete_mapping(session: Session, *, actor: Principal, mapping_id: int) -> None:
    """Delete a saved mapping; past runs keep their own copy of it."""
    saved = get_mapping(session, workspace_id=actor.workspace_id, mapping_id=mapping_id)
    session.delete(saved)
    audit.record(session, actor, "import_mapping.delete", entity_type="import_mapping", entity_id=mapping_id)


def save_mapping_as(session: Session, *, actor: Principal, name: str, target: str, mapping: AnyMapping) -> int:
    """Create or overwrite the mapping called `name` (used by "save mapping as" in CLI and UI)."""
    raw = mapping.model_dump(mode="json", exclude_defaults=True)
    existing = session.scalars(
        select(ImportMapping).where(ImportMapping.workspace_id == actor.workspace_id, ImportMapping.name == name)
    ).first()
    if existing is None:
        return create_mapping(session, actor=actor, mapping_in=MappingIn(name=name, target=target, mapping=raw)).id
    update = MappingUpdate(target=target, mapping=raw)
    return update_mapping(session, actor=actor, mapping_id=existing.id, update=update).id


# -- default mapping -----------------------------------------------------------------------------

WELL_KNOWN: dict[str, tuple[str, ...]] = {
    "submission_id": ("submission_id", "response_id", "review_id", "ticket_id", "id"),
    "external_id": ("customer_id", "customer_external_id", "external_id", "user_id"),
    "email": ("email", "customer_email", "e_mail"),
    "name": ("name", "customer_name"),
    "collected_at": ("collected_at", "submitted_at", "created_at", "date", "timestamp"),
    "language": ("language", "lang"),
    "touchpoint": ("touchpoint",),
}
FIELD_TYPES_BY_NAME: dict[str, str] = {
    "nps": "nps",
    "csat": "csat",
    "ces": "ces",
    "rating": "rating",
    "score": "rating",
    "stars": "rating",
    "comment": "text",
    "comments": "text",
    "feedback": "text",
    "text": "text",
    "message": "text",
    "review": "text",
}


def _norm(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def default_mapping(header: list[str]) -> tuple[FeedbackMapping, str]:
    """Guess a feedback mapping from well-known header names; returns it with a line saying what was picked."""
    by_norm = {_norm(h): h for h in header}
    picked = {k: next((by_norm[n] for n in names if n in by_norm), None) for k, names in WELL_KNOWN.items()}
    if picked["submission_id"] is None:
        raise ImportFileError(
            "No mapping given and no submission id column found "
            f"(looked for: {', '.join(WELL_KNOWN['submission_id'])}); pass a mapping."
        )
    fields = [FieldMap(column=by_norm[n], field_type=t) for n, t in FIELD_TYPES_BY_NAME.items() if n in by_norm]
    if not fields:
        raise ImportFileError(
            "No mapping given and no answer column found "
            f"(looked for: {', '.join(FIELD_TYPES_BY_NAME)}); pass a mapping."
        )
    customer = None
    if picked["external_id"] or picked["email"]:
        customer = CustomerMap(external_id=picked["external_id"], email=picked["email"], name=picked["name"])
    mapping = FeedbackMapping(
        submission_id=picked["submission_id"],
        customer=customer,
        collected_at=picked["collected_at"],
        language=picked["language"],
        touchpoint=picked["touchpoint"],
        fields=fields,
    )
    return mapping, describe(mapping)


def describe(mapping: FeedbackMapping) -> str:
    """One line saying which column feeds what."""
    if mapping.submission_id:
        parts = [f"submission_id <- {mapping.submission_id!r}"]
    else:
        parts = [f"row_key <- {mapping.row_key!r}"]
    if mapping.customer:
        c = mapping.customer
        parts += [f"customer {k} <- {v!r}" for k, v in (("external_id", c.external_id), ("email", c.email)) if v]
    for name in ("collected_at", "language", "touchpoint", "channel", "agent", "team"):
        if getattr(mapping, name):
            parts.append(f"{name} <- {getattr(mapping, name)!r}")
    parts += [f"field {f.record_field_id} ({f.field_type}) <- {f.column!r}" for f in mapping.fields]
    return "; ".join(parts)


# -- preparing and running -----------------------------------------------------------------------


def resolve_mapping(
    session: Session,
    *,
    workspace_id: int,
    target: str,
    info: FileInfo,
    mapping: dict[str, Any] | None = None,
    mapping_id: int | None = None,
    mapping_name: str | None = None,
) -> tuple[AnyMapping | None, int | None, str]:
    """(mapping checked against the header, saved mapping id, note on what was picked)."""
    parse_target(target)
    if info.kind == "ndjson":
        if target != "feedback":
            raise ImportFileError("NDJSON files hold feedback records; import customers and events from CSV.")
        return None, None, "NDJSON: one feedback record per line"
    saved_id, note = None, ""
    if mapping_id is not None or mapping_name:
        saved = (
            get_mapping(session, workspace_id=workspace_id, mapping_id=mapping_id)
            if mapping_id is not None
            else mapping_by_name(session, workspace_id=workspace_id, name=str(mapping_name))
        )
        if saved.target != target:
            raise InvalidInput(f"The mapping {saved.name!r} is for {saved.target}, not {target}.")
        mapping, saved_id, note = saved.mapping, saved.id, f"saved mapping {saved.name!r}"
    parsed: AnyMapping
    if mapping is None:
        if target != "feedback":
            raise InvalidInput(f"Importing {target} needs a mapping; only feedback has a default one.")
        try:
            parsed, picked = default_mapping(info.header)
        except ImportFileError as exc:
            raise ImportFileError(exc.detail + delimiter_hint(info)) from None
        note = f"default mapping: {picked}"
    else:
        parsed = parse_mapping(target, mapping)
    check_columns(info, mapping_columns(parsed))
    return parsed, saved_id, note or "the given mapping"


def mapping_columns(mapping: AnyMapping) -> list[str]:
    """The header columns a mapping reads."""
    return mapped_columns(mapping)


def create_run(
    session: Session,
    *,
    actor: Principal,
    target: str,
    filename: str,
    mapping: AnyMapping | None,
    mapping_id: int | None,
    stored_path: str = "",
    total_rows: int = 0,
    status: str = "queued",
) -> ImportRun:
    """Record a new import run (audited)."""
    run = ImportRun(
        workspace_id=actor.workspace_id,
        mapping_id=mapping_id,
        target=target,
        filename=Path(filename).name[:500] or "upload",
        stored_path=stored_path,
        mapping=mapping.model_dump(mode="json", exclude_defaults=True) if mapping else {},
        status=status,
        total_rows=total_rows,
        errors=[],
        created_by=actor.label[:200],
    )
    session.add(run)
    session.flush()
    audit.record(
        session, actor, "import.create", entity_type="import_run", entity_id=run.id, details={"target": target}
    )
    return run


def get_run(session: Session, *, workspace_id: int, run_id: int) -> ImportRun:
    """One run of the workspace, or NotFound."""
    run = session.get(ImportRun, run_id)
    if run is None or run.workspace_id != workspace_id:
        raise NotFound(f"Import run {run_id} does not exist.")
    return run


def list_runs(session: Session, *, workspace_id: int, limit: int = 50) -> list[ImportRun]:
    """Most recent runs first."""
    stmt = select(ImportRun).where(ImportRun.workspace_id == workspace_id).order_by(ImportRun.id.desc()).limit(limit)
    return list(session.scalars(stmt))


def upload_dir(data_dir: Path) -> Path:
    """Where uploads wait for their job."""
    path = data_dir / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def new_upload_path(data_dir: Path, filename: str) -> Path:
    """A fresh file name under the upload folder, keeping only a safe suffix of the user's name."""
    suffix = Path(filename).suffix.lower()
    safe = suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ".csv"
    return upload_dir(data_dir) / f"{uuid.uuid4().hex}{safe}"


def finish_run(session: Session, *, run_id: int, counts: engine.Counts | None, message: str, failed: bool) -> None:
    """Mark a run done or failed with its final counts."""
    run = session.get(ImportRun, run_id)
    if run is None:
        return
    if counts is not None:
        run.total_rows = counts.processed
        run.processed_rows, run.ok_rows, run.error_rows = counts.processed, counts.ok, counts.errors
        run.errors = list(counts.first_errors)
    run.status = "failed" if failed else "done"
    run.owner = ""
    run.message = message[:2000]
    run.finished_at = utcnow()


def counts_of(run: ImportRun) -> engine.Counts:
    """A run's committed progress, to resume from."""
    return engine.Counts(
        total=run.total_rows,
        processed=run.processed_rows,
        ok=run.ok_rows,
        errors=run.error_rows,
        first_errors=list(run.errors or []),
    )


def summary(counts: engine.Counts) -> str:
    return f"{counts.processed} rows read, {counts.ok} stored, {counts.errors} rejected"


def save_upload(source: BinaryIO, filename: str, data_dir: Path) -> Path:
    """Copy an upload to the import folder (streamed, never held in memory)."""
    path = new_upload_path(data_dir, filename)
    with path.open("wb") as out:
        shutil.copyfileobj(source, out, 1 << 20)
    return path


def start_import(
    session: Session,
    *,
    actor: Principal,
    path: Path,
    filename: str,
    target: str,
    mapping: dict[str, Any] | None,
    mapping_id: int | None,
    save_as: str | None,
    encoding: str | None,
    delimiter: str | None,
) -> ImportRun:
    """Check the stored upload (file-level errors leave nothing behind), create the run, enqueue the job."""
    try:
        info = inspect_file(path, encoding=encoding, delimiter=delimiter)
        parsed, saved_id, _note = resolve_mapping(
            session, workspace_id=actor.workspace_id, target=target, info=info, mapping=mapping, mapping_id=mapping_id
        )
        if save_as and parsed is not None:
            saved_id = save_mapping_as(session, actor=actor, name=save_as, target=target, mapping=parsed)
        run = create_run(
            session,
            actor=actor,
            target=target,
            filename=filename,
            mapping=parsed,
            mapping_id=saved_id,
            stored_path=str(path),
            total_rows=info.estimated_rows,
        )
        enqueue(
            session,
            "imports.run",
            workspace_id=actor.workspace_id,
            run_id=run.id,
            encoding=encoding,
            delimiter=delimiter,
        )
    except Exception:
        path.unlink(missing_ok=True)
        raise
    return run


# -- interrupted runs ----------------------------------------------------------------------------


def this_process() -> str:
    """The owner mark of a run this process imports: "host:pid"."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _process_gone(owner: str, *, host: str, own_pid: int) -> bool:
    """Whether the process an owner mark names has stopped.

    Only this host's processes can be checked: a run owned on another host is left to that host's restart.
    This process's own pid counts as stopped, because this is called at start-up, before this process imports
    anything: a run carrying our pid was left by an earlier process that had the same pid (usual in containers).
    """
    owner_host, _, pid = owner.rpartition(":")
    if owner_host != host or not pid.isdigit():
        return False
    if int(pid) == own_pid:
        return True
    try:
        os.kill(int(pid), 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists, under another user
        return False
    return False


def _run_jobs(session: Session, run: ImportRun) -> list[Job]:
    """The run's `imports.run` jobs, newest first."""
    stmt = select(Job).where(Job.name == "imports.run", Job.workspace_id == run.workspace_id).order_by(Job.id.desc())
    return [job for job in session.scalars(stmt) if (job.args or {}).get("run_id") == run.id]


def mark_interrupted(session: Session) -> list[int]:
    """Mark "running" runs whose importing process has died as interrupted; returns their ids.

    Called when a server, a `cem worker` or a `cem import` starts. The dead process's job is closed too:
    left alone it would be claimed again only when its lease runs out (an hour), possibly next to a resume.
    """
    host, own_pid = socket.gethostname(), os.getpid()
    running = session.scalars(select(ImportRun).where(ImportRun.status == "running"))
    stale = [run for run in running if _process_gone(run.owner, host=host, own_pid=own_pid)]
    for run in stale:
        run.status, run.owner = "interrupted", ""
        how = (
            "Resume continues after the last stored batch."
            if run.resumable
            else "Run `cem import` with the same file again: rows already stored are updated, not duplicated."
        )
        run.message = f"Interrupted after {run.processed_rows} rows: the process importing it stopped. {how}"
        for job in _run_jobs(session, run):
            if job.status == "running":
                job.status, job.locked_until, job.finished_at = "dead", None, utcnow()
                job.last_error = f"Import run {run.id} was interrupted (its worker stopped); resume the run instead."
    return [run.id for run in stale]


def resume_run(session: Session, *, actor: Principal, run_id: int) -> ImportRun:
    """Queue an interrupted run again; its job continues after the last committed batch (upserts make a
    re-read row harmless anyway)."""
    run = get_run(session, workspace_id=actor.workspace_id, run_id=run_id)
    if run.status != "interrupted":
        raise Conflict(f"Import run {run_id} is {run.status}; only an interrupted run can be resumed.")
    if not run.resumable:
        raise Conflict(
            f"Import run {run_id} has no stored upload to continue from (it was started by `cem import`, or its "
            "file was removed): import the same file again; rows already stored are updated, not duplicated."
        )
    previous = next(iter(_run_jobs(session, run)), None)
    options = previous.args if previous is not None else {}
    enqueue(
        session,
        "imports.run",
        workspace_id=run.workspace_id,
        run_id=run.id,
        encoding=options.get("encoding"),
        delimiter=options.get("delimiter"),
    )
    run.status, run.message = "queued", f"Resumed: continues after row {run.processed_rows}."
    audit.record(session, actor, "import.resume", entity_type="import_run", entity_id=run.id)
    return run
