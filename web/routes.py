"""What the web package serves, and where (public paths: CONTRACT.md §6).

`create_app()` appends these routes after /healthz and /graphql. The staff area (web.staff, written
separately) is included when present, before the catch-all that turns any unknown path into the
helpful 404 page.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import BaseRoute, Mount, Route, request_response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Scope

from api.settings import Settings
from web import feeds, public, survey
from web.caching import conditional
from web.templating import STATIC_DIR

ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
READ = ["GET", "HEAD"]
GZIP_MINIMUM = 1000
#: a 28 KB results page: level 9 (Starlette's default) 360 us -> 4,501 bytes; level 5 258 us ->
#: 4,570 bytes. Every browser asks for gzip, so this is paid on most pages; 70 bytes are not.
GZIP_LEVEL = 5


def compressed(app: ASGIApp) -> ASGIApp:
    """gzip for browsers that accept it: a results page and htmx shrink to about a quarter, which
    matters on an old phone's connection. A response already encoded upstream passes through."""
    return GZipMiddleware(app, minimum_size=GZIP_MINIMUM, compresslevel=GZIP_LEVEL)


def page(path: str, handler: Any, methods: list[str] = READ, name: str | None = None) -> Route:
    return Route(path, compressed(request_response(handler)), methods=methods, name=name)


class CachedStaticFiles(StaticFiles):
    """Static files; a fingerprinted URL (`?v=<hash>`, see templating.static_url) may be cached
    for a year, anything else must be revalidated."""

    async def get_response(self, path: str, scope: Scope) -> Any:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            fingerprinted = b"v=" in scope.get("query_string", b"")
            response.headers["Cache-Control"] = (
                "public, max-age=31536000, immutable"
                if fingerprinted
                else "public, max-age=0, must-revalidate"
            )
        return response


def _staff_routes(settings: Settings) -> list[BaseRoute]:
    """The staff area's routes: `staff_routes(settings)` from `web.staff` (or `web.staff.routes`),
    once that package provides it. Missing is fine (the public site stands alone); an error inside
    it is not swallowed."""
    for name in ("web.staff", "web.staff.routes"):
        try:
            found = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            continue
        factory = getattr(importlib.import_module(name), "staff_routes", None)
        if factory is not None:
            return list(factory(settings))
    return []


def web_routes(settings: Settings) -> list[BaseRoute]:
    routes: list[BaseRoute] = [
        page("/", conditional(public.lookup), name="lookup"),
        page("/search", conditional(public.search, uses_index=True), name="search"),
        page("/matters/{code}", conditional(public.matter_page), name="matter"),
        page("/lists", conditional(public.lists_index), name="lists"),
        page("/lists/{scope}", conditional(public.matter_list), name="matter_list"),
        page("/halls/{hall}", conditional(public.hall_page), name="hall"),
        page("/regions/suggest", public.region_suggest, name="region_suggest"),
        page("/regions/{code}", conditional(public.region_page), name="region"),
        Route("/prefs", public.set_prefs, methods=READ, name="prefs"),
        page("/feedback", public.feedback_form, name="feedback_form"),
        page("/feedback", public.feedback_submit, methods=["POST"], name="feedback_submit"),
        page("/feedback/thanks", public.feedback_thanks, name="feedback_thanks"),
        page("/survey", survey.survey_form, name="survey_form"),
        page("/survey", survey.survey_submit, methods=["POST"], name="survey_submit"),
        page("/survey/thanks", survey.survey_thanks, name="survey_thanks"),
        page("/feeds/changes.atom", feeds.changes_atom, name="changes_atom"),
        Mount("/static", app=compressed(CachedStaticFiles(directory=str(STATIC_DIR))), name="static"),
    ]
    routes += _staff_routes(settings)
    routes.append(page("/{path:path}", public.not_found, methods=ANY_METHOD, name="not_found"))
    return routes
