"""Imports against bad input and killed processes (issue 12, item 6): non-text codecs are refused, an unclosed
quote is a row error with its lines, and a run whose process was SIGKILLed becomes interrupted and resumable."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from cem.cli import app as cli_app
from cem.config import Settings
from cem.db.session import Database
from cem.imports.models import ImportRun
from cem.imports.runner import Outcome
from cem.jobs.models import Job
from tests.conftest import Workspace
from tests.imports.conftest import feedback_count, records
from tests.imports.test_web import login

REPO = Path(__file__).resolve().parents[2]
NOT_TEXT_CODECS = ["zlib_codec", "bz2", "base64", "rot13", "hex", "idna", "undefined", "unicode_escape"]
CSV = "submission_id,nps\ns1,9\ns2,7\n"


# -- encodings ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("codec", NOT_TEXT_CODECS)
def test_api_refuses_codecs_that_are_not_text_encodings(
    admin_api: TestClient, db: Database, settings: Settings, codec: str
) -> None:
    uploads = settings.data_dir / "imports"
    kept_before = set(uploads.glob("*"))  # other tests of this session may have left uploads
    r = admin_api.post("/api/v1/imports", files={"file": ("f.csv", CSV, "text/csv")}, data={"encoding": codec})
    body = r.json()
    assert r.status_code == 422, body
    assert set(body) == {"error", "detail", "status", "errors"} and body["error"] == "invalid_file"
    assert f"{codec!r} is not a character encoding" in body["detail"]
    assert admin_api.get("/api/v1/imports").json() == [] and feedback_count(db) == 0
    assert set(uploads.glob("*")) == kept_before  # the upload is not kept


def test_a_text_encoding_still_works(admin_api: TestClient, db: Database) -> None:
    content = "submission_id,nps,comment\ns1,9,café\n".encode("cp1252")
    r = admin_api.post("/api/v1/imports", files={"file": ("f.csv", content, "text/csv")}, data={"encoding": "cp1252"})
    assert r.status_code == 202, r.text


def test_web_form_refuses_a_compression_codec(workspace: Workspace, db: Database) -> None:
    client, csrf = login(workspace)
    r = client.post(
        "/imports",
        data={"csrf_token": csrf, "target": "feedback", "mapping": "", "encoding": "zlib_codec"},
        files={"file": ("f.csv", CSV, "text/csv")},
    )
    assert r.status_code == 422
    assert "&#39;zlib_codec&#39; is not a character encoding" in r.text and 'data-testid="form-error"' in r.text
    assert feedback_count(db) == 0


def test_cli_refuses_a_compression_codec(cli: CliRunner, tmp_path: Path, db: Database) -> None:
    path = tmp_path / "f.csv"
    path.write_text(CSV, encoding="utf-8")
    result = cli.invoke(cli_app, ["import", str(path), "--workspace", "acme", "--encoding", "zlib_codec"])
    assert result.exit_code == 2, result.output
    assert "'zlib_codec' is not a character encoding" in result.output
    assert feedback_count(db) == 0


# -- unclosed quotes ------------------------------------------------------------------------------------------------


def test_an_unclosed_quote_up_to_the_end_is_a_row_error(
    write: Callable[..., Path], run_import: Callable[..., Outcome], db: Database
) -> None:
    path = write('submission_id,nps,comment\ns1,9,fine\ns2,8,"never closed\ns3,7,lost\ns4,6,lost too\n')
    outcome = run_import(path)
    assert (outcome.counts.ok, outcome.counts.errors) == (1, 1)
    [error] = outcome.counts.first_errors
    assert error["line"] == 3 and "lines 3-5 were read as one row" in error["reason"]
    assert error["value"].startswith('s2,8,"never closed')
    assert [r.submission_id for r in records(db)] == ["s1", "s1"]  # nps + comment of the row before it


def test_an_unclosed_quote_closed_by_a_later_one_is_a_row_error(
    write: Callable[..., Path], run_import: Callable[..., Outcome], db: Database
) -> None:
    path = write('submission_id,nps,comment\ns1,9,a\ns2,8,"oops\ns3,7,b\ns4,6,"c"\ns5,5,"multi\nline"\ns6,4,d\n')
    outcome = run_import(path)
    [error] = outcome.counts.first_errors
    assert error["line"] == 3 and "lines 3-5" in error["reason"]
    stored = {r.submission_id for r in records(db)}
    assert stored == {"s1", "s5", "s6"}  # before and after the broken record; a proper multi-line value is fine
    assert any(r.value_text == "multi\nline" for r in records(db))


def test_an_unclosed_quote_on_the_last_line(
    write: Callable[..., Path], run_import: Callable[..., Outcome], db: Database
) -> None:
    outcome = run_import(write('submission_id,nps,comment\ns1,9,a\ns2,8,"no end'))
    assert [e["line"] for e in outcome.counts.first_errors] == [3]
    assert "line 3 was read as one row" in outcome.counts.first_errors[0]["reason"]
    assert {r.submission_id for r in records(db)} == {"s1"}


# -- interrupted runs (real processes) ------------------------------------------------------------------------------

ROWS = 60_000  # six batches of 10,000: the kill lands after the first commit and before the last


def _env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "CEM_DATABASE_URL": settings.resolved_database_url,
        "CEM_DATA_DIR": str(settings.data_dir),
        "CEM_ENV": "test",
        "CEM_WORKER_POLL_SECONDS": "0.05",
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)]),
        "PYTHONUNBUFFERED": "1",
    }


def _cem(settings: Settings, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", "from cem.cli import main; main()", *args],
        env=_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _run(db: Database, run_id: int) -> ImportRun:
    with db.unit_of_work(readonly=True) as session:
        run = session.get(ImportRun, run_id)
        assert run is not None
        session.expunge(run)
        return run


def _latest_run_id(db: Database) -> int | None:
    with db.unit_of_work(readonly=True) as session:
        return session.scalar(select(ImportRun.id).order_by(ImportRun.id.desc()).limit(1))


def _kill_after_first_batch(db: Database, proc: subprocess.Popen[str], run_id: Callable[[], int | None]) -> int:
    deadline = time.monotonic() + 120
    while True:
        found = run_id()
        if found is not None and _run(db, found).processed_rows >= 10_000:
            break
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "the first batch was never committed"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    return found


def _big_csv(tmp_path: Path) -> Path:
    path = tmp_path / "big.csv"
    path.write_text("submission_id,nps\n" + "".join(f"s{i},{i % 11}\n" for i in range(ROWS)), encoding="utf-8")
    return path


@pytest.mark.slow
def test_a_killed_worker_leaves_an_interrupted_run_that_resumes(
    admin_api: TestClient, workspace: Workspace, db: Database, settings: Settings, tmp_path: Path
) -> None:
    content = _big_csv(tmp_path).read_bytes()
    run_id = admin_api.post("/api/v1/imports", files={"file": ("big.csv", content, "text/csv")}).json()["id"]
    worker = _cem(settings, "worker")
    _kill_after_first_batch(db, worker, lambda: run_id)
    killed = _run(db, run_id)
    assert killed.status == "running" and 10_000 <= killed.processed_rows < ROWS  # what was left behind

    restarted = subprocess.run(
        [sys.executable, "-c", "from cem.cli import main; main()", "worker", "--once"],
        env=_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert restarted.returncode == 0, restarted.stderr
    assert f"Import run {run_id} was interrupted" in restarted.stdout
    seen = admin_api.get(f"/api/v1/imports/{run_id}").json()
    assert (seen["status"], seen["resumable"], seen["processed_rows"]) == ("interrupted", True, killed.processed_rows)
    assert f"Interrupted after {killed.processed_rows} rows" in seen["message"]
    with db.unit_of_work(readonly=True) as session:
        job = session.scalars(select(Job).where(Job.name == "imports.run")).one()
        assert job.status == "dead"  # never claimed again next to the resumed one

    client, csrf = login(workspace)
    listing = client.get("/imports").text
    assert 'data-status="interrupted"' in listing and f'data-resume="{run_id}"' in listing
    page = client.get(f"/imports/{run_id}").text
    assert 'data-status="interrupted"' in page and 'id="import-resume"' in page
    r = client.post(f"/imports/{run_id}/resume", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/imports/{run_id}"
    assert admin_api.get(f"/api/v1/imports/{run_id}").json()["status"] == "queued"
    again = admin_api.post(f"/api/v1/imports/{run_id}/resume")
    assert again.status_code == 409 and again.json()["error"] == "conflict"

    finished = subprocess.run(
        [sys.executable, "-c", "from cem.cli import main; main()", "worker", "--once"],
        env=_env(settings),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert finished.returncode == 0, finished.stderr
    done = admin_api.get(f"/api/v1/imports/{run_id}").json()
    assert (done["status"], done["processed_rows"], done["ok_rows"], done["error_rows"]) == ("done", ROWS, ROWS, 0)
    assert feedback_count(db) == ROWS  # every row once: nothing lost, nothing twice


@pytest.mark.slow
def test_a_killed_cli_import_is_marked_interrupted_when_the_server_starts(
    app: object, workspace: Workspace, db: Database, settings: Settings, tmp_path: Path
) -> None:
    importer = _cem(settings, "import", str(_big_csv(tmp_path)), "--workspace", "acme")
    run_id = _kill_after_first_batch(db, importer, lambda: _latest_run_id(db))
    assert _run(db, run_id).status == "running"
    with TestClient(app) as started:  # type: ignore[arg-type]  # the server's start-up
        started.headers.update(workspace.headers("admin"))
        seen = started.get(f"/api/v1/imports/{run_id}").json()
        assert (seen["status"], seen["resumable"]) == ("interrupted", False)
        assert re.search(r"Run `cem import` with the same file again", seen["message"])
        refused = started.post(f"/api/v1/imports/{run_id}/resume")
        assert refused.status_code == 409 and "cem import" in refused.json()["detail"]
