"""Cross-cutting HTTP protections, as plain ASGI middleware (no per-request thread hops):
security headers on every response, a request-body limit (413), allowed hosts, and a per-address
rate limit on the expensive public endpoints (429). Starlette ships none of these itself."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.applications import Starlette
from starlette.middleware.trustedhost import TrustedHostMiddleware

from api.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"permissions-policy", b"geolocation=(self), camera=(), microphone=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp, https_only: bool) -> None:
        self.app = app
        self.headers = list(SECURITY_HEADERS)
        if https_only:
            self.headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [h for h in self.headers if h[0] not in present]
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _plain(send: Send, status: int, text: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = text.encode("utf-8")
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra or [])})
    await send({"type": "http.response.body", "body": body})


UPLOAD_LIMITS = {"/staff/import": 20 * 1024 * 1024}
"""Paths that take a file upload (a signed-in staff member's spreadsheet) and their larger limit."""


class BodyLimit:
    """413 for a request body over the limit, whether announced by Content-Length or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = max(self.max_bytes, UPLOAD_LIMITS.get(scope.get("path", ""), 0))
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > limit
                except ValueError:
                    too_big = True
                if too_big:
                    await _plain(send, 413, "请求内容过大 (request body too large)")
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _plain(send, 413, "请求内容过大 (request body too large)")


class _TooLarge(Exception):
    pass


class RateLimit:
    """A token bucket per client address on the given path prefixes; in memory, per process."""

    def __init__(self, app: ASGIApp, per_minute: int, prefixes: tuple[str, ...], max_clients: int = 50_000) -> None:
        self.app = app
        self.rate = per_minute / 60.0
        self.burst = max(10.0, per_minute / 6.0)
        self.prefixes = prefixes
        self.max_clients = max_clients
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, client: str, now: float) -> bool:
        tokens, last = self.buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        allowed = tokens >= 1.0
        self.buckets[client] = (tokens - 1.0 if allowed else tokens, now)
        while len(self.buckets) > self.max_clients:
            self.buckets.popitem(last=False)
        return allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.rate > 0 and scope["path"].startswith(self.prefixes):
            client = (scope.get("client") or ("unknown", 0))[0]
            if not self.allow(client, time.monotonic()):
                await _plain(send, 429, "请求过于频繁, 请稍后再试 (too many requests)", [(b"retry-after", b"5")])
                return
        await self.app(scope, receive, send)


def install_middleware(app: Starlette, settings: Settings) -> None:
    """Outermost first: headers on everything, then hosts, body size, rate limit."""
    app.add_middleware(RateLimit, per_minute=settings.rate_limit_per_minute, prefixes=("/graphql", "/search", "/feedback"))
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    if settings.allowed_hosts != ("*",):
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(settings.allowed_hosts))
    app.add_middleware(SecurityHeaders, https_only=settings.https_only)
