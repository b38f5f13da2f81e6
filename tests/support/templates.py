"""Ready-made databases and search indexes for tests: built once per test process, copied per test.

Building a database (migrate, 3,400 regions, the demo data) and its Whoosh index takes seconds, so
it happens once per (backend, demo) into a template: a SQLite file or a PostgreSQL database, plus
the index folder `api.cli.initialise` built from it. Each test then gets its own copy of both (a
file copy on SQLite, `CREATE DATABASE … TEMPLATE` on PostgreSQL, and a copy of the index folder),
so tests never see each other's writes and an app starting on the copy finds its index current
instead of rebuilding it.

On PostgreSQL the copies are made ahead and thrown away behind, on one helper thread: while a
test runs, the server already copies the next test's database (`CREATE DATABASE` works in the
server's own process, so on 2 cores it overlaps the test) and drops the last test's one, so a run
no longer leaves hundreds of databases (gigabytes) for the end of the session to delete.

One store per test process (`shared()`): the session fixture `template_store` in
`tests/conftest.py` hands it out, and helpers that are not fixtures (`tests.support.server
.demo_server`) reach the same one. Under pytest-xdist each worker is its own process with its
own store, PostgreSQL cluster (on a free port) and temporary folders.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import shutil
import tempfile
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from api.settings import Settings
from tests.support import postgres

__all__ = ["Template", "TemplateStore", "run_blocking", "shared"]


@dataclass(frozen=True)
class Template:
    """A ready database to copy from (a file on SQLite, a database name on PostgreSQL) and the
    search index built from it."""

    backend: str
    location: str
    index_dir: Path


def run_blocking(coroutine: Any) -> Any:
    """asyncio.run, also from inside a running loop (an async test): then on a helper thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _admin(server: postgres.PostgresServer, sql: str) -> None:
    import asyncpg

    async def run() -> None:
        connection = await asyncpg.connect(server.dsn("postgres"))
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    run_blocking(run())


class TemplateStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.templates: dict[tuple[str, bool], Template] = {}
        self._pg: postgres.PostgresServer | None = None
        self._lock = threading.RLock()
        # one thread: PostgreSQL copies made ahead and drops, in the order they were asked for
        self._helper: ThreadPoolExecutor | None = None
        self._spare: dict[str, Future[str]] = {}  # template database -> a copy made ahead

    # -- the PostgreSQL server ------------------------------------------------------------------

    def pg(self) -> postgres.PostgresServer:
        with self._lock:
            if self._pg is None:
                if not postgres.available() and not os.environ.get(postgres.ENV_URL):
                    pytest.fail(
                        "PostgreSQL binaries are missing: run scripts/system-deps (scripts/test does)"
                    )
                self._pg = postgres.PostgresServer().start()
            return self._pg

    def settings_for(self, url: str, index_dir: Path) -> Settings:
        return Settings(database_url=url, index_dir=index_dir, home_region="331000", secret_key="test-secret")

    # -- templates ------------------------------------------------------------------------------

    def template(self, backend: str, demo: bool) -> Template:
        key = (backend, demo)
        with self._lock:
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
                index_dir = self.root / f"{name}-index-{backend}"
                run_blocking(initialise(self.settings_for(url, index_dir), demo=demo, quiet=True))
                self.templates[key] = Template(backend, location, index_dir)
            return self.templates[key]

    # -- copies ---------------------------------------------------------------------------------

    def clone(self, backend: str, demo: bool, tmp_path: Path) -> str:
        """A fresh copy of the template database for one test: its URL (the index is not copied;
        `copy_index` does that)."""
        template = self.template(backend, demo)
        if backend == "sqlite":
            # distinct names: a test may hold both a demo and an empty database in one tmp_path
            target = tmp_path / ("tongban.db" if demo else "empty.db")
            shutil.copyfile(template.location, target)
            return f"sqlite+aiosqlite:///{target}"
        server = self.pg()
        with self._lock:
            helper = self._helper_pool()
            ahead = self._spare.pop(template.location, None)
            name = ahead.result() if ahead is not None else self._copy_database(server, template.location)
            self._spare[template.location] = helper.submit(self._copy_database, server, template.location)
        return server.url(name)

    def copy_index(self, backend: str, demo: bool, target: Path) -> Path:
        """The template's search index copied to `target` (which must not exist yet)."""
        shutil.copytree(self.template(backend, demo).index_dir, target)
        return target

    def settings(self, backend: str, demo: bool, tmp_path: Path) -> Settings:
        """Settings on a fresh copy of the template database and of its index, in `tmp_path`
        (`tongban.db` and `index/` for the demo, `empty.db` and `empty-index/` without it)."""
        url = self.clone(backend, demo, tmp_path)
        index = tmp_path / ("index" if demo else "empty-index")
        return self.settings_for(url, self.copy_index(backend, demo, index))

    def discard(self, url: str) -> None:
        """Drop a PostgreSQL copy `clone` made (in the background); a SQLite file goes with its
        tmp_path."""
        if url.startswith("sqlite") or self._pg is None:
            return
        name = url.rsplit("/", 1)[1]
        with self._lock:
            self._helper_pool().submit(self._drop_database, name)

    def _helper_pool(self) -> ThreadPoolExecutor:
        if self._helper is None:
            self._helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tongban-test-pg")
        return self._helper

    @staticmethod
    def _copy_database(server: postgres.PostgresServer, template: str) -> str:
        name = "t_" + uuid.uuid4().hex[:16]
        _admin(server, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return name

    def _drop_database(self, name: str) -> None:
        server = self._pg
        if server is None:
            return
        try:
            _admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except Exception as error:  # a leftover copy only costs disk until the server stops
            print(f"tests: could not drop the test database {name}: {error}")

    def close(self) -> None:
        with self._lock:
            for ahead in self._spare.values():  # copies made ahead for tests that never came
                with contextlib.suppress(Exception):
                    self._drop_database(ahead.result())
            self._spare.clear()
            if self._helper is not None:
                self._helper.shutdown(wait=True, cancel_futures=False)
                self._helper = None
            if self._pg is not None:
                self._pg.stop()
                self._pg = None


_shared: TemplateStore | None = None
_shared_lock = threading.Lock()


def shared() -> TemplateStore:
    """The test process's one store (its folder is removed, and its server stopped, by `close`)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = TemplateStore(Path(tempfile.mkdtemp(prefix="tongban-templates-")))
            atexit.register(close_shared)  # when no session fixture closed it (a crash, browser-only runs)
        return _shared


def close_shared() -> None:
    global _shared
    with _shared_lock:
        if _shared is not None:
            _shared.close()
            shutil.rmtree(_shared.root, ignore_errors=True)
            _shared = None
