from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Dialog, Page, expect

from cem.jobs.queue import enqueue
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, Workspace

pytestmark = pytest.mark.browser


def test_admin_token_once_revoke_and_retry_dead_job(
    page: Page, workspace: Workspace, shot: Callable[[str], Path]
) -> None:
    with workspace.db.unit_of_work() as session:
        job = enqueue(session, "jobs.purge_finished", workspace_id=workspace.id)
        job.status, job.attempts, job.last_error = "dead", 5, "RuntimeError: disk full"
    log_in(page, "admin@acme.example", PASSWORD)
    page.goto("/admin")
    expect(page.get_by_test_id("member-row")).to_have_count(4)
    form = page.get_by_test_id("token-create")
    form.locator("input[name=name]").fill("Nightly ETL")
    form.locator("select[name=role]").select_option("viewer")
    form.get_by_role("button", name="Create token").click()
    secret = page.get_by_test_id("token-secret").inner_text().strip()
    assert secret.startswith("cem")
    shot("token-issued")
    page.goto("/admin")
    expect(page.get_by_test_id("token-secret")).to_have_count(0)
    assert secret not in page.content()
    prompts: list[str] = []

    def accept(dialog: Dialog) -> None:
        prompts.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.get_by_test_id("token-row").get_by_role("button", name="Revoke").click()
    expect(page.get_by_test_id("notice")).to_have_text("Token revoked.")
    assert prompts == ["Revoke the token Nightly ETL? Programs using it will stop working."]
    expect(page.get_by_test_id("token-row")).to_contain_text("revoked")
    page.get_by_test_id("jobs-filter-dead").click()
    expect(page.get_by_test_id("job-row")).to_have_count(1)
    expect(page.get_by_test_id("job-row")).to_contain_text("disk full")
    shot("dead-letters")
    page.get_by_test_id("job-retry").click()
    expect(page.get_by_test_id("notice")).to_have_text("Job queued again.")
    expect(page.get_by_test_id("jobs-empty")).to_be_visible()
    expect(page.locator("#audit")).to_contain_text("job.retry")
    shot("")
