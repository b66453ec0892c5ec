"""Surveys in a real browser: the hosted page with and without JavaScript, errors, and the builder."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from cem.db.session import Database
from cem.feedback.models import FeedbackRecord
from cem.surveys.models import Survey, SurveyResponse
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, Workspace
from tests.responses.hosted_helpers import publish
from tests.surveys.samples import sample_definition

pytestmark = pytest.mark.browser


@pytest.fixture
def no_js_page(browser: Browser, live_server: str) -> Iterator[Page]:
    context = browser.new_context(
        base_url=live_server, java_script_enabled=False, viewport={"width": 390, "height": 844}
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def _records(db: Database) -> dict[str, FeedbackRecord]:
    with db.unit_of_work(readonly=True) as session:
        return {r.field_id: r for r in session.scalars(select(FeedbackRecord))}


def test_multi_page_survey_with_skip_logic_and_piping(
    page: Page, db: Database, workspace: Workspace, shot: Callable[[str], Path]
) -> None:
    publish(db, workspace, sample_definition())
    page.goto("/s/cx?plan=basic")
    page.evaluate("window.__samePage = true")  # survives only if pages are swapped in place, not reloaded
    page.get_by_label("3", exact=True).check()
    page.get_by_label("Your first name").fill("Ana")
    shot("page1")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_text("What went wrong, Ana?").first).to_be_visible()
    expect(page.get_by_label("Email for a call back")).to_be_visible()  # display logic: nps < 5
    page.get_by_label("Price").check()
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_text("You gave 3 - why?")).to_be_visible()
    page.get_by_label("You gave 3 - why?").fill("Too slow")
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("heading", name="Thank you, Ana!")).to_be_visible()
    assert page.evaluate("window.__samePage") is True
    shot("ending")
    records = _records(db)
    assert records["nps"].value_number == 3 and records["issues"].value_text == "Price"
    assert records["reason"].value_text == "Too slow" and records["name"].value_text == "Ana"


def test_the_same_survey_without_javascript(
    no_js_page: Page, db: Database, workspace: Workspace, artifacts_dir: Path
) -> None:
    publish(db, workspace, sample_definition())
    page = no_js_page
    page.goto("/s/cx?plan=pro&lang=ar")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    page.get_by_label("10", exact=True).check()
    page.screenshot(path=str(artifacts_dir / "screenshots" / "survey-no-js-rtl-mobile.png"), full_page=True)
    page.get_by_role("button", name="Next").click()
    expect(page.locator("form.survey-form")).to_have_attribute("data-page", "p3")  # page 2 skipped
    page.get_by_label("لماذا 10").fill("ممتاز")
    # The promoter ending redirects to an external review page, answered here without the network.
    page.route(
        "https://example.com/**", lambda route: route.fulfill(body="<h1>Review us</h1>", content_type="text/html")
    )
    page.get_by_role("button", name="Submit").click()
    expect(page).to_have_url("https://example.com/review?plan=pro")
    with db.unit_of_work(readonly=True) as session:
        response = session.scalars(select(SurveyResponse)).one()
    assert response.status == "completed" and response.language == "ar" and response.ending_id == "promoter_end"
    assert _records(db)["reason"].value_text == "ممتاز"


def test_invalid_answers_show_errors_with_and_without_javascript(
    page: Page, no_js_page: Page, db: Database, workspace: Workspace, shot: Callable[[str], Path], artifacts_dir: Path
) -> None:
    publish(db, workspace, sample_definition())
    # With JavaScript: checked in the browser, nothing sent.
    page.goto("/s/cx")
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#err-nps")).to_have_text("This question needs an answer.")
    expect(page.get_by_role("radiogroup").first.or_(page.locator("fieldset[aria-invalid=true]")).first).to_be_visible()
    shot("client-side")
    # Without JavaScript: the server answers with the page, the errors and the typed values.
    nojs = no_js_page
    nojs.goto("/s/cx")
    nojs.get_by_label("2", exact=True).check()
    nojs.get_by_role("button", name="Next").click()
    nojs.get_by_label("Email for a call back").fill("not-an-email")
    nojs.get_by_role("button", name="Next").click()
    expect(nojs.locator(".error-summary")).to_contain_text("This question needs an answer.")
    expect(nojs.locator("#err-email")).to_have_text("Enter an email address like name@example.com.")
    expect(nojs.get_by_label("Email for a call back")).to_have_value("not-an-email")
    nojs.screenshot(path=str(artifacts_dir / "screenshots" / "survey-server-errors.png"), full_page=True)
    assert set(_records(db)) == {"nps"}  # only the valid first page was stored


def test_builder_with_live_preview(page: Page, db: Database, workspace: Workspace, shot: Callable[[str], Path]) -> None:
    survey_id = publish(db, workspace, sample_definition())
    log_in(page, workspace.user_email("analyst"), PASSWORD)
    page.goto(f"/surveys/{survey_id}")
    expect(page.get_by_test_id("survey-status")).to_have_text("live")
    preview = page.frame_locator("iframe[name=preview]")
    expect(preview.get_by_text("How likely are you to recommend us?")).to_be_visible()
    page.locator("#q-nps summary").click()
    page.locator("#q-nps input[name=headline_en]").fill("How likely are you to recommend Acme?")
    page.locator("#q-nps").get_by_role("button", name="Save question").click()
    expect(
        page.frame_locator("iframe[name=preview]").get_by_text("How likely are you to recommend Acme?")
    ).to_be_visible()
    expect(page.get_by_text("v2 ·")).to_be_visible()
    shot("builder")


def test_builder_any_condition_group_decides_on_the_hosted_page(
    page: Page, no_js_page: Page, db: Database, workspace: Workspace, shot: Callable[[str], Path]
) -> None:
    """The email question's single condition (nps < 5) becomes ANY of two rows via the spare row, without JSON."""
    survey_id = publish(db, workspace, sample_definition())
    log_in(page, workspace.user_email("analyst"), PASSWORD)
    page.goto(f"/surveys/{survey_id}")
    card = page.locator("#q-email")
    card.locator("summary").click()
    expect(card.locator("input[name=display_0_ref]")).to_have_value("nps")
    card.locator("select[name=display_match]").select_option("any")
    card.locator("select[name=display_1_source]").select_option("hidden")
    card.locator("input[name=display_1_ref]").fill("plan")
    card.locator("select[name=display_1_operator]").select_option("equals")
    card.locator("input[name=display_1_value]").fill("pro")
    shot("rows")
    card.get_by_role("button", name="Save question").click()
    expect(page.locator("#q-email input[name=display_2_ref]")).to_have_count(1)  # reloaded: a new spare row
    expect(page.locator("#q-email select[name=display_match]")).to_have_value("any")
    expect(page.locator("#q-email input[name=display_1_ref]")).to_have_value("plan")
    page.locator("#page-p1 details.qcard").first.locator("summary").click()
    expect(page.locator("#page-p1").get_by_test_id("calculation")).to_have_count(2)
    shot("page-logic")
    with db.unit_of_work(readonly=True) as session:
        survey = session.get(Survey, survey_id)
        assert survey is not None
        email = survey.definition["pages"][1]["questions"][1]
    assert email["display_logic"]["combinator"] == "or" and len(email["display_logic"]["conditions"]) == 2
    # A passive (7) on the pro plan sees the email question; on the basic plan (no JavaScript) not.
    page.goto("/s/cx?plan=pro")
    page.get_by_label("7", exact=True).check()
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_label("Email for a call back")).to_be_visible()
    nojs = no_js_page
    nojs.goto("/s/cx?plan=basic")
    nojs.get_by_label("7", exact=True).check()
    nojs.get_by_role("button", name="Next").click()
    expect(nojs.get_by_label("Price")).to_be_visible()
    expect(nojs.get_by_label("Email for a call back")).to_have_count(0)
