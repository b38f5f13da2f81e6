"""The database briefly unreachable: a clear 503, never a 500, and recovery without a restart.

A dedicated PostgreSQL (its own cluster, not the suite's shared one, because this test stops it)
holds a demo database; the app runs against it with its lifespan. The server is stopped with
`pg_ctl stop -m fast` (every connection in the app's pool dies), then started again on the same data
directory and port. While it is down, public pages answer the 503 page, /healthz 503, GraphQL a
coded error (`UNAVAILABLE`: "try again", not `INTERNAL`: "a bug"), the public feedback form (a write)
the 503 page; when it is back, everything answers 200 again within seconds, through the same app
object (the pool's pre-ping replaces dead connections, the index follower keeps polling).
Nothing is lost: the export before the outage equals the export after it.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.db import Database
from api.services.transfer import export_document
from api.settings import Settings
from tests.support import postgres

PAGES = [
    "/",
    "/search?q=社保卡&home=511300",
    "/matters/M-008",
    "/regions/511300",
    "/lists/citywide",
    "/halls/1",
]
GRAPHQL = '{ matter(code: "M-008") { code name } coverage(homeRegionCode: "511300", matterCode: "M-008") { covered } }'
RECOVERY_SECONDS = 15.0


@pytest.fixture(scope="module")
def own_server() -> Iterator[postgres.PostgresServer]:
    """A private cluster this module may stop and start (an external server cannot be stopped)."""
    if os.environ.get(postgres.ENV_URL):
        pytest.skip(f"{postgres.ENV_URL} points at an external server, which this test must not stop")
    if not postgres.available():
        pytest.fail("PostgreSQL binaries are missing: run scripts/system-deps (scripts/test does)")
    with postgres.PostgresServer() as server:
        yield server


def pg_ctl(server: postgres.PostgresServer, *args: str) -> None:
    """Run pg_ctl on the server's own data directory, as the server's OS user.

    Uses the helper's private `_pg` runner: PostgresServer has no public stop-and-keep-the-data /
    start-on-the-same-port pair (its `stop()` deletes the cluster, its start picks a new port)."""
    assert server.bindir is not None and server.datadir is not None
    result = server._pg([str(server.bindir / "pg_ctl"), *args, "-D", str(server.datadir)], timeout=90)  # noqa: SLF001
    assert result.returncode == 0, f"pg_ctl {args[0]} failed:\n{result.stdout}\n{result.stderr}"


def stop(server: postgres.PostgresServer) -> None:
    pg_ctl(server, "stop", "-m", "fast", "-w")


def start_again(server: postgres.PostgresServer) -> None:
    """Same data directory, same port, same settings as the helper's own start."""
    assert server.basedir is not None and server.logfile is not None
    options = f"-p {server.port} -k {server.basedir / 'sock'} " + " ".join(
        f"-c {key}={value}" for key, value in postgres.SERVER_SETTINGS.items()
    )
    pg_ctl(server, "start", "-w", "-t", "60", "-l", str(server.logfile), "-o", options)


async def graphql(client: httpx.AsyncClient) -> tuple[int, dict[str, Any]]:
    response = await client.post("/graphql", json={"query": GRAPHQL})
    return response.status_code, response.json()


async def everything_answers(client: httpx.AsyncClient) -> list[str]:
    """What is not (yet) back to normal; empty when every check passes."""
    wrong = []
    for url in PAGES:
        response = await client.get(url)
        if response.status_code != 200:
            wrong.append(f"{url} {response.status_code}")
    health = await client.get("/healthz")
    if health.status_code != 200:
        wrong.append(f"/healthz {health.status_code} {health.text[:200]}")
    status, body = await graphql(client)
    if status != 200 or body.get("errors") or not (body.get("data") or {}).get("matter"):
        wrong.append(f"/graphql {status} {str(body)[:200]}")
    return wrong


async def test_database_outage_gives_503_and_recovers_by_itself(
    own_server: postgres.PostgresServer, tmp_path: Path
) -> None:
    from api.app import create_app
    from api.cli import initialise

    name = await own_server.acreate_database("outage")
    settings = Settings(
        database_url=own_server.url(name),
        index_dir=tmp_path / "index",
        home_region="331000",
        secret_key="test-secret",
        rate_limit_per_minute=0,
    )
    await initialise(settings, demo=True, quiet=True)
    database = Database(settings.database_url)
    try:
        before = await export_document(database)
    finally:
        await database.dispose()

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            assert await everything_answers(client) == []
            feedback_page = await client.get("/feedback")
            token = feedback_page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]

            await asyncio.to_thread(stop, own_server)
            down_at = time.monotonic()
            # the catalog snapshot is trusted for `recheck_seconds` without asking the database (pages
            # then still answer 200 from it, which is fine); past that, every page needs the database
            await asyncio.sleep(app.state.tongban.catalog.recheck_seconds + 0.1)
            problems = []
            for url in PAGES:
                response = await client.get(url)
                if response.status_code != 503 or "服务暂时不可用" not in response.text:
                    problems.append(f"{url}: {response.status_code} {response.text[:120]!r}")
                elif response.headers.get("retry-after") != "30":
                    problems.append(f"{url}: 503 without Retry-After")
            fragment = await client.get(PAGES[1], headers={"HX-Request": "true"})
            if fragment.status_code != 503:
                problems.append(f"{PAGES[1]} (htmx fragment): {fragment.status_code}")
            health = await client.get("/healthz")
            if health.status_code != 503 or not health.json()["database"].startswith("unavailable"):
                problems.append(f"/healthz: {health.status_code} {health.text[:200]}")
            status, body = await graphql(client)
            codes = [(e.get("extensions") or {}).get("code") for e in body.get("errors") or []]
            # "try again later", which a partner's program can act on — not INTERNAL, which means a bug
            if status not in (200, 503) or not codes or any(code != "UNAVAILABLE" for code in codes):
                problems.append(
                    f"/graphql: HTTP {status}, codes {codes} (expected UNAVAILABLE): {str(body)[:300]}"
                )
            posted = await client.post(
                "/feedback",
                data={
                    "csrf_token": token,
                    "description": "数据库停机时提交的反馈",
                    "stage": "DURING",
                    "category": "OTHER",
                },
            )
            if posted.status_code != 503:
                problems.append(f"POST /feedback: {posted.status_code} {posted.text[:120]!r}")
            login = await client.get("/staff/login")
            if login.status_code >= 500 and login.status_code != 503:
                problems.append(f"/staff/login: {login.status_code}")
            outage_checks = len(PAGES) + 5
            await asyncio.sleep(
                1.5
            )  # the index follower (1 s poll) meets the outage too, and must survive it

            await asyncio.to_thread(start_again, own_server)
            restarted = time.monotonic()
            remaining: list[str] = ["not checked yet"]
            while remaining and time.monotonic() - restarted < RECOVERY_SECONDS:
                remaining = await everything_answers(client)
                if remaining:
                    await asyncio.sleep(0.25)
            recovered_after = time.monotonic() - restarted

    database = Database(settings.database_url)
    try:
        after = await export_document(database)
    finally:
        await database.dispose()
    print(
        f"\ndatabase outage: down {restarted - down_at:.1f} s, {outage_checks} requests answered while down "
        f"({len(problems)} wrong), everything 200 again {recovered_after:.1f} s after the restart, "
        f"records unchanged: {after == before}"
    )
    assert not problems, "while the database was down:\n" + "\n".join(problems)
    assert not remaining, f"not recovered {RECOVERY_SECONDS:.0f} s after the restart: {remaining}"
    assert after == before, "records changed across the outage"
