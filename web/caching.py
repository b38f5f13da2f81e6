"""Conditional GET for the public pages: an `ETag` made from what the page depends on, and 304 Not
Modified when the browser (or a caching proxy) already has it — decided before the page is built.

A public page depends on: the data snapshot (the catalog's outbox mark; the search index's searcher
for results), today's date (coverage is decided per day), the address, whether htmx asked for the
fragment, the reader's display preferences, the browser's CSRF cookie (every page carries the
feedback form's token, bound to it) and this build of the code and templates. The tag hashes those.

`Cache-Control: public, no-cache` + `Vary: HX-Request, Cookie`: a proxy may store a page but must
revalidate it every time (an edit shows at once), keyed by the cookie (a page holds that browser's
form token). A first visit (no CSRF cookie yet) sets the cookie and is `private, no-cache`, untagged.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api.services.base import today
from web import csrf
from web.templating import PREFS_COOKIE

Handler = Callable[[Request], Awaitable[Response]]

CACHE_CONTROL = "public, no-cache"
FIRST_VISIT = "private, no-cache"
VARY = "HX-Request, Cookie"

_WEB = Path(__file__).resolve().parent
_ROOT = _WEB.parent


def _build_id() -> str:
    """This build of what renders pages (code and templates): a tag never outlives a deploy."""
    digest = hashlib.blake2b(digest_size=8)
    files = [*sorted((_WEB / "templates").rglob("*.html")), *sorted(_WEB.glob("*.py"))]
    files += [_ROOT / "api" / "rules.py", _ROOT / "api" / "place_names.py"]
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


BUILD_ID = _build_id()


def _matches(header: str, tag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    candidates = {part.strip() for part in header.split(",")}
    return tag in candidates or tag.removeprefix("W/") in candidates


def page_tag(request: Request, mark: int, index_serial: int | None) -> str:
    headers = request.headers
    fragment = headers.get("hx-request") == "true" and headers.get("hx-history-restore-request") != "true"
    parts = (
        BUILD_ID,
        str(mark),
        "" if index_serial is None else str(index_serial),
        today().isoformat(),
        request.scope.get("path", ""),
        request.scope.get("query_string", b"").decode("latin-1"),
        "fragment" if fragment else "page",
        request.cookies.get(PREFS_COOKIE, ""),
        request.cookies.get(csrf.COOKIE, ""),
    )
    return 'W/"' + hashlib.blake2b("\x1f".join(parts).encode(), digest_size=12).hexdigest() + '"'


def conditional(handler: Handler, uses_index: bool = False) -> Handler:
    """Wrap a public GET page: 304 for a matching `If-None-Match`, else the page with its tag."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        if request.method not in ("GET", "HEAD") or not request.cookies.get(csrf.COOKIE):
            response = await handler(request)
            if request.method in ("GET", "HEAD") and "cache-control" not in response.headers:
                response.headers["Cache-Control"] = FIRST_VISIT
            return response
        state: Any = request.app.state.tongban
        try:
            catalog = await state.catalog.get()
            search = state.search if uses_index else None
            serial = search.serial() if search is not None and hasattr(search, "serial") else None
        except Exception:  # noqa: BLE001 - e.g. the database is down: the page answers (503) itself
            response = await handler(request)
            response.headers.setdefault("Cache-Control", FIRST_VISIT)
            return response
        tag = page_tag(request, catalog.mark, serial)
        if _matches(request.headers.get("if-none-match", ""), tag):
            return Response(
                status_code=304, headers={"ETag": tag, "Cache-Control": CACHE_CONTROL, "Vary": VARY}
            )
        response = await handler(request)
        if response.status_code == 200 and "set-cookie" not in response.headers:
            response.headers["ETag"] = tag
            response.headers["Cache-Control"] = CACHE_CONTROL
            response.headers["Vary"] = VARY
        elif "cache-control" not in response.headers:
            response.headers["Cache-Control"] = FIRST_VISIT
        return response

    return wrapped
