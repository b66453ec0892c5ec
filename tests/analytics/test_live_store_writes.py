"""No acknowledged write is lost after the DuckDB engine has read the live SQLite store (issue 12, item 1).

The scenario of the outside review, with real processes: a `cem serve` on a store large enough for `auto` to
pick DuckDB answers a metric query, a second `cem` process opens and closes the store, then the server
acknowledges 100 new records. Every one of them must be visible to a fresh connection in another process,
and still be there after the server stopped and started again.

(The failure it guards against: a second SQLite library inside the writing server process - DuckDB's
sqlite_scanner - closing its own descriptors on the file drops the server's POSIX locks; the next process
that closes the store then believes it is the last one, checkpoints and deletes -wal/-shm, and the server
goes on committing into the deleted WAL inode.)
"""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cem.admin import service as admin_service
from cem.analytics.engines import attached
from cem.analytics.settings import AnalyticsSettings
from cem.auth.principal import system_principal
from cem.config import Settings
from cem.db import migrate
from cem.db.session import Database

CEM = Path(sys.executable).parent / "cem"
RECORDS = AnalyticsSettings().auto_min_rows + 500  # enough for `auto` to choose DuckDB
WRITES = 100
MARKER = "after-duckdb-read"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Store:
    """A cem data directory on SQLite with an admin token, a server it can start and stop, and a `cem` runner."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.path = data_dir / "cem.db"
        self.port = _free_port()
        self.server: subprocess.Popen[bytes] | None = None
        self.token = ""
        self.env = {
            **os.environ,
            "CEM_DATA_DIR": str(data_dir),
            "CEM_DATABASE_URL": f"sqlite:///{self.path}",
            "CEM_ENV": "dev",
            "CEM_IN_PROCESS_WORKER": "false",
            "CEM_ANALYTICS_ENGINE": "auto",
        }

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def prepare(self) -> None:
        """Migrate, create a workspace with an admin token, and write RECORDS NPS answers straight into the file."""
        db = Database(Settings(env="test", data_dir=self.data_dir, database_url=self.env["CEM_DATABASE_URL"]))
        migrate.upgrade(db.engine)
        with db.unit_of_work() as session:
            ws = admin_service.ensure_workspace(session, slug="default", name="Default")
            actor = system_principal(ws.id, label="test")
            self.token = admin_service.create_token(session, actor=actor, name="t", role="admin").secret
            workspace_id = ws.id
        db.dispose()
        stamp = "2025-01-01 00:00:00.000000"
        rows = [
            (workspace_id, ["survey", "chat", "review"][i % 3], f"bulk-{i}", float(i % 11), stamp, stamp, stamp)
            for i in range(RECORDS)
        ]
        with sqlite3.connect(self.path) as con:
            con.executemany(
                "INSERT INTO feedback_record (workspace_id, source_type, source_name, submission_id, field_id,"
                " field_label, field_type, value_number, collected_at, metadata, created_at, updated_at)"
                " VALUES (?, ?, 'seed', ?, 'score', '', 'nps', ?, ?, '{}', ?, ?)",
                rows,
            )
        con.close()

    def cem(self, *args: str) -> str:
        done = subprocess.run(
            [str(CEM), *args], env=self.env, cwd=self.data_dir, capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, f"cem {' '.join(args)} failed: {done.stderr[-2000:]}"
        return done.stdout

    def start(self) -> None:
        self.server = subprocess.Popen(
            [str(CEM), "serve", "--port", str(self.port)],
            env=self.env,
            cwd=self.data_dir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120  # generous: a loaded CI machine starts slowly
        while time.monotonic() < deadline:
            assert self.server.poll() is None, "the server exited on start"
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        pytest.fail("the server did not start within 120 s")

    def stop(self) -> None:
        """A graceful stop (SIGTERM, as a service manager sends)."""
        if self.server is not None:
            self.server.terminate()
            self.server.wait(timeout=30)
            self.server = None

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers run."""
        if self.server is not None:
            self.server.kill()
            self.server.wait()
            self.server = None

    def count(self, source_name: str) -> int:
        """Records of a source, as a fresh connection in this (another) process sees them."""
        con = sqlite3.connect(self.path)
        try:
            row = con.execute("SELECT count(*) FROM feedback_record WHERE source_name = ?", (source_name,)).fetchone()
            return int(row[0])
        finally:
            con.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    created = Store(tmp_path)
    created.prepare()
    yield created
    created.kill()


def _process_tree(pid: int) -> list[int]:
    """The process and all its descendants (from /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(text.rsplit(")", 1)[1].split()[1])
    tree, frontier = [pid], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        tree += children
        frontier = children
    return tree


def _deleted_wal_descriptors(pid: int) -> list[str]:
    """Open descriptors on a WAL file that no longer exists, in the server or any process it started."""
    found = []
    for proc in _process_tree(pid):
        for fd in Path(f"/proc/{proc}/fd").glob("*"):
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if "-wal" in target and target.endswith("(deleted)"):
                found.append(f"{proc}: {target}")
    return found


def _running(pid: int) -> bool:
    """Alive, not merely a zombie waiting to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _assert_all_exit(pids: list[int]) -> None:
    """Every process of the stopped server is gone (no reader process left holding the store open)."""
    deadline = time.monotonic() + 15
    while (alive := [pid for pid in pids if _running(pid)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert alive == [], "a process of the stopped server is still running"


def test_acknowledged_writes_survive_duckdb_reading_the_store(store: Store) -> None:
    store.start()
    assert store.server is not None
    # The first DuckDB query also starts what serves it: a generous timeout on a busy machine.
    answer = httpx.get(
        f"{store.url}/api/v1/metrics",
        params={"metric": "nps", "group_by": "channel"},
        headers=store.headers,
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["engine"] == "duckdb", "auto should pick DuckDB on a store this large"
    assert sum(row["n"] for row in body["rows"]) == RECORDS

    store.cem("jobs", "list")  # another process opens and closes the store

    with httpx.Client(base_url=store.url, headers=store.headers, timeout=30) as client:
        for i in range(WRITES):
            record = {
                "source_type": "survey",
                "source_name": MARKER,
                "submission_id": f"ack-{i}",
                "field_id": "score",
                "field_type": "nps",
                "value": i % 11,
            }
            response = client.post("/api/v1/feedback", json=record)
            assert response.status_code == 200, response.text

    assert store.count(MARKER) == WRITES, "acknowledged records are invisible to another process"
    assert _deleted_wal_descriptors(store.server.pid) == []

    server_and_reader = _process_tree(store.server.pid)
    store.stop()
    assert store.count(MARKER) == WRITES, "acknowledged records are missing from the file after a graceful stop"
    _assert_all_exit(server_and_reader)
    store.start()
    assert store.count(MARKER) == WRITES, "acknowledged records are missing after a restart"

    # DuckDB still reads the current store, and its reader process dies with a server killed outright.
    again = httpx.get(
        f"{store.url}/api/v1/metrics",
        params={"metric": "nps", "group_by": "channel"},
        headers=store.headers,
        timeout=60,
    )
    assert again.status_code == 200, again.text
    assert again.json()["engine"] == "duckdb"
    assert sum(row["n"] for row in again.json()["rows"]) == RECORDS + WRITES
    server_and_reader = _process_tree(store.server.pid)
    assert len(server_and_reader) > 1, "the DuckDB reader should run in a process of its own"
    store.kill()
    _assert_all_exit(server_and_reader)


def test_no_sqlite_store_is_attached_inside_a_process_that_writes_to_it(tmp_path: Path) -> None:
    """The rule by design: this (test) process writes to stores, so attaching one in it is refused, and the
    engine cem hands out for a SQLite store reads it from another process, which sees this process's commits."""
    path = tmp_path / "store.db"
    url = f"sqlite:///{path}"
    db = Database(Settings(env="test", data_dir=tmp_path, database_url=url))
    migrate.upgrade(db.engine)
    with pytest.raises(RuntimeError, match="reader process"):
        attached.connect(url)
    engine = attached.cached(url)
    assert isinstance(engine, attached.StoreReader)
    with db.unit_of_work() as session:
        ws = admin_service.ensure_workspace(session, slug="w", name="W")
        workspace_id = ws.id
    assert engine.fetch("SELECT count(*) FROM feedback WHERE workspace_id = ?", [workspace_id]) == [(0,)]
    stamp = "2025-01-01 00:00:00.000000"
    with db.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO feedback_record (workspace_id, source_type, source_name, submission_id, field_id,"
            " field_label, field_type, value_number, collected_at, metadata, created_at, updated_at)"
            " VALUES (?, 'survey', 's', 'x', 'score', '', 'nps', 9, ?, '{}', ?, ?)",
            (workspace_id, stamp, stamp, stamp),
        )
    assert engine.fetch("SELECT count(*) FROM feedback WHERE workspace_id = ?", [workspace_id]) == [(1,)]
    reader_pids = {p.pid for p in multiprocessing.active_children()}
    assert reader_pids and os.getpid() not in reader_pids
    attached.forget(url)
    db.dispose()
