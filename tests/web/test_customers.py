from __future__ import annotations

import html
import re
from collections.abc import Callable

from cem.customers import service as customer_service
from cem.customers.schemas import CustomerIn, CustomerRef
from cem.feedback import service as feedback_service
from tests.conftest import Workspace
from tests.web.helpers import HTML, INJECTIONS, T0, WebUser, feedback_in, seed_customer, seed_journey


def _items(page: str) -> list[str]:
    return re.findall(r'<li class="(?:event|feedback)" data-testid="timeline-item".*?</li>', page, re.S)


def test_customer_360_timeline_is_newest_first_and_grouped(web: Callable[[str], WebUser], workspace: Workspace) -> None:
    seed_journey(workspace.db, workspace.principal())
    cid = seed_customer(workspace.db, workspace.principal())
    r = web("viewer").get(f"/customers/{cid}")
    assert r.status_code == 200
    assert '<h1 data-testid="customer-name">Ada Lovelace</h1>' in r.text
    assert "plan" in r.text and "pro" in r.text  # attributes table
    items = _items(r.text)
    # 2 events + 2 submissions (each submission's answers grouped into one item)
    kinds = [re.search(r'data-kind="(\w+)"', i).group(1) for i in items]  # type: ignore[union-attr]
    assert kinds == ["feedback", "event", "feedback", "event"]
    newest, call, survey, signup = items
    assert "review · appstore" in newest and "Purchase / Support / Chat bot" in newest
    assert "Bot was useless" in newest and '<td class="score" data-testid="timeline-value">2</td>' in newest
    assert "call" in call and ">12<" in call and "Purchase / Support / Call centre" in call
    assert "survey · nps-q1" in survey and ">9<" in survey and "Fast delivery" in survey
    assert "Purchase / Browse / Website" in signup and "plan=pro" in signup
    times = re.findall(r'data-at="([^"]+)"', r.text)
    assert times == sorted(times, reverse=True)


def test_unknown_customer_is_404_page(web: Callable[[str], WebUser]) -> None:
    r = web("viewer").get("/customers/999999")
    assert r.status_code == 404
    assert "Customer 999999 does not exist." in r.text


def test_stored_injection_is_escaped_on_360_and_explorer(web: Callable[[str], WebUser], workspace: Workspace) -> None:
    actor = workspace.principal()
    with workspace.db.unit_of_work() as session:
        customer, _ = customer_service.upsert_customer(
            session,
            actor=actor,
            customer_in=CustomerIn(external_id="x1", name=INJECTIONS[0], attributes={"note": INJECTIONS[1]}),
        )
        cid = customer.id
    ref = CustomerRef(external_id="x1")
    with workspace.db.unit_of_work() as session:
        records = [
            feedback_in(ref, "review", INJECTIONS[2], f"s{i}", "body", "text", t, T0) for i, t in enumerate(INJECTIONS)
        ]
        feedback_service.ingest_feedback(session, actor=actor, records=records)
    user = web("viewer")
    for page in (user.get(f"/customers/{cid}").text, user.get("/feedback").text, user.get("/customers").text):
        assert "<script>alert(1)</script>" not in page
        assert "<img src=x" not in page
    page = user.get(f"/customers/{cid}").text
    assert html.escape(INJECTIONS[0], quote=True) in page or "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&#39;; DROP TABLE customer; --" in page
    explorer = user.get("/feedback").text
    texts = re.findall(r'data-testid="feedback-text">(.*?)\s*</td>', explorer, re.S)
    assert sorted(texts) == sorted(
        html.escape(t).replace("&quot;", "&#34;").replace("&#x27;", "&#39;") for t in INJECTIONS
    )
    assert 'data-testid="feedback-total">3<' in explorer  # the DROP TABLE text was stored, not executed


def test_search_and_keyset_pages(web: Callable[[str], WebUser], workspace: Workspace) -> None:
    with workspace.db.unit_of_work() as session:
        for i in range(60):
            customer_service.upsert_customer(
                session,
                actor=workspace.principal(),
                customer_in=CustomerIn(external_id=f"c{i:02d}", email=f"user{i:02d}@example.com", name=f"User {i:02d}"),
            )
    user = web("viewer")
    first = user.get("/customers")
    names = re.findall(r">User (\d\d)</a>", first.text)
    assert len(names) == 50 and names[0] == "59"
    next_link = re.search(r'data-testid="next-page" href="([^"]+)"', first.text)
    assert next_link
    second = user.get(html.unescape(next_link.group(1)))
    rest = re.findall(r">User (\d\d)</a>", second.text)
    assert rest == [f"{i:02d}" for i in range(9, -1, -1)]
    assert 'data-testid="next-page"' not in second.text
    found = user.get("/customers", params={"q": "user07@"})
    assert re.findall(r">User (\d\d)</a>", found.text) == ["07"]
    none = user.get("/customers", params={"q": "nobody"})
    assert "No customers match" in none.text


def test_bad_cursor_is_a_readable_400(web: Callable[[str], WebUser]) -> None:
    r = web("viewer").get("/customers", params={"cursor": "%%%not-base64"})
    assert r.status_code == 400
    assert "The cursor is not valid" in r.text


def test_anonymous_visitor_is_sent_to_login(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/customers", headers=HTML, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login?next=/customers")
