"""HTTP API: upload -> 202 + queued job, the worker path, status, errors.csv, saved mappings, permissions."""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select

from cem.auth.models import AuditLog
from cem.db.session import Database
from cem.jobs.models import Job
from cem.jobs.worker import Worker
from tests.imports.conftest import feedback_count, records

CSV = "submission_id,email,nps,comment\ns1,a@example.com,9,<b>Great</b>\ns2,b@example.com,eleven,Bad\n"
MAPPING = {"submission_id": "submission_id", "fields": [{"column": "nps", "field_type": "nps"}]}


def upload(client: TestClient, content: str | bytes, name: str = "f.csv", **data: str) -> object:
    return client.post("/api/v1/imports", files={"file": (name, content, "text/csv")}, data=data)


def test_upload_runs_as_a_job(admin_api: TestClient, db: Database) -> None:
    r = upload(admin_api, CSV)
    assert r.status_code == 202, r.text  # type: ignore[attr-defined]
    run = r.json()  # type: ignore[attr-defined]
    assert run["status"] == "queued" and run["total_rows"] == 2
    with db.unit_of_work(readonly=True) as session:
        job = session.scalars(select(Job)).one()
        assert (job.name, job.args["run_id"]) == ("imports.run", run["id"])
    # The import, then the text enrichment job its batch of text records enqueued.
    assert Worker(db).run_until_idle() == 2
    done = admin_api.get(f"/api/v1/imports/{run['id']}").json()
    assert (done["status"], done["processed_rows"], done["ok_rows"], done["error_rows"]) == ("done", 2, 1, 1)
    assert done["errors"] == [{"line": 3, "column": "nps", "reason": "'eleven' is not a number", "value": "eleven"}]
    with db.unit_of_work(readonly=True) as session:
        job = session.scalars(select(Job).where(Job.name == "imports.run")).one()
        assert job.status == "done" and job.progress_current == 2
        actions = set(session.scalars(select(AuditLog.action)))
    assert {"import.create", "import.complete"} <= actions
    csv_text = admin_api.get(f"/api/v1/imports/{run['id']}/errors.csv").text
    assert csv_text.splitlines() == ["line,column,reason,value", "3,nps,'eleven' is not a number,eleven"]
    assert [r["id"] for r in admin_api.get("/api/v1/imports").json()] == [run["id"]]
    assert {r.value_text for r in records(db)} == {"<b>Great</b>", None}


def test_file_errors_are_rejected_before_anything_is_stored(
    admin_api: TestClient, db: Database, settings: object
) -> None:
    cases = [
        (b"submission_id,comment\ns1,caf\xe9\n", {}, "not valid UTF-8 at byte 28"),
        (b"", {}, "The file is empty."),
        (b"a,b\n1,2\n", {"mapping": json.dumps(MAPPING)}, "missing columns: submission_id, nps"),
        (b"a,b\n1,2\n", {"mapping": "{oops"}, "not valid JSON"),
        (b"a,b\n1,2\n", {"target": "orders"}, "Unknown import target"),
        (b"a,b\n1,2\n", {"mapping_id": "999"}, "does not exist"),
    ]
    for content, data, message in cases:
        r = upload(admin_api, content, **data)
        body = r.json()  # type: ignore[attr-defined]
        assert r.status_code in (400, 404, 422), body  # type: ignore[attr-defined]
        assert set(body) == {"error", "detail", "status", "errors"} and message in body["detail"], body
    assert admin_api.get("/api/v1/imports").json() == []
    assert feedback_count(db) == 0
    leftovers = list((settings.data_dir / "imports").glob("*"))  # type: ignore[attr-defined]
    assert leftovers == []


def test_saved_mapping_crud_and_reuse(admin_api: TestClient, db: Database) -> None:
    r = admin_api.post("/api/v1/import-mappings", json={"name": "nps only", "mapping": MAPPING})
    assert r.status_code == 201, r.text
    saved = r.json()
    assert admin_api.post("/api/v1/import-mappings", json={"name": "nps only", "mapping": MAPPING}).status_code == 409
    bad = admin_api.post("/api/v1/import-mappings", json={"name": "x", "mapping": {"fields": []}})
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"][0] == "mapping"
    renamed = admin_api.patch(f"/api/v1/import-mappings/{saved['id']}", json={"name": "NPS"}).json()
    assert renamed["name"] == "NPS" and renamed["mapping"] == MAPPING
    run = upload(admin_api, CSV, mapping_id=str(saved["id"])).json()  # type: ignore[attr-defined]
    assert run["mapping_id"] == saved["id"]
    Worker(db).run_until_idle()
    assert [(r.field_id, r.value_number) for r in records(db)] == [("nps", 9.0)]
    assert admin_api.get("/api/v1/import-mappings").json()[0]["name"] == "NPS"
    assert admin_api.delete(f"/api/v1/import-mappings/{saved['id']}").status_code == 204
    assert admin_api.get(f"/api/v1/import-mappings/{saved['id']}").status_code == 404


def test_save_mapping_as_on_upload(admin_api: TestClient, db: Database) -> None:
    upload(admin_api, CSV, mapping=json.dumps(MAPPING), save_mapping_as="from upload")
    names = [m["name"] for m in admin_api.get("/api/v1/import-mappings").json()]
    assert names == ["from upload"]


def test_ndjson_upload(admin_api: TestClient, db: Database) -> None:
    line = {
        "source_type": "api",
        "source_name": "x",
        "submission_id": "n1",
        "field_id": "f",
        "field_type": "text",
        "value": "hi",
    }
    r = upload(admin_api, json.dumps(line) + "\n", name="x.ndjson")
    assert r.status_code == 202  # type: ignore[attr-defined]
    Worker(db).run_until_idle()
    assert [rec.value_text for rec in records(db)] == ["hi"]


def test_permissions(api: Callable[..., TestClient]) -> None:
    viewer, agent = api("viewer"), api("agent")
    assert upload(agent, CSV).status_code == 403  # type: ignore[attr-defined]
    assert agent.post("/api/v1/import-mappings", json={"name": "m", "mapping": MAPPING}).status_code == 403
    assert viewer.get("/api/v1/imports").status_code == 200
    assert upload(api("analyst"), CSV).status_code == 202  # type: ignore[attr-defined]


def test_run_of_another_workspace_is_not_found(admin_api: TestClient) -> None:
    assert admin_api.get("/api/v1/imports/424242").status_code == 404
    assert admin_api.get("/api/v1/imports/424242/errors.csv").json()["error"] == "not_found"
