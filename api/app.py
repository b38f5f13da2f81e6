"""create_app(): the one Starlette application serving the public site, the GraphQL API and the staff area.

The lifespan opens what the process shares (engine, catalog cache, search index, templates) in
the event loop that serves requests, and closes it on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from api.db import Database
from api.settings import Settings, load_settings

log = logging.getLogger("tongban")


@dataclass
class AppState:
    """What every request handler may reach through `request.app.state.tongban`."""

    settings: Settings
    db: Database
    catalog: Any = None  # api.services.catalog.CatalogCache
    search: Any = None  # api.services.indexing.SearchService
    templates: Any = None  # jinja2 templates (web)


def state_of(request: Request) -> AppState:
    return request.app.state.tongban  # type: ignore[no-any-return]


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


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or load_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        from api.services.catalog import CatalogCache
        from api.services.indexing import SearchService

        db = Database(settings.database_url)
        state = AppState(settings=settings, db=db)
        state.catalog = CatalogCache(db, settings.home_region)
        state.search = SearchService(db, settings.index_dir)
        app.state.tongban = state
        await state.search.start()
        try:
            yield
        finally:
            await state.search.stop()
            await db.dispose()

    routes: list[BaseRoute] = [Route("/healthz", healthz)]
    from api.schema import graphql_routes

    routes += graphql_routes(settings)
    from web.routes import web_routes

    routes += web_routes(settings)  # last: it ends with the catch-all 404 page

    from api.middleware import install_middleware

    app = Starlette(routes=routes, lifespan=lifespan, debug=settings.debug)
    install_middleware(app, settings)
    return app


def run_sync(coro: Any) -> Any:
    return asyncio.run(coro)
