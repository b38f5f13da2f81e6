"""Self-check of tests/support/postgres.py: the PostgreSQL tests are only as good as this helper.

On CI (``CI=true``) a missing PostgreSQL is a failure, not a skip: scripts/system-deps
is supposed to have installed it, and a silent skip would hide that it did not.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import asyncpg
import pytest

from tests.support import postgres


def _require_postgres() -> None:
    if postgres.available():
        return
    message = "PostgreSQL binaries not found: run scripts/system-deps (or set TONGBAN_TEST_PG_URL)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def server() -> Iterator[postgres.PostgresServer]:
    _require_postgres()
    with postgres.PostgresServer() as pg:
        yield pg


async def test_create_connect_select_drop(server: postgres.PostgresServer) -> None:
    name = server.create_database()
    assert server.url(name).startswith("postgresql+asyncpg://")
    assert server.url(name).endswith(f"/{name}")

    conn = await asyncpg.connect(server.dsn(name), timeout=30)
    try:
        assert await conn.fetchval("SELECT 1") == 1
        assert await conn.fetchval("SELECT current_database()") == name
        assert await conn.fetchval("SHOW server_encoding") == "UTF8"
        # the Chinese text the app stores must round-trip
        assert await conn.fetchval("SELECT $1::text", "跨区域通办") == "跨区域通办"
    finally:
        await conn.close()

    server.drop_database(name)
    conn = await asyncpg.connect(server.dsn("postgres"), timeout=30)
    try:
        exists = await conn.fetchval("SELECT count(*) FROM pg_database WHERE datname = $1", name)
    finally:
        await conn.close()
    assert exists == 0


async def test_async_helpers_and_force_drop(server: postgres.PostgresServer) -> None:
    """Dropping must work while a connection is still open (an app engine not yet disposed)."""
    name = await server.acreate_database()
    conn = await asyncpg.connect(server.dsn(name), timeout=30)
    try:
        await server.adrop_database(name)
    finally:
        await conn.close()


def test_rejects_unsafe_database_names(server: postgres.PostgresServer) -> None:
    with pytest.raises(ValueError):
        server.create_database('x"; DROP DATABASE postgres; --')


def test_stop_removes_everything() -> None:
    _require_postgres()
    if os.environ.get(postgres.ENV_URL):
        pytest.skip("external server: nothing local to stop")
    pg = postgres.PostgresServer().start()
    basedir, port = pg.basedir, pg.port
    assert basedir is not None and basedir.is_dir() and port is not None
    pg.stop()
    pg.stop()  # idempotent, as atexit may call it again
    assert not basedir.exists()
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0
