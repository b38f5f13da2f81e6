"""What an operator sees of a running instance: log lines (text or JSON), a request id in every
line and response, the access log, request metrics, and `/metrics` (CONTRACT §7).

Logging rules (a test plants values and greps a whole run's logs for them): the access line names
the route template's path without the query string, never headers, cookies or bodies; so passwords,
tokens, session ids and citizens' contact details never reach a log.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import os
import re
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from api import metrics
from api.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("tongban_request_id", default=None)
#: a caller's (or nginx's `$request_id`) id is kept when it looks like one; anything else is replaced
VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
access_log = logging.getLogger("tongban.access")


# ------------------------------------------------------------------ log lines


class RequestIdFilter(logging.Filter):
    """Adds `request_id` (the request being served, `-` outside one) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get() or "-"
        return True


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
#: fields of an access line (passed as `extra`) copied into its JSON object
ACCESS_FIELDS = ("method", "route", "path", "status", "duration_ms", "client")


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, pid (which worker), request_id, message, the access
    fields when present, and the exception's traceback as `exception`."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "request_id": getattr(record, "request_id", None) or REQUEST_ID.get() or "-",
            "message": record.getMessage(),
        }
        for name in ACCESS_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`logging.Formatter` with the time of day formatted once a second, not once a line (under
    load every request writes an access line: `strftime` was a third of formatting it). The
    same text: a test compares them."""

    def __init__(self, fmt: str | None = None) -> None:
        super().__init__(fmt)
        self._second: int | None = None
        self._text = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        if datefmt or self.converter is not time.localtime:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        if second != self._second:
            self._text = time.strftime(self.default_time_format, self.converter(record.created))
            self._second = second
        return self.default_msec_format % (self._text, record.msecs)


def log_formatter(settings: Settings) -> logging.Formatter:
    return JsonFormatter() if settings.log_format == "json" else TextFormatter(TEXT_FORMAT)


def configure_logging(settings: Settings, stream: Any = None) -> logging.Handler:
    """The served process's logging: one handler on the root logger (uvicorn's loggers propagate
    to it) in the configured format, every line with its request id. Replaces the handler an
    earlier call added; leaves others alone."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(log_formatter(settings))
    handler.addFilter(RequestIdFilter())
    handler.tongban = True  # type: ignore[attr-defined]
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "tongban", False):  # called again (a test, a reload): one line per record
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # uvicorn writes its access line when this logger has handlers, its parents' included: it
    # would log the query string (what citizens typed, tokens). The app writes its own.
    uvicorn_access = logging.getLogger("uvicorn.access")
    uvicorn_access.handlers.clear()
    uvicorn_access.propagate = False
    # at DEBUG these log every SQL statement with its parameters (contacts, password hashes)
    for name in ("aiosqlite", "asyncpg", "sqlalchemy"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler


# ------------------------------------------------------------------ per request


def route_templates(app: Any) -> dict[int, str]:
    """id(endpoint) -> the path template of its route, through mounts (`/staff/feedback/{id:int}`)."""
    found: dict[int, str] = {}

    def walk(routes: Any, prefix: str) -> None:
        for route in routes or ():
            path = prefix + getattr(route, "path_format", getattr(route, "path", ""))
            sub = getattr(route, "routes", None)
            if sub:
                walk(sub, path)
            endpoint = getattr(route, "endpoint", None)
            if endpoint is not None:
                found.setdefault(id(endpoint), path or "/")
            app_ = getattr(route, "app", None)
            if app_ is not None and not sub:
                found.setdefault(id(app_), path or "/")

    walk(getattr(app, "routes", ()), "")
    return found


def _match_endpoint(routes: Any, scope: dict[str, Any]) -> Any:
    """The endpoint the router would have chosen for `scope` (rarely needed: see `_route`)."""
    from starlette.routing import Match

    for route in routes:
        match, child = route.matches(scope)
        if match == Match.NONE:
            continue
        sub = getattr(route, "routes", None)
        if sub:
            found = _match_endpoint(sub, {**scope, **child})
            if found is not None:
                return found
            continue
        return child.get("endpoint") or getattr(route, "app", None)
    return None


class RequestObserver:
    """Outermost middleware: the request id (kept from `X-Request-ID` when valid, else made), set
    for every log line of the request and returned as `X-Request-ID`; then, once answered, the
    access line and the request metrics, labelled by route template and status."""

    def __init__(self, app: ASGIApp, router: Any) -> None:
        self.app = app
        self.router = router
        self._templates: dict[int, str] | None = None
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def _route(self, scope: Scope) -> str:
        if self._templates is None:
            self._templates = route_templates(self.router)
        endpoint = scope.get("endpoint")
        if endpoint is None:  # answered before routing (429, 413, a refused host): match it now
            endpoint = _match_endpoint(getattr(self.router, "routes", ()), dict(scope))
            if endpoint is None:
                return "unmatched"
        return self._templates.get(id(endpoint), "other")

    def _observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            if len(self._children) > 5000:  # label sets are bounded by the routes; a guard all the same
                self._children.clear()
            code = str(status)
            children = (
                metrics.HTTP_REQUESTS.labels(method, route, code),
                metrics.HTTP_LATENCY.labels(route, code),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                given = value.decode("latin-1")
                break
        request_id = (
            given if given is not None and VALID_REQUEST_ID.fullmatch(given) else os.urandom(16).hex()
        )
        token = REQUEST_ID.set(request_id)
        header = (b"x-request-id", request_id.encode("ascii"))
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            method = scope.get("method", "")
            route = self._route(scope)
            self._observe(method, route, status, seconds)
            if access_log.isEnabledFor(logging.INFO):
                path = scope.get("path", "")
                client = (scope.get("client") or ("-", 0))[0]
                access_log.info(
                    '%s "%s %s" %d %.1fms',
                    client,
                    method,
                    path[:200],
                    status,
                    seconds * 1000,
                    extra={
                        "method": method,
                        "route": route,
                        "path": path[:200],
                        "status": status,
                        "duration_ms": round(seconds * 1000, 2),
                        "client": client,
                    },
                )
            REQUEST_ID.reset(token)


# ------------------------------------------------------------------ /metrics


def metrics_endpoint(settings: Settings) -> Callable[[Request], Awaitable[Response]]:
    allowed = metrics.AddressList(settings.metrics_allow)

    async def endpoint(request: Request) -> Response:
        client = request.client.host if request.client else None
        if not allowed.allows(client):
            return PlainTextResponse("not found", status_code=404)
        await _scrape_gauges(request)
        import asyncio

        body, content_type = await asyncio.to_thread(metrics.exposition)
        return Response(body, media_type=content_type, headers={"cache-control": "no-store"})

    return endpoint


async def _scrape_gauges(request: Request) -> None:
    """Values read when scraped: how far this host's index is behind the outbox, and since when."""
    from api.services.indexing import outbox_mark

    state = request.app.state.tongban
    search = state.search
    if search is None:
        return
    try:
        async with state.db.read() as session:
            mark = await outbox_mark(session)
    except Exception:  # noqa: BLE001 - the database being down shows in /readyz, not here
        return
    _ready, body = search.readiness(mark)
    metrics.OUTBOX_LAG.set(body["lag"])
    age = search.in_step_age()
    if age is not None:
        metrics.INDEX_AGE.set(0.0 if body["lag"] == 0 else age)
