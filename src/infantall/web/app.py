"""The FastAPI application factory (``create_app(settings)``; no import-time app)."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from infantall import RESEARCH_DISCLAIMER, __version__
from infantall.registry.db import Database
from infantall.registry.evented import EventedEngines, evented_engine
from infantall.registry.import_jobs import ImportJobRunner
from infantall.registry.security import password_hasher
from infantall.registry.settings import RegistrySettings, load_settings
from infantall.web.api import router as api_router
from infantall.web.api.federation import router as federation_router
from infantall.web.docs import install_docs
from infantall.web.errors import document_problems, install_error_handlers
from infantall.web.middleware import RequestGuard
from infantall.web.pages import router as pages_router
from infantall.web.ratelimit import RateLimiter
from infantall.web.read_audit import AUDITED_READS

__all__ = ["API_PREFIX", "create_app", "serve_app"]

API_PREFIX = "/api/v1"


def create_app(
    settings: RegistrySettings | None = None, *, database: Database | None = None
) -> FastAPI:
    """Build the registry web app: the JSON API under ``/api/v1`` and the HTML pages.

    Parameters
    ----------
    settings
        Defaults to :func:`~infantall.registry.settings.load_settings` (environment).
    database
        An open database; by default one is opened from ``settings.database_url``. Create
        the schema first with ``infantall registry init``.
    """
    settings = settings or load_settings()
    db = database or Database.from_settings(settings)
    app = FastAPI(
        title="infantall registry",
        version=__version__,
        description=(
            "Multi-site registry of infant ALL: pseudonymised patients, events, risk groups, "
            f"audit trail. {RESEARCH_DISCLAIMER}"
        ),
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # served offline by install_docs (no CDN)
        redoc_url=None,
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.evented_engines = EventedEngines()  # PostgreSQL: one per loop (_lifespan)
    app.state.database = db
    app.state.hasher = password_hasher(settings)
    app.state.rate_limiter = limiter = RateLimiter(settings)
    app.state.import_jobs = ImportJobRunner(db, settings)
    app.state.import_jobs.recover()  # a restart ends the jobs the last run left unfinished
    install_error_handlers(app)
    app.include_router(api_router, prefix=API_PREFIX)
    app.include_router(federation_router, prefix=API_PREFIX)  # off unless enabled (issue 21)
    install_docs(app, API_PREFIX)
    app.include_router(pages_router)
    app.add_middleware(RequestGuard, settings=settings, limiter=limiter)
    document_problems(app, AUDITED_READS)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """On PostgreSQL, the asyncio engine of the reads served on the event loop
    (:mod:`infantall.registry.evented`), made in the loop that serves the app and disposed
    there when it stops."""
    settings: RegistrySettings = app.state.settings
    engines: EventedEngines = app.state.evented_engines
    engine = evented_engine(app.state.database, settings.db_pool_size)
    if engine is not None:
        engines.add(engine)
    try:
        yield
    finally:
        if engine is not None:
            engines.remove()
            await engine.dispose()


def serve_app() -> FastAPI:
    """The app as ``infantall serve`` runs it: uvicorn's factory, called in every worker, with
    the settings from the environment; then the startup objects are frozen out of the
    garbage collector.

    A worker starts with about 300,000 objects tracked by the collector (the package, its
    libraries, the app). A full collection walks them all: about 130 ms on the reference
    machine, and under load (``benchmarks/registry_load.py``) each such collection stalled
    every request in flight on that worker: a part of the write p99. ``gc.freeze()``
    (Python's documented remedy for long-lived startup objects) moves them to a permanent
    generation that collections skip; objects made while serving are collected as before.
    Only the served process freezes: tests and the demo build many apps in one process.
    """
    app = create_app()
    gc.collect()  # the garbage of start-up, not frozen with the rest
    gc.freeze()
    return app
