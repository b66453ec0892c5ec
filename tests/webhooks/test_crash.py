"""A worker SIGKILLed in the middle of a delivery: after its lease expires another worker makes the same attempt,
with the same webhook-id (receivers dedupe by it), and the log holds one attempt."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cem.config import Settings
from cem.db.session import Database
from cem.jobs.worker import Worker
from cem.webhooks.tasks import LEASE_SECONDS
from tests.jobs.conftest import REPO, worker_env
from tests.webhooks.conftest import Answer, Clock, Receiver


@pytest.mark.slow
def test_a_worker_killed_mid_delivery_is_retried_with_the_same_webhook_id(
    admin_api: TestClient,
    receiver: Receiver,
    subscribe: Callable[..., dict[str, Any]],
    settings: Settings,
    db: Database,
    clock: Clock,
) -> None:
    sub = subscribe(receiver.url)
    held = threading.Event()
    receiver.plan = [Answer(hold=held)]  # the first request is received, then the worker dies before the answer
    admin_api.post(
        "/api/v1/feedback",
        json={
            "source_type": "api",
            "source_name": "x",
            "submission_id": "1",
            "field_id": "n",
            "field_type": "nps",
            "value": 2,
        },
    )
    env = {
        **worker_env(settings),
        "PYTHONPATH": f"{REPO / 'src'}:{REPO}",  # this checkout's cem, whatever the environment installed
        "CEM_WEBHOOKS_ALLOW_PRIVATE": "true",
        "CEM_SECRET_KEY": settings.secret_key,
    }
    cmd = [sys.executable, "-c", "from cem.cli import main; main()", "worker", "--interactive", "0"]
    worker = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert receiver.arrived.wait(30), "the worker never sent the delivery"
        worker.kill()
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
        held.set()
    time.sleep(0.1)
    assert len(receiver.requests) == 1
    assert Worker(db, clock=clock).run_until_idle() == 0  # the dead worker's lease still holds
    clock.advance(seconds=LEASE_SECONDS + 5)
    assert Worker(db, clock=clock).run_until_idle() == 1
    assert len(receiver.requests) == 2
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    second.verified(sub["secret"])
    log = admin_api.get("/api/v1/webhooks/deliveries").json()["items"]
    detail = admin_api.get(f"/api/v1/webhooks/deliveries/{log[0]['id']}").json()
    assert detail["status"] == "succeeded" and [a["number"] for a in detail["attempt_log"]] == [1]
