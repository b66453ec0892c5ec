"""GDPR requests: export everything held about a person, or erase them from every table.

Which rows belong to a person is declared per table in `privacy/registry.py`; this module only walks
that registry. Services flush, the caller's unit of work commits (so an erasure is all or nothing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, Table, and_, delete, func, select, update
from sqlalchemy.orm import Session

from cem.analytics.tasks import refresh_after_erasure
from cem.auth import audit, token_cache
from cem.auth.models import AuditLog
from cem.auth.principal import Principal
from cem.db.base import Base, utcnow
from cem.errors import Conflict, NotFound
from cem.privacy import mentions, scrub, storage
from cem.privacy.registry import PERSONAL, PersonalData
from cem.privacy.subject import Identifier, Subject, resolve_subject


@dataclass
class ErasureReport:
    """Counts per table: rows deleted, and rows whose personal fields were anonymised or scrubbed."""

    deleted: dict[str, int] = field(default_factory=dict)
    anonymised: dict[str, int] = field(default_factory=dict)
    # Other customers' records naming the person; `redacted` says whether their mentions were replaced.
    mentions: list[mentions.Mention] = field(default_factory=list)
    redacted: int = 0

    def add(self, kind: dict[str, int], table: str, count: int) -> None:
        if count:
            kind[table] = kind.get(table, 0) + count

    @property
    def total(self) -> int:
        return sum(self.deleted.values()) + sum(self.anonymised.values())


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime | date) else value


def _rows(session: Session, table: Table, where: ColumnElement[bool]) -> list[dict[str, Any]]:
    columns = [c for c in table.columns if c.name not in scrub.SECRET_COLUMNS]
    pk = list(table.primary_key.columns)
    result = session.execute(select(*columns).where(where).order_by(*pk)).mappings()
    return [{k: _jsonable(v) for k, v in row.items()} for row in result]


def _mention_filter(table: Table, entry: PersonalData, subject: Subject) -> ColumnElement[bool] | None:
    columns = scrub.text_columns(table)
    shared = "workspace_id" not in table.c and not entry.mentions_in_any_workspace
    if not columns or not subject.emails or (subject.workspace_id is not None and shared):
        # A workspace-scoped request never rewrites data shared by every workspace.
        return None
    return and_(subject.scope(table), scrub.mentions(columns, *subject.emails))


def _export_table(session: Session, name: str, entry: PersonalData, subject: Subject) -> list[dict[str, Any]]:
    table = _table(name)
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    pk = [c.name for c in table.primary_key.columns]
    linked = entry.linked(subject) if entry.linked else None
    if linked is not None:
        for row in _rows(session, table, and_(linked, subject.scope(table))):
            rows[tuple(row[k] for k in pk)] = row
    mention = _mention_filter(table, entry, subject)
    if mention is not None:
        regex = scrub.pattern(*subject.emails)
        for row in _rows(session, table, mention):
            if scrub.mentioned(row, regex):
                rows.setdefault(tuple(row[k] for k in pk), row)
    return list(rows.values())


def export_person(
    session: Session,
    *,
    email: str | None = None,
    external_id: str | None = None,
    customer_id: int | None = None,
    workspace_id: int | None = None,
    actor: Principal | None = None,
) -> dict[str, Any]:
    """Everything held about the person (named by email, external id or customer id), per table, as JSON-ready data."""
    ident = Identifier(email=email, external_id=external_id, customer_id=customer_id)
    subject = resolve_subject(session, ident, workspace_id=workspace_id)
    tables = {name: _export_table(session, name, entry, subject) for name, entry in PERSONAL.items()}
    if actor is not None:
        counts = {name: len(rows) for name, rows in tables.items() if rows}
        audit.record(session, actor, "privacy.export", entity_type="person", details={"rows": counts})
    return {
        "email": subject.email,
        "identifier": {"kind": ident.kind, "value": _identifier_value(ident)},
        "workspace_id": workspace_id,
        "generated_at": utcnow().isoformat(),
        "found": any(tables.values()),
        "tables": tables,
    }


def _identifier_value(ident: Identifier) -> str:
    value = ident.email if ident.email is not None else ident.external_id
    return value if value is not None else str(ident.customer_id)


@dataclass
class ErasurePreview:
    """What an erasure would do, for a confirmation step: rows per table, and the mentions it would list."""

    subject: Subject
    rows: dict[str, int]
    mentions: list[mentions.Mention]

    @property
    def found(self) -> bool:
        return bool(self.subject.customer_ids or self.subject.user_id or self.rows)


def preview_erasure(
    session: Session,
    *,
    email: str | None = None,
    external_id: str | None = None,
    customer_id: int | None = None,
    workspace_id: int | None = None,
) -> ErasurePreview:
    """Count what `erase_person` would delete or anonymise (linked rows per table), changing nothing."""
    ident = Identifier(email=email, external_id=external_id, customer_id=customer_id)
    subject = resolve_subject(session, ident, workspace_id=workspace_id)
    rows: dict[str, int] = {}
    for name, entry in PERSONAL.items():
        linked = entry.linked(subject) if entry.linked else None
        if linked is None:
            continue
        table = _table(name)
        count = session.scalar(select(func.count()).select_from(table).where(and_(linked, subject.scope(table))))
        if count:
            rows[name] = int(count)
    found = mentions.find(session, subject, mentions.terms_of(session, subject))
    return ErasurePreview(subject=subject, rows=rows, mentions=found)


def _count(result: Any) -> int:
    return int(result.rowcount) if isinstance(result, CursorResult) else 0


def _erase_linked(session: Session, name: str, entry: PersonalData, subject: Subject, report: ErasureReport) -> None:
    linked = entry.linked(subject) if entry.linked else None
    if linked is None:
        return
    table = _table(name)
    where = and_(linked, subject.scope(table))
    extra = entry.erase_only_if(subject) if entry.erase_only_if else None
    if extra is not None:
        where = and_(where, extra)
    if entry.on_erase == "delete":
        report.add(report.deleted, name, _count(session.execute(delete(table).where(where))))
    else:
        stmt = update(table).where(where).values(entry.anonymise)
        report.add(report.anonymised, name, _count(session.execute(stmt)))


def _scrub_mentions(session: Session, name: str, entry: PersonalData, subject: Subject, report: ErasureReport) -> None:
    table = _table(name)
    mention = _mention_filter(table, entry, subject)
    if mention is None:
        return
    regex = scrub.pattern(*subject.emails)
    pk = list(table.primary_key.columns)
    columns = scrub.text_columns(table)
    found = session.execute(select(*pk, *(c for c in columns if c not in pk)).where(mention)).mappings().all()
    for row in found:
        changes = {c.name: scrub.scrub(row[c.name], regex, subject.placeholder) for c in columns}
        changes = {k: v for k, v in changes.items() if v != row[k]}
        if not changes:
            continue  # the SQL pre-filter matched a longer address, not this one
        key = and_(*(c == row[c.name] for c in pk))
        if entry.on_mention == "delete":
            report.add(report.deleted, name, _count(session.execute(delete(table).where(key))))
        else:
            report.add(report.anonymised, name, _count(session.execute(update(table).where(key).values(changes))))


def _audit_erasure(session: Session, actor: Principal | None, workspace_id: int | None, report: ErasureReport) -> None:
    # Counts only: the log records that an erasure happened, never who or what was erased.
    details = {
        "scope": "all workspaces" if workspace_id is None else "workspace",
        "deleted": report.deleted,
        "anonymised": report.anonymised,
        "mentions": len(report.mentions),
        "redacted": report.redacted,
    }
    if actor is not None:
        audit.record(session, actor, "privacy.erase", entity_type="person", details=details)
        return
    # A CLI erasure across every workspace belongs to no single workspace.
    session.add(
        AuditLog(
            workspace_id=workspace_id,
            actor_type="cli",
            actor_id=None,
            actor_label="cli",
            action="privacy.erase",
            entity_type="person",
            entity_id="",
            details=details,
        )
    )


def erase_person(
    session: Session,
    *,
    email: str | None = None,
    external_id: str | None = None,
    customer_id: int | None = None,
    workspace_id: int | None = None,
    actor: Principal | None = None,
    redact_mentions: bool = False,
    snapshot_dir: Path | None = None,
) -> ErasureReport:
    """Remove the person from every table (or one workspace) and audit that it happened, with counts only.

    Other customers' records that name the person are listed in the report, and their mentions replaced when
    `redact_mentions`. Once committed, the SQLite WAL is checkpointed and the snapshot in `snapshot_dir` dropped.
    """
    ident = Identifier(email=email, external_id=external_id, customer_id=customer_id)
    subject = resolve_subject(session, ident, workspace_id=workspace_id)
    if email is None and not subject.customer_ids:
        raise NotFound(f"No customer with {ident.describe()}.")
    token_cache.invalidate_after_commit(session)  # the person's API tokens may be among what goes
    if actor is not None and actor.actor_type == "user" and actor.actor_id == subject.user_id:
        # The audit entry would carry the erased email as its actor label.
        raise Conflict("You cannot erase your own account; ask another administrator or use the CLI.")
    # Read before the person's customer rows go: they hold the name, phone and handle to look for.
    terms = mentions.terms_of(session, subject)
    report = ErasureReport(mentions=mentions.find(session, subject, terms))
    for name, entry in PERSONAL.items():
        _erase_linked(session, name, entry, subject, report)
    for name, entry in PERSONAL.items():
        _scrub_mentions(session, name, entry, subject, report)  # email addresses: always
    if redact_mentions:
        # Found again: the email scrub above may have moved the other mentions within their texts.
        report.redacted = mentions.redact_all(session, mentions.find(session, subject, terms))
    _audit_erasure(session, actor, workspace_id, report)
    refresh_after_erasure(session)  # fallback: a snapshot outside `snapshot_dir` is rebuilt by the job
    storage.purge_text_index(session)
    storage.forget_after_commit(session, snapshot_dir)
    session.flush()
    # Bulk statements bypassed the identity map; make later reads in this unit see the database.
    session.expire_all()
    return report
