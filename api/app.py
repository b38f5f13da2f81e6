"""create_app(): the one Starlette application serving the public site, the GraphQL API and the staff area.

The lifespan opens what the process shares (engine, catalog cache, search index, templates) in
the event loop that serves requests, and closes it on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from api import metrics
from api.db import Database
from api.middleware import install_middleware
from api.observability import configure_logging, metrics_endpoint
from api.schema import graphql_routes
from api.services.catalog import CatalogCache
from api.services.indexing import SearchService, outbox_mark
from api.services.webhooks import WebhookWorker
from api.settings import Settings, load_settings
from api.state import AppState, state_of
from web.routes import web_routes

__all__ = ["AppState", "create_app", "create_served_app", "state_of"]

log = logging.getLogger("tongban")


async def healthz(request: Request) -> JSONResponse:
    """Ready when the database answers and the search index opens."""
    state = state_of(request)
    body: dict[str, Any] = {"status": "ok"}
    status = 200
    try:
        async with state.db.read() as session:
            await session.execute(text("SELECT 1"))
        body["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - readiness reports, never raises
        body["database"] = f"unavailable: {type(exc).__name__}"
        status = 503
    if state.search is not None:
        ready = state.search.is_ready()
        body["index"] = {"ready": ready, **state.search.status()}
        if not ready:
            status = 503
    else:
        body["index"] = {"ready": False}
        status = 503
    if status != 200:
        body["status"] = "unavailable"
    return JSONResponse(body, status_code=status)


async def readyz(request: Request) -> JSONResponse:
    """Readiness (CONTRACT §7), for nginx and systemd: 200 only when the database answers and the
    search index is open, its updates go through and it holds what the outbox holds; 503 until
    then, and while an index that failed its updates is being rebuilt. /healthz stays liveness."""
    state = state_of(request)
    body: dict[str, Any] = {"status": "ok"}
    ready = True
    mark: int | None = None
    try:
        async with state.db.read() as session:
            mark = await outbox_mark(session)
        body["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - readiness reports, never raises
        body["database"] = f"unavailable: {type(exc).__name__}"
        ready = False
    if state.search is None:
        body["index"] = {"ready": False}
        ready = False
    else:
        index_ready, body["index"] = state.search.readiness(mark if mark is not None else 0)
        ready = ready and index_ready
    if not ready:
        body["status"] = "unavailable"
    return JSONResponse(body, status_code=200 if ready else 503, headers={"cache-control": "no-store"})


def create_app(
    settings: Settings | None = None, *, on_catalog_load: Callable[[], None] | None = None
) -> Starlette:
    """The application; `on_catalog_load` is called after each catalog snapshot loads
    (`create_served_app`: `exempt_long_lived`)."""
    settings = settings or load_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        db = Database(settings.database_url)
        metrics.watch_pool(db.engine)
        catalog = CatalogCache(db, settings.home_region, on_load=on_catalog_load)
        search = SearchService(db, settings.index_dir)
        webhooks = WebhookWorker(db, catalog, settings.webhook_allowed_hosts)
        app.state.tongban = AppState(
            settings=settings, db=db, catalog=catalog, search=search, webhooks=webhooks
        )
        await search.start()
        await webhooks.start()  # beside the index follower; off when no hosts are allowed
        try:
            yield
        finally:
            await webhooks.stop()
            await search.stop()
            await db.dispose()
            metrics.unwatch_pool(db.engine)

    routes: list[BaseRoute] = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics_endpoint(settings)),
        *graphql_routes(settings),
        *web_routes(settings),  # last: it ends with the catch-all 404 page
    ]
    app = Starlette(routes=routes, lifespan=lifespan, debug=settings.debug)
    install_middleware(app, settings)
    return app


#: The cyclic garbage collector's thresholds in a serving process (CPython's are 700, 10, 10).
#: With the defaults a worker under load ran a full collection about every 0.8 s: each walks
#: every long-lived object (the catalog snapshot, the search index's caches, jieba's dictionary)
#: for 18 - 56 ms while all 32 requests in flight wait, which was most of the gap between p95
#: and p99. Young collections a little rarer (2,000 net allocations) and a full one only after
#: 100 middle ones: none in a 27 s bench run. Measured by bench/run.py's coverage load, 4 runs
#: each, interleaved: p99 59 - 67 ms -> 37 - 52 ms, throughput unchanged. Cyclic garbage still
#: goes, later (CPython also waits until the long-lived objects grew by a quarter).
SERVING_GC_THRESHOLDS = (2000, 20, 100)


def exempt_long_lived() -> None:
    """(served processes, after each catalog snapshot loads) Move every object alive now to the
    collector's permanent generation (`gc.freeze`): the snapshot (~120,000 objects at 5,000
    matters), the modules, the index's caches. A full collection walked them all for 64 - 93 ms
    while every request in flight waited, once every few thousand pages, and found nothing: in
    a bench run of 8,000 results pages the collector freed 366 objects, none of them old. Frozen
    objects are still freed when their last reference goes (a replaced snapshot holds no
    cycles: dropping one leaves 4 objects to the collector), so only cyclic garbage alive at
    this moment is kept for good; the young generations are collected first to make that
    little."""
    gc.collect(1)
    gc.freeze()


def create_served_app() -> Starlette:
    """`create_app()` for `tongban serve`'s workers: the collector tuned for a long-lived server
    (thresholds, and the snapshot exempted: `exempt_long_lived`).

    Only served processes change it (it is process-wide): tests and embedders of `create_app` keep
    their interpreter's settings."""
    gc.set_threshold(*SERVING_GC_THRESHOLDS)
    settings = load_settings()
    configure_logging(settings)
    return create_app(settings, on_catalog_load=exempt_long_lived)


def run_sync(coro: Any) -> Any:
    return asyncio.run(coro)
