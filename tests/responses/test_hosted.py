"""The hosted page as a browser without JavaScript sees it: plain form posts and redirects."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cem.customers.models import Customer
from cem.db.session import Database
from cem.feedback.models import FeedbackRecord
from cem.responses import service as response_service
from cem.surveys import service
from cem.surveys.models import Survey, SurveyResponse
from tests.conftest import Workspace
from tests.responses.hosted_helpers import hidden_inputs, post_page, publish
from tests.surveys.samples import sample_definition


def _count(db: Database, model: type) -> int:
    with db.unit_of_work(readonly=True) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_multi_page_detractor_path_with_piping(client: TestClient, db: Database, workspace: Workspace) -> None:
    publish(db, workspace, sample_definition())
    first = client.get("/s/cx?plan=basic")
    assert first.status_code == 200
    assert '<html lang="en" dir="ltr">' in first.text
    assert 'name="h_plan" value="basic"' in first.text
    assert "Page 1 of 3" in first.text
    assert _count(db, SurveyResponse) == 0  # nothing stored for a mere visit
    r = post_page(client, "/s/cx", first.text, {"q_nps": "3", "q_name": "Ana <b>"})
    assert r.status_code == 303 and r.headers["location"].startswith("/s/cx?r=")
    second = client.get(r.headers["location"])
    assert "What went wrong, Ana &lt;b&gt;?" in second.text  # piped and escaped
    assert 'id="q-email"' in second.text  # display logic: nps < 5 shows the email question
    r = post_page(client, "/s/cx", second.text, {"q_issues": ["price", "other"], "q_issues__other": "rude staff"})
    third = client.get(r.headers["location"])
    assert "You gave 3 - why?" in third.text
    r = post_page(client, "/s/cx", third.text, {"q_reason": "slow", "q_csat": "2"})
    done = client.get(r.headers["location"])
    assert "Thank you, Ana &lt;b&gt;!" in done.text
    with db.unit_of_work(readonly=True) as session:
        response = session.scalars(select(SurveyResponse)).one()
        assert response.status == "completed" and response.ending_id == "thanks"
        assert response.hidden == {"plan": "basic"} and response.channel == "link"
        assert set(response.meta["seconds_per_question"]) == {"nps", "name", "issues", "email", "reason", "csat"}
        fields = set(session.scalars(select(FeedbackRecord.field_id)))
        assert session.get(Survey, response.survey_id).completed_count == 1  # type: ignore[union-attr]
    assert fields == {"nps", "name", "issues", "issues.other", "reason", "csat"}


def test_promoter_skips_page_two_and_is_redirected(client: TestClient, db: Database, workspace: Workspace) -> None:
    publish(db, workspace, sample_definition())
    first = client.get("/s/cx?plan=pro")
    r = post_page(client, "/s/cx", first.text, {"q_nps": "10"})
    page = client.get(r.headers["location"])
    assert 'data-page="p3"' in page.text and "Page 3 of 3" in page.text
    r = post_page(client, "/s/cx", page.text, {})
    end = client.get(r.headers["location"], follow_redirects=False)
    assert end.status_code == 303
    assert end.headers["location"] == "https://example.com/review?plan=pro"
    with db.unit_of_work(readonly=True) as session:
        response = session.scalars(select(SurveyResponse)).one()
    assert response.ending_id == "promoter_end" and response.variables == {"score": 110}


def test_invalid_answers_come_back_with_errors_and_typed_values(
    client: TestClient, db: Database, workspace: Workspace
) -> None:
    publish(db, workspace, sample_definition())
    first = client.get("/s/cx")
    r = post_page(client, "/s/cx", first.text, {"q_name": "Bea"})  # nps is required
    assert r.status_code == 422
    assert 'id="err-nps" role="alert">This question needs an answer.' in r.text
    assert 'aria-describedby="err-nps" aria-invalid="true"' in r.text
    assert 'value="Bea"' in r.text
    assert _count(db, SurveyResponse) == 0 and _count(db, FeedbackRecord) == 0
    r = post_page(client, "/s/cx", r.text, {"q_nps": "4", "q_name": "Bea"})
    second = client.get(r.headers["location"])
    r = post_page(client, "/s/cx", second.text, {"q_issues": "speed", "q_email": "not-an-email"})
    assert r.status_code == 422
    assert "Enter an email address like name@example.com." in r.text
    assert 'value="not-an-email"' in r.text and 'value="speed" checked' in r.text
    assert _count(db, FeedbackRecord) == 2  # only the valid first page


def test_double_submit_stores_once(client: TestClient, db: Database, workspace: Workspace) -> None:
    publish(db, workspace, sample_definition())
    first = client.get("/s/cx")
    a = post_page(client, "/s/cx", first.text, {"q_nps": "2"})
    client.cookies.clear()  # the second click raced the first answer's cookie
    b = post_page(client, "/s/cx", first.text, {"q_nps": "2"})
    assert a.headers["location"] == b.headers["location"]
    second = client.get(a.headers["location"])
    c = post_page(client, "/s/cx", second.text, {"q_issues": "price"})
    d = post_page(client, "/s/cx", second.text, {"q_issues": "price"})
    assert c.status_code == d.status_code == 303
    assert _count(db, SurveyResponse) == 1
    with db.unit_of_work(readonly=True) as session:
        response = session.scalars(select(SurveyResponse)).one()
    assert response.page_history == ["p1", "p2"] and response.current_page_id == "p3"


def test_resume_from_the_same_link_and_go_back(client: TestClient, db: Database, workspace: Workspace) -> None:
    publish(db, workspace, sample_definition())
    first = client.get("/s/cx")
    r = post_page(client, "/s/cx", first.text, {"q_nps": "6", "q_name": "Cy"})
    again = client.get("/s/cx")  # plain link again: the cookie resumes page 2
    assert 'data-page="p2"' in again.text
    other_device = TestClient(client.app)
    resumed = other_device.get(r.headers["location"])  # the ?r= link works without the cookie
    assert 'data-page="p2"' in resumed.text
    back = client.post("/s/cx", data={**hidden_inputs(again.text), "action": "back"}, follow_redirects=False)
    page1 = client.get(back.headers["location"])
    assert 'data-page="p1"' in page1.text and 'value="6" checked' in page1.text and 'value="Cy"' in page1.text


def test_language_from_query_customer_browser_with_rtl(client: TestClient, db: Database, workspace: Workspace) -> None:
    publish(db, workspace, sample_definition())
    assert "Wie wahrscheinlich?" in client.get("/s/cx?lang=de").text
    arabic = client.get("/s/cx", headers={"accept-language": "fr;q=0.9, ar;q=0.8"})
    assert '<html lang="ar" dir="rtl">' in arabic.text and "ما مدى احتمال" in arabic.text
    fallback = client.get("/s/cx?lang=ja")
    assert '<html lang="en" dir="ltr">' in fallback.text
    with db.unit_of_work() as session:
        customer = Customer(workspace_id=workspace.id, email="x@example.com", attributes={"language": "de"})
        session.add(customer)
        session.flush()
        survey = service.get_survey_by_slug(session, "cx")
        assert survey is not None
        response = response_service.start_response(session, survey, channel="email", customer_id=customer.id)
        key = response.resume_key
    page = client.get(f"/s/cx?r={key}")
    assert '<html lang="de" dir="ltr">' in page.text


def test_prefill_from_email_link_is_selected_not_stored(client: TestClient, db: Database, workspace: Workspace) -> None:
    publish(db, workspace, sample_definition())
    page = client.get("/s/cx?q_nps=9")
    assert 'value="9" checked' in page.text
    assert client.get("/s/cx?q_nps=99").text.count("checked") == 0  # out of range: ignored
    assert _count(db, FeedbackRecord) == 0


def test_lifecycle_is_enforced_on_the_page(client: TestClient, db: Database, workspace: Workspace) -> None:
    defn = sample_definition()
    defn["settings"]["close_after_responses"] = 1
    publish(db, workspace, defn)
    first = client.get("/s/cx?plan=pro")
    r = post_page(client, "/s/cx", first.text, {"q_nps": "10"})
    last = client.get(r.headers["location"])
    post_page(client, "/s/cx", last.text, {})
    with db.unit_of_work(readonly=True) as session:
        assert session.scalars(select(Survey.status)).one() == "closed"  # auto-closed after 1 response
    stranger = TestClient(client.app)
    assert "This survey is closed" in stranger.get("/s/cx").text
    r = post_page(stranger, "/s/cx", first.text.replace(hidden_inputs(first.text)["nonce"], "x" * 20), {"q_nps": "1"})
    assert r.status_code == 409
    assert stranger.get("/s/nope").status_code == 404


def test_garbage_posts_get_a_readable_page_not_an_error(client: TestClient, db: Database, workspace: Workspace) -> None:
    publish(db, workspace, sample_definition())
    headers = {"content-type": "application/x-www-form-urlencoded"}
    r = client.post("/s/cx", content=b"\xff\xfe", headers=headers)
    assert r.status_code == 400 and "reload the page" in r.text
    r = client.post("/s/cx", content="&".join(f"f{i}=1" for i in range(3000)).encode(), headers=headers)
    assert r.status_code == 400
    r = client.post("/s/cx", data={"page": "p1", "nonce": "short"})
    assert r.status_code == 400
    assert _count(db, SurveyResponse) == 0


def test_opened_at_is_noted_once(client: TestClient, db: Database, workspace: Workspace) -> None:
    publish(db, workspace, sample_definition())
    with db.unit_of_work() as session:
        survey = service.get_survey_by_slug(session, "cx")
        assert survey is not None
        key = response_service.start_response(session, survey, channel="email").resume_key
    client.get(f"/s/cx?r={key}")
    with db.unit_of_work(readonly=True) as session:
        first = session.scalars(select(SurveyResponse)).one().meta["opened_at"]
    client.get(f"/s/cx?r={key}")
    with db.unit_of_work(readonly=True) as session:
        assert session.scalars(select(SurveyResponse)).one().meta["opened_at"] == first
    fresh = TestClient(client.app)
    r = post_page(fresh, "/s/cx", fresh.get("/s/cx").text, {"q_nps": "5"})
    assert r.status_code == 303
    with db.unit_of_work(readonly=True) as session:
        metas = list(session.scalars(select(SurveyResponse.meta)))
    assert all("opened_at" in m for m in metas) and len(metas) == 2
