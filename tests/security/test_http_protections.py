"""HTTP-level protections: body limit (413), security headers, allowed hosts, rate limit (429).

These are properties of the middleware, not of the database, so one backend (SQLite) suffices.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.middleware import RateLimit
from api.settings import Settings

SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


async def serve(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@pytest.fixture
async def strict(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    strict_settings = replace(
        settings, max_body_bytes=2048, rate_limit_per_minute=60, allowed_hosts=("testserver",)
    )
    async for client in serve(strict_settings):
        yield client


@pytest.mark.parametrize(
    "path", ["/", "/healthz", "/graphql?query=%7B__typename%7D", "/search?q=社保卡", "/no-such-page"]
)
@SQLITE_ONLY
async def test_security_headers_on_every_response(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    csp = response.headers["content-security-policy"]
    assert "unsafe-eval" not in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"]


@SQLITE_ONLY
async def test_body_over_the_limit_is_413_and_nothing_runs(strict: httpx.AsyncClient) -> None:
    big = {"query": "{ __typename }", "padding": "x" * 5000}
    response = await strict.post("/graphql", json=big)
    assert response.status_code == 413


@SQLITE_ONLY
async def test_streamed_body_over_the_limit_is_413(strict: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 1000

    response = await strict.post("/graphql", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


@SQLITE_ONLY
async def test_unknown_host_is_refused(strict: httpx.AsyncClient) -> None:
    response = await strict.get("/healthz", headers={"host": "evil.example"})
    assert response.status_code == 400


@SQLITE_ONLY
async def test_rate_limit_answers_429_per_address(strict: httpx.AsyncClient) -> None:
    statuses = [(await strict.get("/search", params={"q": "社保卡"})).status_code for _ in range(40)]
    assert 429 in statuses
    assert statuses[0] == 200
    limited = next(i for i, s in enumerate(statuses) if s == 429)
    assert limited >= 10, "the burst allowance lets a person's normal clicks through"


def test_token_bucket_refills_over_time() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover - never called
        raise AssertionError

    limiter = RateLimit(app, per_minute=60, prefixes=("/search",))
    assert all(limiter.allow("a", 0.0) for _ in range(10))
    assert not limiter.allow("a", 0.0)
    assert limiter.allow("b", 0.0), "another address has its own bucket"
    assert limiter.allow("a", 1.5), "one token per second comes back"
