"""Searching cannot reveal masked personal data: for roles without pii:read, the full-text filter `q` of the feedback
API, the explorer page, the CSV export and similar feedback matches only the text they see (an email, a phone number
or a piece of one that occurs only inside "[EMAIL]" / "[PHONE]" finds nothing), and embeddings are computed from
masked text so semantic search cannot rank by it either. Admins (pii:read) and workspaces with redaction off search
the whole text, as before.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from cem.feedback import fulltext
from cem.feedback import service as feedback_service
from cem.text.enrich import text_hash
from cem.text.models import FeedbackEmbedding
from cem.text.pii import find_pii
from cem.text.vector_index import decode_vector
from tests.conftest import Workspace
from tests.test_roles_matrix import login
from tests.text.helpers import ingest, records_by_submission, run_jobs, store_vectors, text_record

SECRET = (
    "Please call me on +44 20 7946 0958 or write to zoe.keller@example.co.uk about the refund; card 4111 1111 1111 "
    "1111, IP 192.168.10.24, IBAN PT50 0002 0123 1234 5678 9015 4."
)
PLAIN = "Zoe at the desk sorted the refund, order 12345-678-9012."
# Each occurs in SECRET only inside masked personal data: whole values and pieces of them.
HIDDEN_QUERIES = [
    "zoe.keller@example.co.uk",
    "keller",
    "example.co.uk",
    "zoe keller",
    "+44 20 7946 0958",
    "7946 0958",
    "0958",
    "4111 1111 1111 1111",
    "1111",
    "192.168.10.24",
    "192",
    "PT50",
    "9015",
]
# Those the stored text matches on both engines (PostgreSQL reads an email or an IP address as one word, which a
# query matches only by its beginning), i.e. what a role that reads personal data finds.
ADMIN_FINDS = ["0958", "7946 0958", "4111 1111", "1111", "192", "PT50", "9015"]


def _ingest(workspace: Workspace, api: Callable[[str], TestClient]) -> dict[str, int]:
    ingest(api("agent"), [text_record("secret", SECRET), text_record("plain", PLAIN)])
    return {key: record.id for key, record in records_by_submission(workspace.db).items()}


def _found(client: TestClient, q: str) -> set[str]:
    r = client.get("/api/v1/feedback", params={"q": q})
    assert r.status_code == 200, r.text
    return {item["submission_id"] for item in r.json()["items"]}


def test_api_search_matches_only_visible_text(workspace: Workspace, api: Callable[[str], TestClient]) -> None:
    _ingest(workspace, api)
    admin = api("admin")
    for role in ("viewer", "agent", "analyst"):
        client = api(role)
        for q in HIDDEN_QUERIES:
            assert _found(client, q) == set(), (role, q)
        assert _found(client, "zoe") == {"plain"}, role  # "Zoe" is visible in one record, masked in the other
        assert _found(client, "refund") == {"secret", "plain"}, role
        assert _found(client, "12345") == {"plain"}, role  # an order number is not personal data
        assert _found(client, "refund 0958") == set(), role  # every word must match visible text
    for q in ADMIN_FINDS:
        assert _found(admin, q) == {"secret"}, q
    assert _found(admin, "zoe") == {"secret", "plain"}


def test_workspace_redaction_settings_decide_what_is_hidden(
    workspace: Workspace, api: Callable[[str], TestClient]
) -> None:
    _ingest(workspace, api)
    admin, viewer = api("admin"), api("viewer")
    assert admin.put("/api/v1/text/settings/pii", json={"enabled": True, "kinds": ["email"]}).status_code == 200
    assert _found(viewer, "0958") == {"secret"}  # phones are shown, so they are searchable
    assert _found(viewer, "zoe") == {"plain"}
    assert admin.put("/api/v1/text/settings/pii", json={"enabled": False, "kinds": ["email"]}).status_code == 200
    for q in ADMIN_FINDS:  # redaction off: nothing changes
        assert _found(viewer, q) == {"secret"}, q
    assert _found(viewer, "zoe") == {"secret", "plain"}


def test_restricted_search_pages_through_dropped_candidates(
    api: Callable[[str], TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Candidates matching only inside masked text are skipped while a page fills, across reading batches."""
    monkeypatch.setattr(feedback_service, "VISIBLE_BATCH", 3)
    records = []
    for i in range(14):
        value = f"Refund {i} to maria{i}@example.com" if i % 3 else f"Maria {i} asked for a refund"
        records.append(text_record(f"s{i:02}", value, collected_at=f"2024-05-{i + 1:02}T10:00:00Z"))
    ingest(api("agent"), records)
    expected = {f"s{i:02}" for i in range(14) if i % 3 == 0}
    viewer = api("viewer")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"q": "maria", "limit": 2, **({"cursor": cursor} if cursor else {})}
        body = viewer.get("/api/v1/feedback", params=params).json()
        seen.extend(item["submission_id"] for item in body["items"])
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(expected, reverse=True)  # newest first, each once
    assert len(_found(api("admin"), "maria")) == 14


def _explorer(workspace: Workspace, role: str, q: str) -> tuple[int, set[int], str]:
    client = TestClient(workspace.client.app)
    login(client, workspace.user_email(role))
    r = client.get("/feedback", params={"q": q})
    assert r.status_code == 200, r.text
    total = re.search(r'data-testid="feedback-total">(\d+)<', r.text)
    ids = {int(i) for i in re.findall(r'data-testid="feedback-row" data-id="(\d+)"', r.text)}
    return int(total.group(1)) if total else 0, ids, r.text


def test_explorer_page_matches_only_visible_text(workspace: Workspace, api: Callable[[str], TestClient]) -> None:
    ids = _ingest(workspace, api)
    for q in ("0958", "1111", "PT50"):
        total, shown, page = _explorer(workspace, "viewer", q)
        assert (total, shown) == (0, set()), q
        assert 'data-testid="empty"' in page
        assert _explorer(workspace, "admin", q)[:2] == (1, {ids["secret"]}), q
    assert _explorer(workspace, "viewer", "keller")[:2] == (0, set())
    assert _explorer(workspace, "analyst", "zoe")[:2] == (1, {ids["plain"]})
    assert _explorer(workspace, "analyst", "refund")[:2] == (2, {ids["plain"], ids["secret"]})


def _export(client: TestClient, q: str) -> list[str]:
    r = client.get("/api/v1/feedback/export.csv", params={"q": q})
    assert r.status_code == 200, r.text
    return [row["submission_id"] for row in csv.DictReader(io.StringIO(r.text))]


def test_csv_export_matches_only_visible_text(workspace: Workspace, api: Callable[[str], TestClient]) -> None:
    _ingest(workspace, api)
    analyst, admin = api("analyst"), api("admin")  # both may export; only admin reads personal data
    for q in ("7946 0958", "0958", "PT50"):
        assert _export(analyst, q) == [], q
        assert _export(admin, q) == ["secret"], q
    assert _export(analyst, "zoe keller") == []
    assert _export(analyst, "zoe") == ["plain"]


def test_similar_feedback_filter_matches_only_visible_text(
    workspace: Workspace, api: Callable[[str], TestClient]
) -> None:
    ids = _ingest(workspace, api)
    ingest(api("agent"), [text_record("other", "Where is my refund?")])
    other = records_by_submission(workspace.db)["other"].id
    rng = np.random.default_rng(0)
    store_vectors(workspace.db, workspace.id, {i: rng.standard_normal(384) for i in (*ids.values(), other)})
    path = f"/api/v1/feedback/{other}/similar"
    found = api("viewer").get(path, params={"q": "0958"}).json()["items"]
    assert found == []
    found = api("admin").get(path, params={"q": "0958"}).json()["items"]
    assert [hit["record"]["id"] for hit in found] == [ids["secret"]]


def test_embeddings_are_computed_from_masked_text(workspace: Workspace, api: Callable[[str], TestClient]) -> None:
    """Two texts that differ only in personal data get the same embedding: semantic search cannot rank by it."""
    assert text_hash("Mail me at ana@example.com") == text_hash("Mail me at bob@example.org")
    assert text_hash("Mail me at ana@example.com") != text_hash("Mail me, Ana")
    ingest(
        api("agent"),
        [
            text_record("ana", "Refund please, mail me at ana.souza@example.com or +55 11 98765-4321"),
            text_record("bob", "Refund please, mail me at bob@example.org or +1 (555) 123-4567"),
        ],
    )
    assert run_jobs(workspace.db) == 1
    records = records_by_submission(workspace.db)
    with workspace.db.unit_of_work(readonly=True) as session:
        stored = {e.record_id: e for e in session.scalars(select(FeedbackEmbedding))}
    ana, bob = stored[records["ana"].id], stored[records["bob"].id]
    assert ana.text_hash == bob.text_hash == text_hash(records["ana"].value_text or "")
    assert np.allclose(decode_vector(ana.vector), decode_vector(bob.vector), atol=1e-6)
    r = api("viewer").get("/api/v1/text/search", params={"q": "ana.souza@example.com"})
    assert r.status_code == 200
    scores = {hit["record"]["submission_id"]: hit["score"] for hit in r.json()["items"]}
    assert scores["ana"] == pytest.approx(scores["bob"], abs=1e-4)


# -- the engine-side pieces ------------------------------------------------------------------------------------------


def test_hidden_chunks_never_become_new_tokens_or_bridge_a_phrase(workspace: Workspace) -> None:
    with workspace.db.unit_of_work(readonly=True) as session:
        value = "foo jane@x.com bar +44 20 7946 0958abc end"
        found = find_pii(value)
        assert [m.kind for m in found] == ["email", "phone"]
        hidden = fulltext.hide_spans(session, value, [(m.start, m.end) for m in found])
        assert "jane" not in hidden and "0958" not in hidden and "abc" not in hidden and hidden.endswith(" end")
        texts = {1: hidden, 2: "foo bar"}
        assert fulltext.matching_ids(session, "foo_bar", texts) == {2}  # no phrase across a hidden chunk
        assert fulltext.matching_ids(session, "abc", texts) == set()  # glued to a phone: hidden with it
        assert fulltext.matching_ids(session, "foo end", texts) == {1}
        for q in ("0", "44", "+0", "ue000"):  # the stand-in itself matches nothing
            assert fulltext.matching_ids(session, q, texts) == set(), q
        assert fulltext.matching_ids(session, "   ", texts) == {1, 2}


def test_checker_uses_the_index_tokenizer(workspace: Workspace) -> None:
    """The visible-text checker tokenizes like the store's full-text index, on either database."""
    with workspace.db.unit_of_work(readonly=True) as session:
        if session.get_bind().dialect.name == "sqlite":
            sql = session.scalar(text("SELECT sql FROM sqlite_master WHERE name = 'feedback_fts'"))
            assert f"tokenize='{fulltext.SQLITE_TOKENIZE}'" in str(sql)
        else:
            index = str(
                session.scalar(
                    text(
                        "SELECT string_agg(indexdef, ' ') FROM pg_indexes WHERE tablename = 'feedback_record' AND indexdef LIKE '%to_tsvector%'"
                    )
                )
            )
            assert "to_tsvector('simple'::regconfig, cem_fts_text(value_text))" in index
