"""Shared fixtures: every database test runs on SQLite and on a real PostgreSQL.

Building a database (migrate, 3,400 regions, demo data) takes a second or two, so it happens once
per backend per session into a template; each test gets a fresh copy (a file copy on SQLite,
`CREATE DATABASE … TEMPLATE` on PostgreSQL), so tests never see each other's writes.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.db import Database
from api.settings import Settings
from tests.support import postgres

BACKENDS = ["sqlite", "postgresql"]


@dataclass
class Template:
    """A ready database to copy from: a file (SQLite) or a database name (PostgreSQL)."""

    backend: str
    location: str


class TemplateStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.templates: dict[tuple[str, bool], Template] = {}
        self._pg: postgres.PostgresServer | None = None

    def pg(self) -> postgres.PostgresServer:
        if self._pg is None:
            if not postgres.available() and not os.environ.get(postgres.ENV_URL):
                pytest.fail("PostgreSQL binaries are missing: run scripts/system-deps (scripts/test does)")
            self._pg = postgres.PostgresServer().start()
        return self._pg

    def settings_for(self, url: str, index_dir: Path) -> Settings:
        return Settings(database_url=url, index_dir=index_dir, home_region="331000", secret_key="test-secret")

    def template(self, backend: str, demo: bool) -> Template:
        key = (backend, demo)
        if key not in self.templates:
            from api.cli import initialise

            name = f"tpl_{'demo' if demo else 'base'}"
            if backend == "sqlite":
                path = self.root / f"{name}.db"
                url = f"sqlite+aiosqlite:///{path}"
                location = str(path)
            else:
                server = self.pg()
                server.create_database(name)
                url = server.url(name)
                location = name
            run_blocking(
                initialise(
                    self.settings_for(url, self.root / f"{name}-index-{backend}"), demo=demo, quiet=True
                )
            )
            self.templates[key] = Template(backend, location)
        return self.templates[key]

    def clone(self, backend: str, demo: bool, tmp_path: Path) -> str:
        template = self.template(backend, demo)
        if backend == "sqlite":
            target = tmp_path / "tongban.db"
            shutil.copyfile(template.location, target)
            return f"sqlite+aiosqlite:///{target}"
        server = self.pg()
        name = "t_" + uuid.uuid4().hex[:16]
        postgres_admin(server, f'CREATE DATABASE "{name}" TEMPLATE "{template.location}"')
        return server.url(name)

    def close(self) -> None:
        if self._pg is not None:
            self._pg.stop()


def run_blocking(coroutine: Any) -> Any:
    """asyncio.run, also from inside a running loop (an async test): then on a helper thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def postgres_admin(server: postgres.PostgresServer, sql: str) -> None:
    import asyncpg

    async def run() -> None:
        connection = await asyncpg.connect(server.dsn("postgres"))
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    run_blocking(run())


@pytest.fixture(scope="session")
def template_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TemplateStore]:
    store = TemplateStore(tmp_path_factory.mktemp("templates"))
    yield store
    store.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def empty_settings(backend: str, template_store: TemplateStore, tmp_path: Path) -> Settings:
    """A migrated database holding only the bundled regions."""
    url = template_store.clone(backend, False, tmp_path)
    return template_store.settings_for(url, tmp_path / "index")


@pytest.fixture
def settings(backend: str, template_store: TemplateStore, tmp_path: Path) -> Settings:
    """A migrated database with the bundled demo data (real records and labelled samples)."""
    url = template_store.clone(backend, True, tmp_path)
    return template_store.settings_for(url, tmp_path / "index")


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
