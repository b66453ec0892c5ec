"""The analytical snapshot: the feedback store (and the tables its dimensions join) as Parquet files.

DuckDB and Spark run metric queries over these files instead of the operational database. Layout of a
snapshot directory:

    manifest.json             which files make up the snapshot now, and the export watermarks
    feedback/part-*.parquet   feedback records (one row per record, never two versions of one id)
    customers-*.parquet       customers: attributes as JSON text, the churn flag (cem.analytics.churn) and the
                              RFM segment (cem.clv.rfm, from customer_value)
    touchpoints-*.parquet     touchpoint keys with their stage and journey keys
    record_topics-*.parquet   record id, topic key, subtopic key (cem.analytics.dimensions.record_topics)

Refreshing is incremental: records after the last export's (updated_at, id) watermark are read; ones
already in the snapshot unchanged are dropped, new ids are appended as a new part, and changed ones trigger
a compaction (the parts rewritten without the old versions). If the store then holds a different number of
records than the snapshot (records were deleted, for example by a privacy erasure, or an insert committed
late with an older stamp), the snapshot is rebuilt from scratch, so erased data never lingers. An update
committed late with a stamp older than the watermark is the one change an incremental refresh can miss;
`cem export parquet --full` rebuilds.
Customers, touchpoints, record topics and the row sources are rewritten whole whenever they changed (record
topics: any topic edit, or record_topic rows added, removed or moved). Readers only ever open the
files the current manifest lists; a file is deleted one generation after it stopped being listed.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
from sqlalchemy import Select, String, and_, case, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from cem.analytics import duck_connection
from cem.analytics.churn import churn_flag
from cem.analytics.dimensions import RECORD_TOPIC_COLUMNS, record_topics
from cem.analytics.sources import SOURCES, Source
from cem.clv.models import CustomerValue
from cem.customers.models import Customer
from cem.feedback.models import FeedbackRecord as FR
from cem.journeys.models import Journey, JourneyStage, Touchpoint
from cem.text.topics.models import RecordTopic, Topic

FEEDBACK_COLUMNS = {
    "id": "BIGINT",
    "workspace_id": "BIGINT",
    "customer_id": "BIGINT",
    "touchpoint_id": "BIGINT",
    "source_type": "VARCHAR",
    "source_name": "VARCHAR",
    "field_id": "VARCHAR",
    "field_type": "VARCHAR",
    "value_number": "DOUBLE",
    "scale_min": "DOUBLE",  # the declared scale: the CSAT top box reads it
    "scale_max": "DOUBLE",
    "language": "VARCHAR",
    "channel": "VARCHAR",
    "agent": "VARCHAR",
    "team": "VARCHAR",
    "sentiment_score": "DOUBLE",
    "sentiment_label": "VARCHAR",
    "collected_at": "TIMESTAMP",
    "updated_at": "TIMESTAMP",
}
CUSTOMER_COLUMNS = {
    "id": "BIGINT",
    "workspace_id": "BIGINT",
    "created_at": "TIMESTAMP",
    "updated_at": "TIMESTAMP",
    "attributes": "VARCHAR",
    "churned": "DOUBLE",
    "rfm_segment": "VARCHAR",
}
TOUCHPOINT_COLUMNS = {
    "id": "BIGINT",
    "workspace_id": "BIGINT",
    "touchpoint": "VARCHAR",
    "stage": "VARCHAR",
    "journey": "VARCHAR",
}
VERSION = 3  # 2: feedback channel, agent and team; 3: its declared scale (an older snapshot is rebuilt whole)
BATCH = 100_000
MAX_PARTS = 16  # more parts than this are compacted into one


@dataclass(frozen=True)
class SnapshotFiles:
    """The Parquet files making up one snapshot generation (absolute paths)."""

    feedback: tuple[str, ...]
    customers: str
    touchpoints: str
    generation: str = ""
    sources: tuple[tuple[str, str], ...] = ()  # (table, file) of survey responses and invitations
    record_topics: str = ""  # empty: a snapshot written before topics were exported (read as no topics)


@dataclass
class RefreshReport:
    """What a refresh did, for the CLI and tests."""

    mode: str  # "full", "incremental" or "unchanged"
    appended: int = 0
    updated: int = 0
    rows: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


class Snapshot:
    """A snapshot directory: read its manifest, refresh it from the store."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    @property
    def manifest_path(self) -> Path:
        return self.directory / "manifest.json"

    def manifest(self) -> dict[str, Any] | None:
        """The current manifest, or None when nothing was exported yet."""
        try:
            data: dict[str, Any] = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return data if data.get("version") == VERSION else None

    def files(self) -> SnapshotFiles | None:
        """The files of the current generation, or None when there is no snapshot."""
        manifest = self.manifest()
        if manifest is None:
            return None
        return files_of(self.directory, manifest)

    def age_seconds(self) -> float | None:
        """Seconds since the last export finished, or None when there is none."""
        manifest = self.manifest()
        if manifest is None:
            return None
        return (datetime.now(UTC) - datetime.fromisoformat(manifest["exported_at"])).total_seconds()

    def rows(self) -> int:
        """Feedback records in the snapshot (0 without one)."""
        manifest = self.manifest()
        return int(manifest["feedback"]["rows"]) if manifest else 0

    def is_of(self, session: Session) -> bool:
        """Whether the snapshot exists and was exported from the session's database."""
        manifest = self.manifest()
        return manifest is not None and manifest.get("source") == source_of(session)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / ".lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # one refresh at a time, across processes
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def refresh(self, session: Session, *, full: bool = False) -> RefreshReport:
        """Bring the snapshot up to date with the store (incrementally unless `full` or impossible)."""
        started = datetime.now(UTC)
        with self._locked():
            report = _Refresher(self, session, self.manifest(), started).run(full=full)
        report.seconds = (datetime.now(UTC) - started).total_seconds()
        return report

    def invalidate(self) -> bool:
        """Drop the snapshot (manifest first, then every Parquet file) so the next reader rebuilds it in full.

        After a privacy erasure: a rebuild takes as long as a full export, while dropping is immediate, so the
        erased rows are gone from disk when the erasure returns. Whether there was a snapshot.
        """
        if not self.directory.exists():
            return False
        with self._locked():
            existed = self.manifest_path.exists()
            self.manifest_path.unlink(missing_ok=True)
            for path in [*self.directory.glob("feedback/*.parquet"), *self.directory.glob("*.parquet")]:
                path.unlink(missing_ok=True)
            for path in self.directory.glob(".manifest-*.tmp"):
                path.unlink(missing_ok=True)
        return existed


def source_of(session: Session) -> str:
    """Which database a snapshot was exported from (a hash: the URL may carry a password)."""
    url = session.get_bind().engine.url.render_as_string(hide_password=True)
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def files_of(directory: Path, manifest: dict[str, Any]) -> SnapshotFiles:
    return SnapshotFiles(
        feedback=tuple(str(directory / p) for p in manifest["feedback"]["parts"]),
        customers=str(directory / manifest["customers"]["file"]),
        touchpoints=str(directory / manifest["touchpoints"]["file"]),
        generation=str(manifest.get("generation", "")),
        sources=tuple(
            (SOURCES[entity].table, str(directory / entry["file"]))
            for entity, entry in manifest.get("sources", {}).items()
            if entity in SOURCES
        ),
        record_topics=str(directory / manifest["record_topics"]["file"]) if "record_topics" in manifest else "",
    )


def create_views(con: duckdb.DuckDBPyConnection, files: SnapshotFiles) -> None:
    """`feedback`, `customers`, `touchpoints`, `record_topics` and the sources' views over the snapshot's files."""
    # Views take no parameters: the paths (ours, from the manifest) go in as quoted literals.
    parts = ", ".join(sql_string(p) for p in files.feedback)
    con.execute(f"CREATE OR REPLACE VIEW feedback AS SELECT * FROM read_parquet([{parts}])")
    con.execute(f"CREATE OR REPLACE VIEW customers AS SELECT * FROM read_parquet({sql_string(files.customers)})")
    con.execute(f"CREATE OR REPLACE VIEW touchpoints AS SELECT * FROM read_parquet({sql_string(files.touchpoints)})")
    topics = f"SELECT * FROM read_parquet({sql_string(files.record_topics)})" if files.record_topics else None
    con.execute(f"CREATE OR REPLACE VIEW record_topics AS {topics or empty_table_sql(RECORD_TOPIC_COLUMNS)}")
    exported = dict(files.sources)
    for source in SOURCES.values():
        # A snapshot written without a source (an older one, or a benchmark's) reads it as empty.
        body = f"read_parquet({sql_string(exported[source.table])})" if source.table in exported else None
        query = f"SELECT * FROM {body}" if body else empty_table_sql(source.columns)
        con.execute(f"CREATE OR REPLACE VIEW {source.table} AS {query}")


def sql_string(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    """Replace the manifest atomically (readers see the old or the new one, never half)."""
    manifest = {**manifest, "version": VERSION, "generation": uuid.uuid4().hex[:12]}
    tmp = directory / f".manifest-{uuid.uuid4().hex}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    os.replace(tmp, directory / "manifest.json")


def empty_table_sql(columns: dict[str, str]) -> str:
    """A zero-row SELECT with the given column types (to write an empty Parquet file with its schema)."""
    return "SELECT " + ", ".join(f"CAST(NULL AS {kind}) AS {name}" for name, kind in columns.items()) + " LIMIT 0"


class _Refresher:
    """One refresh under the lock: decides full vs incremental and writes files and the new manifest."""

    def __init__(self, snap: Snapshot, session: Session, manifest: dict[str, Any] | None, now: datetime):
        self.snap, self.session, self.old, self.now = snap, session, manifest, now
        self.dir = snap.directory
        self.dialect = session.get_bind().dialect.name
        self.con = duck_connection.connect()

    def run(self, *, full: bool) -> RefreshReport:
        try:
            (self.dir / "feedback").mkdir(parents=True, exist_ok=True)
            count, max_updated = self.session.execute(select(func.count(), func.max(FR.updated_at))).one()
            same_source = bool(self.old) and self.old.get("source") == source_of(self.session)  # type: ignore[union-attr]
            manifest = dict(self.old) if self.old and same_source and not full else None
            report = RefreshReport(mode="full")
            if manifest is not None:
                report = self._incremental(manifest)
                if manifest["feedback"]["rows"] != count:
                    report.notes.append(
                        f"store has {count} records, snapshot {manifest['feedback']['rows']}: rebuilt from scratch"
                    )
                    manifest = None
            if manifest is None:
                manifest = {"feedback": self._full()}
                report = RefreshReport(mode="full", appended=manifest["feedback"]["rows"], notes=report.notes)
            manifest["feedback"]["updated_at"] = _iso(max_updated)
            manifest["feedback"]["updated_id"] = self._last_id_at(max_updated)
            manifest["customers"] = self._customers()
            manifest["touchpoints"] = self._touchpoints()
            manifest["record_topics"] = self._record_topics()
            manifest["sources"] = {entity: self._source(source) for entity, source in SOURCES.items()}
            manifest["exported_at"] = self.now.isoformat()
            manifest["source"] = source_of(self.session)
            report.rows = manifest["feedback"]["rows"]
            write_manifest(self.dir, manifest)
            # Deleted rows (a privacy erasure among them) must not linger in an older generation's files.
            self._collect_garbage(manifest, keep_previous=not (report.notes or self._customers_shrank(manifest)))
            return report
        finally:
            self.con.close()

    # -- feedback -------------------------------------------------------------------------------------

    def _feedback_select(self) -> Select[Any]:
        columns = [
            _timestamp_text(getattr(FR, name), self.dialect) if kind == "TIMESTAMP" else getattr(FR, name)
            for name, kind in FEEDBACK_COLUMNS.items()
        ]
        return select(*columns)

    def _full(self) -> dict[str, Any]:
        path = self._new_part()
        rows = self._copy(self._feedback_select().order_by(FR.id), FEEDBACK_COLUMNS, path)
        return {"parts": [path], "rows": rows}

    def _incremental(self, manifest: dict[str, Any]) -> RefreshReport:
        feedback = manifest["feedback"] = dict(manifest["feedback"])
        watermark = feedback.get("updated_at")
        stmt = self._feedback_select().order_by(FR.id)
        if watermark:
            # Strictly after the (updated_at, id) watermark: rows sharing the last timestamp (one bulk batch
            # stamps many) are not read again. Inserts committed late with an older stamp are caught by the
            # row-count check (-> rebuild); see the module docstring for updates.
            moment = datetime.fromisoformat(watermark)
            last_id = int(feedback.get("updated_id") or 0)
            stmt = stmt.where(or_(FR.updated_at > moment, and_(FR.updated_at == moment, FR.id > last_id)))
        self._load(stmt, FEEDBACK_COLUMNS, "changed")
        files = "[" + ", ".join(sql_string(str(self.dir / p)) for p in feedback["parts"]) + "]"
        self.con.execute(f"CREATE TEMP VIEW current AS SELECT id, updated_at FROM read_parquet({files})")
        # Rows the snapshot already holds in this version are no change at all.
        self.con.execute(
            "DELETE FROM changed WHERE EXISTS "
            "(SELECT 1 FROM current c WHERE c.id = changed.id AND c.updated_at = changed.updated_at)"
        )
        updated = self._scalar("SELECT count(*) FROM changed WHERE id IN (SELECT id FROM current)")
        total = self._scalar("SELECT count(*) FROM changed")
        if total == 0:
            return RefreshReport(mode="unchanged")
        path = self._new_part()
        if updated or len(feedback["parts"]) >= MAX_PARTS:
            # Compaction: every part without the old versions of changed rows, plus the changed rows.
            self.con.execute(
                f"COPY (SELECT * FROM read_parquet({files}) WHERE id NOT IN (SELECT id FROM changed) "
                f"UNION ALL SELECT * FROM changed ORDER BY id) TO {sql_string(str(self.dir / path))} (FORMAT parquet)"
            )
            feedback["parts"] = [path]
        else:
            target = sql_string(str(self.dir / path))
            self.con.execute(f"COPY (SELECT * FROM changed ORDER BY id) TO {target} (FORMAT parquet)")
            feedback["parts"] = [*feedback["parts"], path]
        feedback["rows"] = int(feedback["rows"]) + total - updated
        return RefreshReport(mode="incremental", appended=total - updated, updated=updated)

    # -- small tables, rewritten whole when changed ---------------------------------------------------------

    def _customers(self) -> dict[str, Any]:
        stamp = self.session.execute(select(func.count(), func.max(Customer.updated_at))).one()
        # A scoring run rewrites every RFM segment without touching the customers: its stamp is part of the state.
        scored = self.session.execute(select(func.count(), func.max(CustomerValue.scored_at))).one()
        state = f"{stamp[0]}/{_iso(stamp[1])};rfm {scored[0]}/{_iso(scored[1])}"
        old = (self.old or {}).get("customers")
        if old and old.get("state") == state and (self.dir / old["file"]).exists():
            return dict(old)
        path = f"customers-{uuid.uuid4().hex[:12]}.parquet"
        stmt = select(
            Customer.id,
            Customer.workspace_id,
            Customer.created_at,
            Customer.updated_at,
            Customer.attributes,
            CustomerValue.rfm_segment,
        ).outerjoin(CustomerValue, CustomerValue.customer_id == Customer.id)
        self._copy(stmt, CUSTOMER_COLUMNS, path, transform=_customer_row)
        return {"file": path, "state": state}

    def _touchpoints(self) -> dict[str, Any]:
        stamps = [
            self.session.execute(select(func.count(), func.max(model.updated_at))).one()
            for model in (Touchpoint, JourneyStage, Journey)
        ]
        state = ";".join(f"{count}/{_iso(updated)}" for count, updated in stamps)
        old = (self.old or {}).get("touchpoints")
        if old and old.get("state") == state and (self.dir / old["file"]).exists():
            return dict(old)
        path = f"touchpoints-{uuid.uuid4().hex[:12]}.parquet"
        stmt = (
            select(Touchpoint.id, Touchpoint.workspace_id, Touchpoint.key, JourneyStage.key, Journey.key)
            .join(JourneyStage, JourneyStage.id == Touchpoint.stage_id)
            .join(Journey, Journey.id == JourneyStage.journey_id)
        )
        self._copy(stmt, TOUCHPOINT_COLUMNS, path)
        return {"file": path, "state": state}

    def _record_topics(self) -> dict[str, Any]:
        # record_topic has no timestamps: a fingerprint of its rows (count, id sums, a mixed sum) notices rows
        # added, removed or moved between topics; topic edits move the topics' updated_at (and statuses their
        # active count).
        mixed = (RecordTopic.record_id * 1_000_003 + RecordTopic.topic_id) % 2_147_483_647
        rows = self.session.execute(
            select(func.count(), func.sum(RecordTopic.record_id), func.sum(RecordTopic.topic_id), func.sum(mixed))
        ).one()
        active = func.count(case((Topic.status == "active", 1)))
        topics = self.session.execute(select(func.count(), active, func.max(Topic.updated_at))).one()
        state = "/".join(str(v or 0) for v in rows) + f";{topics[0]}/{topics[1]}/{_iso(topics[2])}"
        old = (self.old or {}).get("record_topics")
        if old and old.get("state") == state and (self.dir / old["file"]).exists():
            return dict(old)
        path = f"record_topics-{uuid.uuid4().hex[:12]}.parquet"
        self._copy(record_topics(), RECORD_TOPIC_COLUMNS, path, order="record_id, topic, subtopic")
        return {"file": path, "state": state}

    def _source(self, source: Source) -> dict[str, Any]:
        state = source.state(self.session)
        old = (self.old or {}).get("sources", {}).get(source.entity)
        if old and old.get("state") == state and (self.dir / old["file"]).exists():
            return dict(old)
        path = f"{source.table}-{uuid.uuid4().hex[:12]}.parquet"
        self._copy(source.select(), source.columns, path)
        return {"file": path, "state": state}

    # -- plumbing -------------------------------------------------------------------------------------------

    def _last_id_at(self, moment: datetime | None) -> int:
        if moment is None:
            return 0
        return int(self.session.scalar(select(func.max(FR.id)).where(FR.updated_at == moment)) or 0)

    def _new_part(self) -> str:
        stamp = self.now.strftime("%Y%m%dT%H%M%S")
        return f"feedback/part-{stamp}-{uuid.uuid4().hex[:8]}.parquet"

    def _scalar(self, sql: str) -> int:
        row = self.con.execute(sql).fetchone()
        return int(row[0]) if row else 0

    def _load(self, stmt: Any, columns: dict[str, str], table: str, transform: Any = None) -> int:
        """Stream the statement's rows into a DuckDB temp table, a batch of numpy columns at a time."""
        cols = ", ".join(f"{name} {kind}" for name, kind in columns.items())
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {table} ({cols})")
        # Each column arrives as a typed array plus a null mask (see _columns).
        casts = ", ".join(
            f"CASE WHEN {name}{NULL_SUFFIX} THEN NULL ELSE CAST({name} AS {kind}) END" for name, kind in columns.items()
        )
        total = 0
        # Core rows, not ORM ones: the export reads every record, and the ORM layer doubled its time.
        result = self.session.connection().execute(stmt.execution_options(yield_per=BATCH))
        for batch in result.partitions(BATCH):
            rows = [transform(r) for r in batch] if transform else batch
            arrays = _columns(rows, columns)  # noqa: F841  (read by DuckDB's replacement scan below)
            self.con.execute(f"INSERT INTO {table} SELECT {casts} FROM arrays")
            total += len(rows)
        return total

    def _copy(self, stmt: Any, columns: dict[str, str], path: str, transform: Any = None, order: str = "id") -> int:
        rows = self._load(stmt, columns, "export", transform)
        target = sql_string(str(self.dir / path))
        self.con.execute(f"COPY (SELECT * FROM export ORDER BY {order}) TO {target} (FORMAT parquet)")
        return rows

    def _customers_shrank(self, manifest: dict[str, Any]) -> bool:
        old = (self.old or {}).get("customers", {}).get("state", "0/")
        return int(manifest["customers"]["state"].split("/")[0]) < int(old.split("/")[0])

    def _collect_garbage(self, manifest: dict[str, Any], *, keep_previous: bool) -> None:
        """Delete files this manifest does not list; normally the previous generation's stay, for readers
        that may still be scanning them, but not after deletions."""
        keep = set(_listed(manifest)) | (set(_listed(self.old or {})) if keep_previous else set())
        for path in [*self.dir.glob("feedback/*.parquet"), *self.dir.glob("*.parquet")]:
            if str(path.relative_to(self.dir)) not in keep:
                path.unlink(missing_ok=True)


def _listed(manifest: dict[str, Any]) -> list[str]:
    if not manifest:
        return []
    sources = [entry["file"] for entry in manifest.get("sources", {}).values()]
    if "record_topics" in manifest:
        sources.append(manifest["record_topics"]["file"])
    return [*manifest["feedback"]["parts"], manifest["customers"]["file"], manifest["touchpoints"]["file"], *sources]


def _customer_row(row: Any) -> tuple[Any, ...]:
    attributes = row.attributes or {}
    return (*row[:4], json.dumps(attributes, ensure_ascii=False), churn_flag(attributes), row.rfm_segment)


NULL_SUFFIX = "__is_null"
# Typed numpy arrays per DuckDB type, with the stand-in a NULL gets before its mask hides it. DuckDB scans typed
# arrays at memory speed; object arrays of ints or datetimes took it ~14 s per 100,000 values (DuckDB 1.5.5), and
# failed outright when a column started with NULLs.
_TYPED: dict[str, tuple[Any, Any]] = {
    "BIGINT": (np.int64, 0),
    "DOUBLE": (np.float64, 0.0),
    "TIMESTAMP": ("datetime64[us]", datetime(1970, 1, 1)),
}


def _columns(rows: Sequence[Any], columns: dict[str, str]) -> dict[str, Any]:
    """Row tuples to one typed array and one null mask per column."""
    transposed = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
    out: dict[str, Any] = {}
    for (name, kind), values in zip(columns.items(), transposed, strict=True):
        nulls = np.fromiter((v is None for v in values), dtype=bool, count=len(values))
        dtype, stand_in = _TYPED.get(kind, (object, ""))
        if kind == "VARCHAR" or isinstance(next((v for v in values if v is not None), None), str):
            # Text (timestamps too, when the store's SQL formatted them): DuckDB casts it after the scan.
            dtype, stand_in = object, "1970-01-01 00:00:00" if kind == "TIMESTAMP" else ""
            values = tuple(v if isinstance(v, str) or v is None else str(v) for v in values)
        elif kind == "TIMESTAMP":
            values = tuple(_naive(v) for v in values)
        out[name] = np.array([stand_in if v is None else v for v in values], dtype=dtype)
        out[name + NULL_SUFFIX] = nulls
    return out


def _timestamp_text(column: Any, dialect: str) -> Any:
    """A timestamp as UTC text (`YYYY-MM-DD HH:MM:SS[.ffffff]`), skipping per-value datetime conversion."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD HH24:MI:SS.US")
    return type_coerce(column, String)  # SQLite already stores naive UTC text


def _naive(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else _naive(moment).isoformat()  # type: ignore[union-attr]
