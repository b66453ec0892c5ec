"""The /imports pages: upload form, run page with progress and the escaped error report."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from cem.db.session import Database
from cem.jobs.worker import Worker
from tests.conftest import PASSWORD, Workspace
from tests.imports.conftest import records

INJECTION = "<script>alert('x')</script>"


def login(workspace: Workspace, role: str = "admin") -> tuple[TestClient, str]:
    client = TestClient(workspace.client.app)
    r = client.post("/login", data={"email": workspace.user_email(role), "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303
    page = client.get("/imports").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    return client, token.group(1) if token else ""


def test_upload_and_watch_run(workspace: Workspace, db: Database) -> None:
    client, csrf = login(workspace)
    page = client.get("/imports").text
    for marker in ('id="import-form"', 'name="file"', 'name="target"', 'name="mapping"', 'id="import-submit"'):
        assert marker in page
    body = f"submission_id,email,nps,comment\ns1,a@example.com,9,{INJECTION}\ns2,b@example.com,eleven,x\n"
    r = client.post(
        "/imports",
        data={"csrf_token": csrf, "target": "feedback", "mapping": ""},
        files={"file": ("simple.csv", body, "text/csv")},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    run_url = r.headers["location"]
    queued = client.get(run_url).text
    assert 'id="import-status"' in queued and "queued" in queued and 'hx-trigger="every 1s"' in queued
    Worker(db).run_until_idle()
    done = client.get(run_url + "/status").text
    assert 'data-status="done"' in done and "hx-trigger" not in done
    assert re.search(r'id="import-ok-rows">1<', done) and re.search(r'id="import-error-rows">1<', done)
    assert len(re.findall(r'<tr data-line="(\d+)"', done)) == 1 and '<tr data-line="3">' in done
    assert 'id="import-progress" max="2" value="2"' in done
    assert [r.value_text for r in records(db) if r.value_text] == [INJECTION]
    listing = client.get("/imports").text
    assert "simple.csv" in listing


def test_error_strings_are_escaped(workspace: Workspace, db: Database) -> None:
    client, csrf = login(workspace)
    body = f"submission_id,nps\ns1,{INJECTION}\n"
    r = client.post(
        "/imports", data={"csrf_token": csrf}, files={"file": ("x.csv", body, "text/csv")}, follow_redirects=False
    )
    Worker(db).run_until_idle()
    page = client.get(r.headers["location"]).text
    assert INJECTION not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page


def test_bad_file_reshows_form_with_reason(workspace: Workspace) -> None:
    client, csrf = login(workspace)
    r = client.post("/imports", data={"csrf_token": csrf}, files={"file": ("x.csv", b"", "text/csv")})
    assert r.status_code == 422 and "The file is empty." in r.text and 'id="import-form"' in r.text
    r = client.post("/imports", data={"csrf_token": "wrong"}, files={"file": ("x.csv", b"a\n1\n", "text/csv")})
    assert r.status_code == 403


def test_viewer_sees_runs_but_no_form(workspace: Workspace) -> None:
    client, _ = login(workspace, "viewer")
    page = client.get("/imports").text
    assert "Recent imports" in page and 'id="import-form"' not in page
