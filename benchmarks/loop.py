"""Closed-loop benchmark, webhooks part: fan-out of signed deliveries to a loopback receiver, and what one
subscription costs ingest.

1. Fan-out: N events (default 10,000) to one subscription, enqueued in batches, then drained by the durable job
   queue's worker threads (one job per attempt, cem.webhooks.outbox): deliveries/s from the workers' start to the
   last 2xx recorded (target >= 200/s). The receiver is a threaded http.server on loopback, in its own process,
   answering 204; the check that every message arrived once, under its own webhook-id, is part of the run.
2. Ingest: single-record feedback writes (each its own transaction, as the API's single-record path), records/s
   with no subscription, with one subscription to other events (the cached "nobody listens" path) and with one
   subscription to feedback.created (each write also enqueues a delivery and its job); the ratios to the first.

Runs in process on the embedded SQLite default in a temporary directory.

Usage: .venv/bin/python benchmarks/loop.py [--events 10000] [--workers 2] [--records 3000]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "src") not in sys.path:  # runnable as a plain script from a checkout
    sys.path.insert(0, str(REPO / "src"))

import httpx  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from cem import hooks, plugins  # noqa: E402
from cem.admin import service as admin_service  # noqa: E402
from cem.auth.principal import system_principal  # noqa: E402
from cem.config import Settings  # noqa: E402
from cem.db import migrate  # noqa: E402
from cem.db.session import Database  # noqa: E402
from cem.feedback import service as feedback_service  # noqa: E402
from cem.feedback.schemas import FeedbackIn  # noqa: E402
from cem.jobs.worker import Worker  # noqa: E402
from cem.webhooks import service as webhook_service  # noqa: E402
from cem.webhooks.models import WebhookDelivery, WebhookSubscription  # noqa: E402
from cem.webhooks.schemas import SubscriptionCreate  # noqa: E402


def serve(port_out: Any) -> None:
    """The receiver process: answers 204 and keeps every webhook-id it saw; GET returns them as JSON."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: the sender's pooled connections are reused

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            seen.append(self.headers["webhook-id"])
            self._answer(204, b"")

        def do_GET(self) -> None:
            self._answer(200, json.dumps(seen).encode())

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_out.put(server.server_address[1])
    server.serve_forever()


class Receiver:
    """A loopback endpoint in its own process (as a real receiver is: it must not take the workers' GIL)."""

    def __init__(self) -> None:
        ports: Any = multiprocessing.Queue()
        self.process = multiprocessing.Process(target=serve, args=(ports,), daemon=True)
        self.process.start()
        self.url = f"http://127.0.0.1:{ports.get(timeout=30)}/hook"

    def ids(self) -> list[str]:
        return list(httpx.get(self.url, timeout=30).json())

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(10)


def setup(tmp: Path) -> tuple[Database, int]:
    settings = Settings(
        env="test",
        data_dir=tmp,
        in_process_worker=False,
        warm_text_search=False,
        webhooks_allow_private=True,
        password_hash_cost="minimal",
    )
    db = Database(settings)
    migrate.upgrade(db.engine)
    plugins.install()
    with db.unit_of_work() as session:
        workspace_id = admin_service.ensure_workspace(session, slug="bench", name="Bench").id
    return db, workspace_id


def subscribe(db: Database, workspace_id: int, url: str, event_types: list[str]) -> None:
    with db.unit_of_work() as session:
        for old in webhook_service.list_subscriptions(session, workspace_id=workspace_id):
            session.delete(old)
        session.flush()
        webhook_service.create_subscription(
            session,
            actor=system_principal(workspace_id),
            subscription_in=SubscriptionCreate(url=url, event_types=event_types),  # type: ignore[arg-type]
            settings=db.settings,
        )


def fan_out(db: Database, workspace_id: int, events: int, workers: int) -> None:
    receiver = Receiver()
    subscribe(db, workspace_id, receiver.url, ["case.created"])
    began = time.perf_counter()
    for start in range(0, events, 1000):
        with db.unit_of_work() as session:
            for n in range(start, min(events, start + 1000)):
                hooks.domain_event(session, workspace_id=workspace_id, event_type="case.created", data={"case_id": n})
    enqueued = time.perf_counter() - began
    pool = [Worker(db, poll_seconds=0.05, batch_size=50) for _ in range(workers)]
    began = time.perf_counter()
    for worker in pool:
        worker.start_thread()
    done = 0
    while done < events:
        time.sleep(0.2)
        with db.unit_of_work(readonly=True) as session:
            done = int(
                session.scalar(
                    select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.status == "succeeded")
                )
                or 0
            )
        if time.perf_counter() - began > 600:
            raise SystemExit(f"only {done} of {events} deliveries succeeded in 10 minutes")
    elapsed = time.perf_counter() - began
    for worker in pool:
        worker.stop()
    seen = receiver.ids()
    receiver.stop()
    assert len(seen) == events and len(set(seen)) == events, "a message was lost or sent twice"
    print(f"fan-out: {events} events enqueued in {enqueued:.2f} s ({events / enqueued:,.0f} events/s)")
    print(
        f"fan-out: {events} signed deliveries to a loopback receiver by {workers} worker thread(s) in "
        f"{elapsed:.2f} s: {events / elapsed:,.0f} deliveries/s (target >= 200/s)"
    )


def ingest_rate(db: Database, workspace_id: int, records: int, run: str) -> float:
    actor = system_principal(workspace_id)
    rows = [
        FeedbackIn(
            source_type="api",
            source_name=run,
            submission_id=f"{run}-{i}",
            field_id="nps",
            field_type="nps",
            value=i % 11,
        )
        for i in range(records)
    ]
    began = time.perf_counter()
    for row in rows:
        with db.unit_of_work() as session:
            feedback_service.ingest_feedback(session, actor=actor, records=[row])
    return records / (time.perf_counter() - began)


def ingest(db: Database, workspace_id: int, records: int) -> None:
    with db.unit_of_work() as session:
        for old in session.scalars(select(WebhookSubscription)):
            session.delete(old)
    ingest_rate(db, workspace_id, 300, "warm-up")
    url = "http://127.0.0.1:9/unused"  # never called: nobody runs the queued jobs here
    rates = {"no subscription": ingest_rate(db, workspace_id, records, "none")}
    subscribe(db, workspace_id, url, ["case.closed"])
    rates["one subscription to other events"] = ingest_rate(db, workspace_id, records, "other")
    subscribe(db, workspace_id, url, ["feedback.created"])
    rates["one subscription to feedback.created"] = ingest_rate(db, workspace_id, records, "subscribed")
    base = rates["no subscription"]
    for name, rate in rates.items():
        print(f"ingest, {name}: {rate:,.0f} records/s (ratio {rate / base:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--records", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db, workspace_id = setup(Path(tmp))
        fan_out(db, workspace_id, args.events, args.workers)
        ingest(db, workspace_id, args.records)
        db.dispose()


if __name__ == "__main__":
    main()
