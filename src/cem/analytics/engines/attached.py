"""DuckDB over the operational store itself: the SQLite file or the PostgreSQL database, attached read-only.

DuckDB's scanner extensions read the store's tables directly, so metric queries see every committed change
with no export step, and still aggregate column-wise in DuckDB (1,000,000 SQLite records scanned in ~0.1 s).
The extensions come from PyPI packages (duckdb-extension-sqlite-scanner / -postgres-scanner, pinned to the
DuckDB version) and are loaded from their files: DuckDB's own INSTALL would download them, and cem runs
offline. Views named like the Parquet snapshot's (`feedback`, `customers`, `touchpoints`, `record_topics` and the
row sources) present the same columns and types, so the one flat SQL of cem.analytics.engines.flat runs unchanged.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy import Select
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import URL, make_url
from sqlalchemy.sql.util import find_tables

from cem.analytics import churn, dimensions, duck_connection
from cem.analytics.engines.duck import DuckEngine
from cem.analytics.snapshot import CUSTOMER_COLUMNS, FEEDBACK_COLUMNS, TOUCHPOINT_COLUMNS, sql_string
from cem.analytics.sources import SOURCES
from cem.errors import InvalidInput

STORE = "store"
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
    """A DuckDB connection with the store attached read-only and the metric views created over it."""
    url = make_url(database_url)
    dialect = url.get_backend_name()
    if dialect not in EXTENSIONS:
        raise InvalidInput(f"The DuckDB engine reads SQLite or PostgreSQL stores, not {dialect}.")
    con = duck_connection.connect()
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    con.execute("SET TimeZone = 'UTC'")  # PostgreSQL's timestamptz become UTC wall times, as in SQLite
    con.execute(f"LOAD {sql_string(str(extension_file(*EXTENSIONS[dialect])))}")
    con.execute(f"ATTACH {sql_string(_attach_target(url))} AS {STORE} (TYPE {dialect[:8]}, READ_ONLY)")
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
    customers = f"SELECT *, {_churn_sql()} AS churned FROM {schema}.customer"
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
        con.execute(f"CREATE OR REPLACE VIEW {table} AS SELECT * FROM {schema}.{table}")


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


_ENGINES: dict[str, DuckEngine] = {}
_LOCK = threading.Lock()


def cached(database_url: str) -> DuckEngine:
    """One attached engine per store per process (the attachment and its catalog stay warm)."""
    with _LOCK:
        engine = _ENGINES.get(database_url)
        if engine is None:
            engine = _ENGINES[database_url] = DuckEngine(connect(database_url))
        return engine


def forget(database_url: str | None = None) -> None:
    """Close cached engines (all, or one store's): after a test database is dropped, for example."""
    with _LOCK:
        for url in [database_url] if database_url else list(_ENGINES):
            if (engine := _ENGINES.pop(url, None)) is not None:
                engine.con.close()
