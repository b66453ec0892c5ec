"""Application factory: settings in, ASGI app out. Nothing is created at import time."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from cem import __version__, plugins
from cem.api import docs as api_docs
from cem.api import errors as api_errors
from cem.api.limits import BodySizeLimit
from cem.auth.login_throttle import LoginThrottle
from cem.auth.security import use_password_hash_cost
from cem.auth.token_cache import TokenCache
from cem.config import Settings, get_settings
from cem.db import migrate
from cem.db.session import Database
from cem.feedback.group_commit import GroupCommit
from cem.imports.runner import recover_interrupted
from cem.jobs.worker import wake_all, worker_pool
from cem.routes import api_router, web_router
from cem.web.security import SecurityHeaders
from cem.web.templating import STATIC_DIR

log = logging.getLogger("cem")


def create_app(settings: Settings | None = None, *, db: Database | None = None) -> FastAPI:
    """Build the web app and API; migrations apply on start, the in-process worker starts if enabled."""
    settings = settings or get_settings()
    settings.check_secrets()
    use_password_hash_cost(settings.password_hash_cost)
    app_plugins = plugins.install()  # before anything stores data: ingest calls the hooks, workers run the tasks
    database = db or Database(settings)
    migrate.upgrade(database.engine)
    workers = (
        worker_pool(
            database,
            general=1,
            interactive=settings.worker_interactive_slots,
            poll_seconds=settings.worker_poll_seconds,
        )
        if settings.in_process_worker
        else []
    )
    wake_workers = wake_all(workers)
    search_ready = threading.Event()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        recover_interrupted(database)  # before this process starts importing anything
        if settings.warm_text_search:  # first, so its engine call goes before the enrichment the workers resume
            threading.Thread(
                target=_warm_search, args=(database, search_ready), name="cem-warm-search", daemon=True
            ).start()
        database.after_commit_hooks.append(wake_workers)
        threads = [worker.start_thread() for worker in workers]
        yield
        # Let the running jobs finish (their unstarted batches go back to the queue) before the engine goes.
        for worker in workers:
            worker.stop()
        for thread in threads:
            thread.join(timeout=10)
        database.after_commit_hooks.remove(wake_workers)

    app = FastAPI(
        title="cem",
        version=__version__,
        description="Self-hosted Customer Experience Management API.",
        lifespan=lifespan,
        docs_url=None,  # served by cem.api.docs from local assets instead of a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = database
    app.state.plugins = app_plugins
    app.state.feedback_group_commit = GroupCommit(database)
    app.state.token_cache = TokenCache(settings.token_cache_seconds)
    app.state.login_throttle = LoginThrottle(database, settings)
    app.state.workers = workers
    app.state.wake_worker = wake_workers
    # Set once the embedding model and every workspace's vector index are loaded (see _warm_search).
    app.state.search_ready = search_ready
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    # Added last, so it wraps the others: their early answers (413) get the headers too.
    app.add_middleware(SecurityHeaders)
    api_errors.install(app)
    app.include_router(api_router())
    app.include_router(web_router())
    api_docs.install(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app


def _warm_search(database: Database, ready: threading.Event) -> None:
    """Background start-up step: a failure only means the first search loads what it needs itself."""
    from cem.text.vector_index import warm_search  # the text stack (numpy, the engine) loads off the start path

    try:
        count = warm_search(database)
        log.info("semantic search ready (%d workspace index(es) loaded)", count)
    except Exception:
        log.exception("could not warm semantic search; the first search loads it instead")
    finally:
        ready.set()
