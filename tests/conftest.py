"""Shared fixtures: every database test runs on SQLite and on a real PostgreSQL.

Building a database (migrate, 3,400 regions, demo data) and its search index takes seconds, so it
happens once per backend per session into a template (`tests/support/templates.py`); each test
gets a fresh copy of both (a file copy on SQLite, `CREATE DATABASE … TEMPLATE` on PostgreSQL, the
index folder copied), so tests never see each other's writes and an app finds its index current.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.db import Database
from api.settings import Settings
from tests.support import postgres, templates
from tests.support.templates import Template, TemplateStore, run_blocking

__all__ = ["BACKENDS", "Template", "TemplateStore", "make_token", "postgres_admin", "run_blocking"]

BACKENDS = ["sqlite", "postgresql"]


def postgres_admin(server: postgres.PostgresServer, sql: str) -> None:
    templates._admin(server, sql)


@pytest.fixture(scope="session")
def template_store() -> Iterator[TemplateStore]:
    yield templates.shared()
    templates.close_shared()


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """argon2id with argon2-cffi's CHEAPEST profile (the library's parameters for tests) in the test
    process. The real parameters cost 0.1-0.3 s a hash or check, on purpose, and the suite signs in
    and makes accounts hundreds of times: that was minutes of a run. Passwords are still argon2id
    hashes made and checked by the same code (`api.services.users`); servers the tests start as
    processes (browser journeys, `tongban serve`, the CLI) keep the real parameters."""
    from argon2 import PasswordHasher, profiles

    from api.services import users

    real = users._hasher
    users._hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)
    yield
    users._hasher = real


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def empty_settings(backend: str, template_store: TemplateStore, tmp_path: Path) -> Iterator[Settings]:
    """A migrated database holding only the bundled regions (and its empty search index)."""
    settings = template_store.settings(backend, False, tmp_path)
    yield settings
    template_store.discard(settings.database_url)


@pytest.fixture
def settings(backend: str, template_store: TemplateStore, tmp_path: Path) -> Iterator[Settings]:
    """A migrated database with the bundled demo data (real records and labelled samples) and its
    search index, current."""
    settings = template_store.settings(backend, True, tmp_path)
    yield settings
    template_store.discard(settings.database_url)


@pytest.fixture
async def db(empty_settings: Settings) -> AsyncIterator[Database]:
    database = Database(empty_settings.database_url)
    yield database
    await database.dispose()


@pytest.fixture
async def demo_db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.database_url)
    yield database
    await database.dispose()


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Any]:
    from api.app import create_app

    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def make_token(settings: Settings, name: str, role: str, region: str) -> str:
    from api.services.base import SYSTEM
    from api.services.regions import load_tree
    from api.services.users import add_token, add_user

    database = Database(settings.database_url)
    try:
        async with database.write() as session:
            tree = await load_tree(session)
            await add_user(
                session, SYSTEM, tree, settings.home_region, name, "correct horse battery", role, region
            )
            return await add_token(session, SYSTEM, name)
    finally:
        await database.dispose()


@pytest.fixture
async def admin_token(settings: Settings) -> str:
    return await make_token(settings, "city-admin", "admin", settings.home_region)


@pytest.fixture
def county_token(settings: Settings) -> Callable[[str], Awaitable[str]]:
    async def factory(code: str) -> str:
        return await make_token(settings, f"county-{code}-{uuid.uuid4().hex[:6]}", "county", code)

    return factory


@pytest.fixture
def blank_url(backend: str, template_store: TemplateStore, tmp_path: Path) -> str:
    """An empty database (no tables at all) on the backend under test."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'blank.db'}"
    server = template_store.pg()
    return server.url(server.create_database())
