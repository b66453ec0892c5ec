"""PII redaction in display and export: roles without pii:read (everyone but admin) see masked text in the API,
the explorer, the customer 360 and the CSV export; the original stays stored; redaction is configurable per workspace.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select

from cem.feedback.models import FeedbackRecord
from tests.conftest import Workspace
from tests.text.helpers import ingest, text_record

ENGLISH = (
    "Please call me on +44 20 7946 0958 or write to jane.doe@example.co.uk - card 4111 1111 1111 1111 was "
    "charged twice from IP 192.168.10.24."
)
PORTUGUESE = (
    "Meu telefone é (11) 98765-4321 e o e-mail joao.silva@exemplo.com.br; o reembolso deve ir para o IBAN "
    "PT50 0002 0123 1234 5678 9015 4, pedido 12345-678-9012."
)
SECRETS = [
    "+44 20 7946 0958",
    "jane.doe@example.co.uk",
    "4111 1111 1111 1111",
    "192.168.10.24",
    "(11) 98765-4321",
    "joao.silva@exemplo.com.br",
    "PT50 0002 0123 1234 5678 9015 4",
]


def _ingest(api: Callable[[str], TestClient]) -> None:
    ingest(
        api("agent"),
        [
            text_record("en", ENGLISH, customer={"external_id": "c1", "email": "jane.doe@example.co.uk"}),
            text_record("pt", PORTUGUESE, customer={"external_id": "c1"}),
        ],
    )


def _texts(client: TestClient) -> dict[str, str]:
    r = client.get("/api/v1/feedback")
    assert r.status_code == 200, r.text
    return {item["submission_id"]: item["value_text"] for item in r.json()["items"]}


def test_roles_without_pii_access_see_masked_text(workspace: Workspace, api: Callable[[str], TestClient]) -> None:
    _ingest(api)
    for role in ("viewer", "agent", "analyst"):
        texts = _texts(api(role))
        joined = " ".join(texts.values())
        assert not [s for s in SECRETS if s in joined], (role, texts)
        assert "[EMAIL]" in texts["en"] and "[PHONE]" in texts["en"] and "[CARD]" in texts["en"]
        assert "[IP]" in texts["en"]
        assert "[PHONE]" in texts["pt"] and "[IBAN]" in texts["pt"] and "[EMAIL]" in texts["pt"]
        assert "pedido 12345-678-9012" in texts["pt"]  # an order number is not personal data
    assert _texts(api("admin")) == {"en": ENGLISH, "pt": PORTUGUESE}
    with workspace.db.unit_of_work(readonly=True) as session:
        stored = set(session.scalars(select(FeedbackRecord.value_text)))
    assert stored == {ENGLISH, PORTUGUESE}  # the original stays stored


def test_single_record_and_customer_360_are_masked(api: Callable[[str], TestClient]) -> None:
    _ingest(api)
    viewer = api("viewer")
    item = viewer.get("/api/v1/feedback").json()["items"][0]
    one = viewer.get(f"/api/v1/feedback/{item['id']}").json()
    assert "[EMAIL]" in one["value_text"]
    customer_id = item["customer_id"]
    texts = [f["value_text"] for f in viewer.get(f"/api/v1/customers/{customer_id}/feedback").json()]
    assert texts and all("[PHONE]" in t for t in texts)
    assert all(
        "[PHONE]" not in f["value_text"] for f in api("admin").get(f"/api/v1/customers/{customer_id}/feedback").json()
    )


def _export(client: TestClient) -> list[dict[str, str]]:
    r = client.get("/api/v1/feedback/export.csv")
    assert r.status_code == 200, r.text
    return list(csv.DictReader(io.StringIO(r.text)))


def test_csv_export_is_masked_for_analysts_not_admins(api: Callable[[str], TestClient]) -> None:
    _ingest(api)
    rows = _export(api("analyst"))
    assert rows and not [s for s in SECRETS if any(s in row["value"] for row in rows)]
    assert all("[PHONE]" in row["value"] for row in rows)
    admin_rows = _export(api("admin"))
    assert {row["value"] for row in admin_rows} == {ENGLISH, PORTUGUESE}


def test_explorer_and_customer_page_show_masked_text(workspace: Workspace, api: Callable[[str], TestClient]) -> None:
    _ingest(api)
    from tests.test_roles_matrix import login

    client = TestClient(workspace.client.app)
    login(client, workspace.user_email("analyst"))
    page = client.get("/feedback").text
    assert "write to [EMAIL]" in page and "(11) 98765-4321" not in page and "[IBAN]" in page
    customer_id = api("admin").get("/api/v1/feedback").json()["items"][0]["customer_id"]
    page = client.get(f"/customers/{customer_id}").text
    assert "(11) 98765-4321" not in page and "[PHONE]" in page


def test_workspace_configures_redaction(api: Callable[[str], TestClient]) -> None:
    _ingest(api)
    admin = api("admin")
    assert admin.get("/api/v1/text/settings/pii").json() == {
        "enabled": True,
        "kinds": ["email", "iban", "card", "ip", "phone", "name"],
    }
    r = admin.put("/api/v1/text/settings/pii", json={"enabled": True, "kinds": ["email"]})
    assert r.status_code == 200 and r.json()["kinds"] == ["email"]
    texts = _texts(api("viewer"))
    assert "[EMAIL]" in texts["en"] and "+44 20 7946 0958" in texts["en"]
    admin.put("/api/v1/text/settings/pii", json={"enabled": False, "kinds": ["email"]})
    assert _texts(api("viewer")) == {"en": ENGLISH, "pt": PORTUGUESE}


def test_bad_redaction_settings_are_rejected(api: Callable[[str], TestClient]) -> None:
    admin = api("admin")
    before = admin.get("/api/v1/text/settings/pii").json()
    for body in ({"enabled": True, "kinds": ["ssn"]}, {"enabled": "maybe"}, {"kinds": "email"}):
        r = admin.put("/api/v1/text/settings/pii", json=body)
        assert r.status_code == 422, r.text
        assert r.json()["errors"]
    assert admin.get("/api/v1/text/settings/pii").json() == before
    assert api("analyst").put("/api/v1/text/settings/pii", json={"enabled": False}).status_code == 403
