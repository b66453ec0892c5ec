"""Application factory: settings in, ASGI app out. Nothing is created at import time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from cem import __version__
from cem.admin.token_cache import TokenCache
from cem.api import errors as api_errors
from cem.api.limits import BodySizeLimit
from cem.api.router import api_router
from cem.config import Settings, get_settings
from cem.db import migrate
from cem.db.session import Database
from cem.feedback.group_commit import GroupCommit
from cem.jobs.worker import Worker
from cem.web.router import STATIC_DIR, web_router
from cem.web.security import SecurityHeaders

log = logging.getLogger("cem")


def create_app(settings: Settings | None = None, *, db: Database | None = None) -> FastAPI:
    """Build the web app and API; migrations apply on start, the in-process worker starts if enabled."""
    settings = settings or get_settings()
    settings.check_secrets()
    database = db or Database(settings)
    migrate.upgrade(database.engine)
    worker = Worker(database, poll_seconds=settings.worker_poll_seconds) if settings.in_process_worker else None

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        thread = None
        if worker is not None:
            database.after_commit_hooks.append(worker.wake.set)
            thread = worker.start_thread()
        yield
        if worker is not None and thread is not None:
            # Let the running job finish (its unstarted batch goes back to the queue) before the engine goes.
            worker.stop()
            thread.join(timeout=10)
            database.after_commit_hooks.remove(worker.wake.set)

    app = FastAPI(
        title="cem",
        version=__version__,
        description="Self-hosted Customer Experience Management API.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = database
    app.state.feedback_group_commit = GroupCommit(database)
    app.state.token_cache = TokenCache(settings.token_cache_seconds)
    app.state.worker = worker
    app.state.wake_worker = worker.wake.set if worker is not None else (lambda: None)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    # Added last, so it wraps the others: their early answers (413) get the headers too.
    app.add_middleware(SecurityHeaders)
    api_errors.install(app)
    app.include_router(api_router)
    app.include_router(web_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app
