"""DuckDB over the operational store itself: the SQLite file or the PostgreSQL database, attached read-only.

DuckDB's scanner extensions read the store's tables directly, so metric queries see every committed change
with no export step, and still aggregate column-wise in DuckDB (1,000,000 SQLite records scanned in ~0.1 s).
The extensions come from PyPI packages (duckdb-extension-sqlite-scanner / -postgres-scanner, pinned to the
DuckDB version) and are loaded from their files: DuckDB's own INSTALL would download them, and cem runs
offline. Views named like the Parquet snapshot's (`feedback`, `customers`, `touchpoints`, `record_topics` and the
row sources) present the same columns and types, so the one flat SQL of cem.analytics.engines.flat runs unchanged.

A SQLite store is only ever attached in a reader process of its own (`StoreReader`), never inside a process
that writes to the file. The sqlite_scanner carries its own copy of SQLite with its own file descriptors, and
POSIX drops every fcntl lock a process holds on a file as soon as any descriptor of that file is closed in that
process: the scanner closing its descriptors silently released the server's own SQLite locks, the next
`cem` process to close the store then believed it was the last one, checkpointed and deleted -wal/-shm, and
the server went on committing acknowledged writes into the deleted WAL (issue 12). In a process of its own the
scanner is one more ordinary reader of the file. PostgreSQL is read over the network protocol, so its
postgres_scanner stays in-process.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, TypeVar

import duckdb
from sqlalchemy import Select
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import URL, make_url
from sqlalchemy.sql.util import find_tables

from cem.analytics import churn, dimensions, duck_connection
from cem.analytics.engines import flat
from cem.analytics.engines.base import AggregateQuery, AggregateRow, MetricEngine
from cem.analytics.engines.duck import DuckEngine
from cem.analytics.snapshot import CUSTOMER_COLUMNS, FEEDBACK_COLUMNS, TOUCHPOINT_COLUMNS, sql_string
from cem.analytics.sources import SOURCES
from cem.errors import InvalidInput

STORE = "store"
T = TypeVar("T")
EXTENSIONS = {
    "sqlite": ("sqlite_scanner", "duckdb_extension_sqlite_scanner"),
    "postgresql": ("postgres_scanner", "duckdb_extension_postgres_scanner"),
}


def extension_file(name: str, package: str) -> Path:
    """The extension binary shipped in `package` for the installed DuckDB version."""
    root = Path(importlib.import_module(package).__file__ or "").parent / "extensions"
    path = root / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if not path.is_file():
        found = ", ".join(p.parent.name for p in root.glob(f"*/{name}.duckdb_extension")) or "none"
        raise RuntimeError(f"{package} ships no {name} for DuckDB {duckdb.__version__} (it has: {found})")
    return path


def connect(database_url: str, *, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the store attached read-only and the metric views created over it.

    A SQLite store only in the reader process (see the module docstring); elsewhere, use `cached`.
    """
    url = make_url(database_url)
    dialect = url.get_backend_name()
    if dialect not in EXTENSIONS:
        raise InvalidInput(f"The DuckDB engine reads SQLite or PostgreSQL stores, not {dialect}.")
    target = _attach_target(url)
    if dialect == "sqlite" and not _IN_READER_PROCESS:
        raise RuntimeError(
            "A SQLite store is attached to DuckDB only in the reader process: a second SQLite library in a "
            "process that writes to the file releases that process's locks (use attached.cached)."
        )
    con = duck_connection.connect()
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    con.execute("SET TimeZone = 'UTC'")  # PostgreSQL's timestamptz become UTC wall times, as in SQLite
    con.execute(f"LOAD {sql_string(str(extension_file(*EXTENSIONS[dialect])))}")
    con.execute(f"ATTACH {sql_string(target)} AS {STORE} (TYPE {dialect[:8]}, READ_ONLY)")
    create_views(con, f"{STORE}.{'main' if dialect == 'sqlite' else 'public'}")
    return con


def _attach_target(url: URL) -> str:
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            raise InvalidInput("The DuckDB engine needs a SQLite file, not an in-memory database.")
        return url.database
    parts = {"host": url.host, "port": url.port, "dbname": url.database, "user": url.username}
    parts["password"] = url.password
    # libpq key=value syntax: single quotes around each value, backslash-escaped.
    return " ".join(f"{k}='{_libpq(str(v))}'" for k, v in parts.items() if v is not None)


def _libpq(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def create_views(con: duckdb.DuckDBPyConnection, schema: str) -> None:
    """The snapshot's views, computed from the attached store's tables."""
    _view(con, "feedback", FEEDBACK_COLUMNS, f"SELECT * FROM {schema}.feedback_record")
    customers = (
        f"SELECT c.*, {_churn_sql()} AS churned, v.rfm_segment FROM {schema}.customer c"
        f" LEFT JOIN {schema}.customer_value v ON v.customer_id = c.id"
    )
    _view(con, "customers", CUSTOMER_COLUMNS, customers)
    touchpoints = (
        f"SELECT t.id, t.workspace_id, t.key AS touchpoint, s.key AS stage, j.key AS journey "
        f"FROM {schema}.touchpoint t JOIN {schema}.journey_stage s ON s.id = t.stage_id "
        f"JOIN {schema}.journey j ON j.id = s.journey_id"
    )
    _view(con, "touchpoints", TOUCHPOINT_COLUMNS, touchpoints)
    # The same SELECTs the snapshot exports: record topics and the row sources.
    selects = [("record_topics", dimensions.RECORD_TOPIC_COLUMNS, dimensions.record_topics())]
    selects += [(source.table, source.columns, source.select()) for source in SOURCES.values()]
    for name, columns, select in selects:
        _table_views(con, schema, (t.name for t in find_tables(select)))
        _view(con, name, columns, _compiled(select))


def _view(con: duckdb.DuckDBPyConnection, name: str, columns: dict[str, str], body: str) -> None:
    typed = ", ".join(f"CAST(q.{c} AS {kind}) AS {c}" for c, kind in columns.items())
    con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT {typed} FROM ({body}) q")


def _table_views(con: duckdb.DuckDBPyConnection, schema: str, tables: Iterable[str]) -> None:
    """Store tables a compiled SELECT names unqualified, as views of the same name (bound at query time)."""
    for table in set(tables):
        # Quoted: a table may be named by an SQL keyword (`case`), which the compiled SELECT quotes too.
        con.execute(f'CREATE OR REPLACE VIEW "{table}" AS SELECT * FROM {schema}."{table}"')


def _compiled(select: Select[Any]) -> str:
    """A source's SQLAlchemy SELECT as SQL text DuckDB runs (PostgreSQL's dialect, values inlined)."""
    return str(select.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


def _churn_sql() -> str:
    """cem.analytics.churn's rule over the JSON attributes text, in DuckDB SQL."""
    whens = []
    for name in churn.ATTRIBUTES:
        text = f"lower(trim(json_extract_string(attributes, {sql_string('$.' + name)})))"
        whens.append(f"WHEN {text} IN ({', '.join(map(sql_string, churn.TRUE))}) THEN 1.0")
        whens.append(f"WHEN {text} IN ({', '.join(map(sql_string, churn.FALSE))}) THEN 0.0")
    return f"CASE {' '.join(whens)} ELSE NULL END"


# -- the SQLite reader process -----------------------------------------------------------------------------

_IN_READER_PROCESS = False  # set in the reader process only: the one place a SQLite store may be attached
_READER_CONNECTIONS: dict[str, duckdb.DuckDBPyConnection] = {}  # in the reader process: one per store


def _start_reader() -> None:
    """Runs first in the reader process: allow attaching SQLite here, and exit when the parent is gone."""
    global _IN_READER_PROCESS
    _IN_READER_PROCESS = True
    # Ctrl-C in a terminal reaches the whole process group: the parent decides when the reader stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, name="cem-reader-watch", daemon=True).start()


def _exit_with_parent() -> None:
    # A parent killed with SIGKILL never shuts its pool down: without this the reader would outlive it,
    # holding the file open.
    parent = multiprocessing.parent_process()
    if parent is not None:
        parent.join()
        os._exit(0)


def _read(database_url: str, text: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """In the reader process: run one read-only query over the attached store."""
    con = _READER_CONNECTIONS.get(database_url)
    if con is None:
        con = _READER_CONNECTIONS[database_url] = connect(database_url)
    cursor = con.cursor()
    try:
        return cursor.execute(text, params).fetchall()
    finally:
        cursor.close()


def _detach(database_url: str | None) -> None:
    """In the reader process: close one store's connection, or all."""
    for url in [database_url] if database_url else list(_READER_CONNECTIONS):
        if (con := _READER_CONNECTIONS.pop(url, None)) is not None:
            con.close()


class StoreReader:
    """The DuckDB engine over a SQLite store, run in the reader process; only SQL text and result rows cross.

    One reader process serves every SQLite store of this process, one query at a time (DuckDB spreads each
    query over all cores itself). It is spawned, not forked (a forked child would inherit this process's
    open SQLite connections), on the first query, and ends with this process, gracefully or not.
    """

    name = "duckdb"

    def __init__(self, database_url: str) -> None:
        _attach_target(make_url(database_url))  # a clear error for an in-memory store, here, not in the reader
        self.database_url = database_url

    def aggregate(self, query: AggregateQuery) -> list[AggregateRow]:
        """One row per non-empty (day, segment) cell."""
        sql = flat.build(query, "duckdb")
        return flat.to_rows(query, sql.n_dims, self.fetch(sql.text, sql.params))

    def fetch(self, text: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run read-only SQL over the store's views (`feedback`, `customers`, ...) in the reader process."""
        return _in_reader(_read, self.database_url, text, params or [])


_READER: ProcessPoolExecutor | None = None
_READER_LOCK = threading.Lock()


def _reader() -> ProcessPoolExecutor:
    global _READER
    with _READER_LOCK:
        if _READER is None:
            spawn = multiprocessing.get_context("spawn")
            _READER = ProcessPoolExecutor(max_workers=1, mp_context=spawn, initializer=_start_reader)
        return _READER


def _in_reader(function: Callable[..., T], *args: Any) -> T:
    """Call `function(*args)` in the reader process; a reader that died (killed, out of memory) is replaced once."""
    pool = _reader()
    try:
        return pool.submit(function, *args).result()
    except BrokenProcessPool:
        _replace(pool)
        return _reader().submit(function, *args).result()


def _replace(broken: ProcessPoolExecutor) -> None:
    global _READER
    with _READER_LOCK:
        if _READER is broken:  # not one another thread has already replaced
            _READER = None
    broken.shutdown(wait=False)


_ENGINES: dict[str, MetricEngine] = {}
_LOCK = threading.Lock()


def cached(database_url: str) -> MetricEngine:
    """One engine per store per process: PostgreSQL attached here, SQLite through the reader process (both
    keep the attachment and its catalog warm)."""
    with _LOCK:
        engine = _ENGINES.get(database_url)
        if engine is None:
            if make_url(database_url).get_backend_name() == "sqlite":
                engine = StoreReader(database_url)
            else:
                engine = DuckEngine(connect(database_url))
            _ENGINES[database_url] = engine
        return engine


def forget(database_url: str | None = None) -> None:
    """Close cached engines (all, or one store's): after a test database is dropped, for example."""
    with _LOCK:
        for url in [database_url] if database_url else list(_ENGINES):
            engine = _ENGINES.pop(url, None)
            if isinstance(engine, DuckEngine):
                engine.con.close()
        if _READER is not None:
            _in_reader(_detach, database_url)
