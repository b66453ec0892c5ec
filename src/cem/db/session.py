"""Engine factory and the unit of work: the only place that commits.

SQLite (the embedded default) runs in WAL mode with a busy timeout and foreign keys on. Write
transactions start with BEGIN IMMEDIATE so two writers queue on the lock instead of failing with
"database is locked" when a deferred reader tries to upgrade; read-only units use a plain deferred
BEGIN so readers never wait on writers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from cem.config import Settings

AfterCommit = Callable[[], None]
BUSY_TIMEOUT_SECONDS = 30


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below emit BEGIN itself (pysqlite's own handling is wrong).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.execute("PRAGMA foreign_keys=ON")
        # NORMAL in WAL mode keeps every committed transaction across a process kill (SIGKILL);
        # only an OS crash or power cut may lose the last commits.
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Zero deleted content: a privacy erasure (and any earlier update of the person's rows) must not leave the
        # old bytes in freed pages. Debian builds SQLite with this on by default, other builds (python.org, macOS)
        # do not; in WAL mode it costs no extra page writes for cells, only the freed pages themselves.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    # SQLite allows one writer. Threads of this process queue on a fair Python lock, taken at BEGIN
    # and released at COMMIT/ROLLBACK, instead of SQLite's busy handler whose sleeps grow to 100 ms
    # and wreck latency under concurrent writes (Datasette's one-writer discipline). A plain Lock,
    # not an RLock: FastAPI may begin a request's transaction in one thread and commit it in another.
    # Other processes (a separate `cem worker`) still meet busy_timeout.
    write_lock = threading.Lock()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get("cem_readonly"):
            conn.exec_driver_sql("BEGIN DEFERRED")
            return
        if not write_lock.acquire(timeout=BUSY_TIMEOUT_SECONDS):
            raise OperationalError("BEGIN IMMEDIATE", None, Exception("database is locked (writer queue timeout)"))
        conn.info["cem_holds_write_lock"] = True
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release(conn)
            raise

    def _release(conn: Connection) -> None:
        if conn.info.pop("cem_holds_write_lock", False):
            write_lock.release()

    event.listen(engine, "commit", _release)
    event.listen(engine, "rollback", _release)


def make_engine(settings: Settings) -> Engine:
    """Create the engine for the configured database."""
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        # Pool as large as the request thread pool (40), so no request waits on the pool while
        # another holds the write lock.
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_SECONDS},
            pool_size=20,
            max_overflow=30,
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


class Database:
    """Holds the engine and session factory; passed around explicitly, never a global."""

    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.engine = engine or make_engine(settings)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False, autoflush=True)
        self._readonly_engine = self.engine.execution_options(cem_readonly=True)
        self._readonly_sessions = sessionmaker(self._readonly_engine, expire_on_commit=False)
        self.after_commit_hooks: list[AfterCommit] = []

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def unit_of_work(self, *, readonly: bool = False) -> Iterator[Session]:
        """One transaction: commit on success, roll back on any exception, then run after-commit hooks."""
        factory = self._readonly_sessions if readonly else self._sessions
        session = factory()
        try:
            yield session
            if not readonly:
                session.commit()
            # A read-only unit just closes: closing detaches loaded objects without expiring them.
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
        if not readonly and session.info.get("jobs_enqueued"):
            for hook in self.after_commit_hooks:
                hook()

    def dispose(self) -> None:
        self.engine.dispose()
