"""Browser fixtures: the session's app served by uvicorn in a thread, driven by Debian's Chromium via Playwright."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from cem.db.session import Database
from cem.jobs.worker import Worker

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def live_server(app: object) -> Iterator[str]:
    """Serve the session app on a free local port for the whole run; yields its base URL."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the live server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Browser, live_server: str) -> Iterator[Page]:
    """A fresh browser context (no cookies) per test, with relative URLs resolved against the live server."""
    context = browser.new_context(base_url=live_server, viewport={"width": 1360, "height": 900})
    context.set_default_timeout(10_000)
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture
def shot(page: Page, artifacts_dir: Path, request: pytest.FixtureRequest) -> Callable[[str], Path]:
    """`shot("step")` saves a full-page screenshot to artifacts/screenshots/<test>[-step].png."""
    folder = artifacts_dir / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)

    def take(step: str = "") -> Path:
        path = folder / f"{request.node.name}{'-' + step if step else ''}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def worker(db: Database) -> Iterator[Worker]:
    """A background worker thread for tests whose pages enqueue jobs (e.g. CSV imports)."""
    w = Worker(db, poll_seconds=0.2)
    db.after_commit_hooks.append(w.wake.set)
    thread = w.start_thread()
    yield w
    w.stop()
    thread.join(timeout=15)
    db.after_commit_hooks.remove(w.wake.set)


def log_in(page: Page, email: str, password: str) -> None:
    """Fill and submit the login form."""
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
