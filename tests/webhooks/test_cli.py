"""`cem webhooks list|deliveries`: what an operator reads, and readable refusals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cem.cli import app
from tests.webhooks.conftest import Answer, Receiver


def test_list_and_deliveries_show_state_codes_and_the_disabled_reason(
    cli: CliRunner,
    admin_api: TestClient,
    receiver: Receiver,
    subscribe: Callable[..., dict[str, Any]],
    run_jobs: Callable[[], int],
) -> None:
    assert "No webhook subscriptions." in cli.invoke(app, ["webhooks", "list", "--workspace", "acme"]).stdout
    sub = subscribe(receiver.url, ["case.closed"])
    receiver.plan = [Answer(status=410)]
    admin_api.post(f"/api/v1/webhooks/{sub['id']}/test")
    run_jobs()
    listed = cli.invoke(app, ["webhooks", "list", "--workspace", "acme"])
    assert listed.exit_code == 0 and f"{sub['id']}\tdisabled\tcase.closed\t{receiver.url}" in listed.stdout
    assert "410 Gone" in listed.stdout
    log = cli.invoke(app, ["webhooks", "deliveries", "--workspace", "acme", "--status", "failed"])
    assert log.exit_code == 0 and "\twebhook.test\tfailed\t410\t1\tmsg_" in log.stdout
    bad = cli.invoke(app, ["webhooks", "deliveries", "--workspace", "acme", "--status", "lost"])
    assert bad.exit_code == 2 and "--status must be one of" in bad.stderr
    missing = cli.invoke(app, ["webhooks", "list", "--workspace", "nope"])
    assert missing.exit_code != 0 and "acme" in missing.stderr
