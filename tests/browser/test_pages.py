from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, Workspace
from tests.web.helpers import T0, seed_customer, seed_feedback, seed_journey

pytestmark = pytest.mark.browser

Shot = Callable[[str], Path]


def test_login_wrong_then_right_password(page: Page, workspace: Workspace, shot: Shot, live_server: str) -> None:
    log_in(page, "analyst@acme.example", "not-the-password")
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")
    expect(page.locator("input[name=email]")).to_have_value("analyst@acme.example")
    shot("wrong-password")
    log_in(page, "analyst@acme.example", PASSWORD)
    expect(page).to_have_url(live_server + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme")
    expect(page.get_by_test_id("home-start")).to_contain_text("Import feedback")  # an empty store: how to start
    expect(page.locator("header.top")).to_contain_text("analyst@acme.example · analyst")
    shot("")


def test_customer_360_timeline(page: Page, workspace: Workspace, shot: Shot, live_server: str) -> None:
    seed_journey(workspace.db, workspace.principal())
    cid = seed_customer(workspace.db, workspace.principal())
    log_in(page, "viewer@acme.example", PASSWORD)
    page.goto("/customers?q=ada")
    expect(page.get_by_test_id("customer-row")).to_have_count(1)
    shot("search")
    page.get_by_role("link", name="Ada Lovelace").click()
    expect(page).to_have_url(f"{live_server}/customers/{cid}")
    expect(page.get_by_test_id("customer-name")).to_have_text("Ada Lovelace")
    items = page.get_by_test_id("timeline-item")
    expect(items).to_have_count(4)
    assert [items.nth(i).get_attribute("data-kind") for i in range(4)] == ["feedback", "event", "feedback", "event"]
    stamps = [items.nth(i).get_attribute("data-at") or "" for i in range(4)]
    assert stamps == sorted(stamps, reverse=True)
    expect(items.nth(0).get_by_test_id("timeline-title")).to_have_text("review · appstore")
    expect(items.nth(0).get_by_test_id("timeline-touchpoint")).to_have_text("Purchase / Support / Chat bot")
    expect(items.nth(0)).to_contain_text("Bot was useless")
    expect(items.nth(1).get_by_test_id("timeline-title")).to_have_text("call")
    expect(items.nth(2).get_by_test_id("timeline-value").first).to_have_text("9")
    expect(items.nth(2)).to_contain_text("Fast delivery")
    expect(items.nth(3).get_by_test_id("timeline-touchpoint")).to_have_text("Purchase / Browse / Website")
    expect(page.get_by_test_id("attribute")).to_contain_text("pro")
    shot("")


def test_journey_create_add_stages_and_reorder(page: Page, workspace: Workspace, shot: Shot) -> None:
    log_in(page, "analyst@acme.example", PASSWORD)
    page.goto("/journeys")
    shot("list")
    form = page.get_by_test_id("journey-create")
    form.locator("input[name=key]").fill("onboard")
    form.locator("input[name=name]").fill("Onboarding")
    form.locator("input[name=description]").fill("From sign-up to first value")
    form.get_by_role("button", name="Create journey").click()
    expect(page.get_by_test_id("journey-name")).to_contain_text("Onboarding")
    for key, name in (("signup", "Sign up"), ("setup", "Set up"), ("value", "First value")):
        stage_form = page.get_by_test_id("stage-create")
        stage_form.locator("input[name=key]").fill(key)
        stage_form.locator("input[name=name]").fill(name)
        stage_form.get_by_role("button", name="Add stage").click()
        expect(page.get_by_test_id("stage-name").last).to_have_text(name)
    names = page.get_by_test_id("stage-name")
    expect(names).to_have_text(["Sign up", "Set up", "First value"])
    first_stage = page.get_by_test_id("stage").first
    first_stage.locator("summary", has_text="Add touchpoint").click()
    tp_form = first_stage.get_by_test_id("touchpoint-create")
    tp_form.locator("input[name=key]").fill("signup_form")
    tp_form.locator("input[name=name]").fill("Sign-up form")
    tp_form.locator("select[name=channel]").select_option("web")
    tp_form.get_by_role("button", name="Add touchpoint").click()
    expect(page.get_by_test_id("touchpoint-name")).to_have_text(["Sign-up form"])
    shot("before-reorder")
    page.get_by_test_id("stage").nth(2).get_by_test_id("stage-move-left").click()
    expect(names).to_have_text(["Sign up", "First value", "Set up"])
    page.get_by_test_id("stage").nth(0).get_by_test_id("stage-move-right").click()
    expect(names).to_have_text(["First value", "Sign up", "Set up"])
    # Stages sit left to right: each next stage starts further right on the same row.
    boxes = [page.get_by_test_id("stage").nth(i).bounding_box() for i in range(3)]
    assert all(b is not None for b in boxes)
    assert boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"]  # type: ignore[index]
    assert abs(boxes[0]["y"] - boxes[2]["y"]) < 2  # type: ignore[index]
    page.reload()
    expect(names).to_have_text(["First value", "Sign up", "Set up"])
    shot("")


def test_explorer_filter_and_text_search(page: Page, workspace: Workspace, shot: Shot) -> None:
    actor = workspace.principal()
    seed_journey(workspace.db, actor)
    seed_customer(workspace.db, actor)
    rows: list[tuple[str, str, str, str, str, Any, datetime]] = [
        ("ticket", "zendesk", f"t{i}", "score", "csat", 1 + i % 5, T0 + timedelta(days=10, hours=i)) for i in range(20)
    ]
    rows.append(("ticket", "zendesk", "t-text", "body", "text", "Refund took forever", T0 + timedelta(days=20)))
    seed_feedback(workspace.db, actor, rows)
    log_in(page, "analyst@acme.example", PASSWORD)
    page.goto("/feedback")
    total = page.get_by_test_id("feedback-total")
    expect(total).to_have_text("25")
    page.get_by_test_id("filter-source-type").select_option("review")
    page.get_by_test_id("filter-submit").click()
    expect(total).to_have_text("2")
    expect(page.get_by_test_id("feedback-row")).to_have_count(2)
    expect(page.get_by_test_id("export-csv")).to_have_attribute(
        "href", "/api/v1/feedback/export.csv?source_type=review"
    )
    page.get_by_test_id("filter-source-type").select_option("")
    page.get_by_test_id("filter-q").fill("refund")
    page.get_by_test_id("filter-submit").click()
    expect(total).to_have_text("1")
    expect(page.get_by_test_id("feedback-text")).to_have_text(["Refund took forever"])
    page.get_by_test_id("filter-q").fill("")
    page.get_by_test_id("filter-score-min").fill("4")
    page.get_by_test_id("filter-source-name").select_option("zendesk")
    page.get_by_test_id("filter-submit").click()
    expect(total).to_have_text("8")  # csat 4 and 5, four of each
    values = page.get_by_test_id("feedback-value").all_inner_texts()
    assert values and all(float(v) >= 4 for v in values)
    shot("results")
    page.get_by_test_id("filter-score-min").fill("lots")
    page.get_by_test_id("filter-submit").click()
    expect(page.get_by_test_id("filter-error")).to_have_text("score_min: 'lots' is not a number")
    shot("")
