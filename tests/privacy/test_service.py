from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from cem.auth.models import AuditLog
from cem.db.session import Database
from cem.privacy import service
from tests.privacy.conftest import ANN, JOANN, People, fts_hits, traces


def test_export_holds_everything_linked(db: Database, people: People) -> None:
    with db.unit_of_work(readonly=True) as session:
        data = service.export_person(session, email="  Ann@Example.com ", workspace_id=people.workspace.id)
    tables = data["tables"]
    assert data["found"] is True
    assert data["email"] == ANN
    assert [c["email"] for c in tables["customer"]] == [ANN]
    assert tables["customer"][0]["attributes"] == {"plan": "pro"}
    assert len(tables["event"]) == 1
    # Her two answers, plus the ticket that quotes her address.
    texts = sorted(r["value_text"] or "" for r in tables["feedback_record"])
    assert texts == ["", "Please forward to ann@example.com or joann@example.com", "zebrafish delivery was late"]
    assert [u["email"] for u in tables["app_user"]] == [ANN]
    assert "password_hash" not in tables["app_user"][0]
    assert len(tables["membership"]) == 1
    assert len(tables["api_token"]) == 1 and "token_hash" not in tables["api_token"][0]
    assert len(tables["web_session"]) == 1 and "csrf_token" not in tables["web_session"][0]
    assert {a["action"] for a in tables["audit_log"]} >= {"token.create", "customer.update"}
    assert [r["created_by"] for r in tables["import_run"]] == [ANN]
    assert [j["args"] for j in tables["job"]] == [{"to": ANN}]
    assert [e["key"] for e in tables["job_effect"]] == [f"mail.sent:{ANN}"]
    # Nothing of Joann's leaks into Ann's export, apart from the shared ticket.
    assert "kangaroo" not in str(tables)


def test_export_of_unknown_person_is_empty(db: Database, people: People) -> None:
    with db.unit_of_work(readonly=True) as session:
        data = service.export_person(session, email="nobody@example.com")
    assert data["found"] is False
    assert all(rows == [] for rows in data["tables"].values())


def test_erase_removes_every_trace_and_keeps_others(
    db: Database, people: People, count_rows: Callable[[str], int]
) -> None:
    assert traces(db, ANN)  # the seeded data really holds her address
    joann_before = traces(db, JOANN)
    with db.unit_of_work() as session:
        assert fts_hits(session, "zebrafish") == 1
        report = service.erase_person(session, email=ANN)
    assert traces(db, ANN) == {}
    assert traces(db, "Ann Lee") == {}
    assert traces(db, JOANN) == joann_before
    assert report.deleted["customer"] == 1
    assert report.deleted["feedback_record"] == 2
    assert report.deleted["app_user"] == 1
    assert report.deleted["job_effect"] == 1
    assert report.anonymised["feedback_record"] == 1  # the quoting ticket, scrubbed
    assert count_rows("customer") == 1  # Joann's
    assert count_rows("feedback_record") == 3  # Joann's two answers and the scrubbed ticket
    with db.unit_of_work(readonly=True) as session:
        assert fts_hits(session, "zebrafish") == 0
        assert fts_hits(session, "kangaroo") == 1
        anonymised = session.scalars(select(AuditLog.action).where(AuditLog.actor_label == "[erased user]")).all()
    assert set(anonymised) == {"token.create", "customer.update"}


def test_erase_is_audited_with_counts_only(db: Database, people: People) -> None:
    with db.unit_of_work() as session:
        service.erase_person(session, email=ANN)
    with db.unit_of_work(readonly=True) as session:
        entries = session.scalars(select(AuditLog).where(AuditLog.action == "privacy.erase")).all()
    assert len(entries) == 1
    entry = entries[0]
    assert entry.details["deleted"]["customer"] == 1
    assert all(isinstance(n, int) for kind in ("deleted", "anonymised") for n in entry.details[kind].values())
    assert "ann" not in str(entry.details).lower() and "ann" not in entry.entity_id.lower()


def test_workspace_scoped_erase_keeps_other_workspaces(db: Database, people: People) -> None:
    from cem.admin import service as admin_service
    from tests.conftest import PASSWORD

    with db.unit_of_work() as session:
        other = admin_service.ensure_workspace(session, slug="other", name="Other")
        admin_service.create_user(session, email=ANN, password=PASSWORD, workspace=other, role="viewer")
        other_id = other.id
    with db.unit_of_work() as session:
        report = service.erase_person(session, email=ANN, workspace_id=people.workspace.id)
    assert "app_user" not in report.deleted  # still a member of "other"
    assert report.deleted["membership"] == 1
    with db.unit_of_work(readonly=True) as session:
        left = service.export_person(session, email=ANN)["tables"]
        assert [m["workspace_id"] for m in left["membership"]] == [other_id]
        assert left["customer"] == []
    with db.unit_of_work() as session:
        assert service.erase_person(session, email=ANN, workspace_id=other_id).deleted["app_user"] == 1
