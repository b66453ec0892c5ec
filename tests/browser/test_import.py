from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from cem.feedback import service as feedback_service
from cem.feedback.schemas import FeedbackFilter
from cem.jobs.worker import Worker
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, Workspace

pytestmark = pytest.mark.browser

CSV = (
    "submission_id,email,nps,comment\n"
    "r1,ann@example.com,9,Great service\n"
    "r2,bob@example.com,eleven,Typo in the score\n"
    "r3,cy@example.com,3,Slow delivery\n"
)


def test_csv_import_with_a_bad_row(
    page: Page, workspace: Workspace, worker: Worker, tmp_path: Path, shot: Callable[[str], Path]
) -> None:
    upload = tmp_path / "survey.csv"
    upload.write_text(CSV, encoding="utf-8")
    log_in(page, "analyst@acme.example", PASSWORD)
    page.goto("/imports")
    form = page.locator("#import-form")
    form.locator("input[name=file]").set_input_files(str(upload))
    form.locator("select[name=target]").select_option("feedback")
    shot("form")
    page.locator("#import-submit").click()
    expect(page.locator("#import-status")).to_contain_text("done", timeout=60_000)
    expect(page.locator("#import-progress")).to_be_attached()
    expect(page.locator("#import-ok-rows")).to_have_text("2")
    expect(page.locator("#import-error-rows")).to_have_text("1")
    bad = page.locator("#import-errors tr[data-line]")
    expect(bad).to_have_count(1)
    assert bad.get_attribute("data-line") == "3"  # the header is line 1
    expect(bad).to_contain_text("eleven")
    shot("")
    page.goto("/feedback?q=delivery")  # the imported text is searchable in the explorer at once
    # The text, with its sentiment label beside it once enrichment has run (it may or may not have by now).
    expect(page.get_by_test_id("feedback-text")).to_have_text([re.compile(r"^\s*Slow delivery(\s+negative)?\s*$")])
    expect(page.get_by_test_id("feedback-row").get_by_role("link")).to_have_text("cy@example.com")
    shot("explorer")
    with workspace.db.unit_of_work(readonly=True) as session:
        stored, _ = feedback_service.search(
            session, workspace_id=workspace.id, flt=FeedbackFilter(), cursor=None, limit=50
        )
    assert {r.submission_id for r in stored} == {"r1", "r3"}
    assert {r.value_text for r in stored if r.value_text} == {"Great service", "Slow delivery"}
