"""Engine and sessions for SQLite (embedded default) and PostgreSQL (asyncpg).

SQLite needs care to behave like a server database under concurrent writers:
foreign keys on, WAL so readers never block writers, a busy timeout, and
`BEGIN IMMEDIATE` for write transactions so two writers queue for the lock at
the start instead of failing with "database is locked" at commit. Read-only
sessions keep a deferred `BEGIN`, so pages never wait on a writer.

Engines belong to one event loop; `Database` is created inside the loop that
uses it (the app's lifespan, a CLI command's `asyncio.run`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

IMMEDIATE = "tongban_sqlite_immediate"


def _prepare_sqlite_path(url: str) -> None:
    parsed = make_url(url)
    database = parsed.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when a transaction begins.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(IMMEDIATE):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """One engine per event loop; SQLite gets its pragmas and explicit BEGINs."""
    if url.startswith("sqlite"):
        _prepare_sqlite_path(url)
        engine = create_async_engine(url, **kwargs)
        _install_sqlite_hooks(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_async_engine(url, **kwargs)


class Database:
    """The engine plus two session factories: reads (deferred) and writes (immediate on SQLite)."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = create_engine(url, **engine_kwargs)
        self.is_sqlite = url.startswith("sqlite")
        write_engine = self.engine.execution_options(**{IMMEDIATE: True}) if self.is_sqlite else self.engine
        self._reader = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self._writer = async_sessionmaker(write_engine, expire_on_commit=False, autoflush=False)
        self.write_listeners: list[Callable[[], None]] = []

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A short read-only session. Closing it ends the transaction and detaches the objects
        without expiring them (a rollback would expire them), so what was loaded stays readable."""
        async with self._reader() as session:
            yield session

    @asynccontextmanager
    async def write(self, notify_caches: bool = True) -> AsyncIterator[AsyncSession]:
        """One write transaction: committed when the block ends, rolled back on any error.
        After a commit the write listeners run (in-process caches mark themselves stale: the
        catalog rereads the outbox mark before the next page, the index follower catches up).
        `notify_caches=False` for a write nothing cached can show (the search log's events): under
        load the log commits every second, and each commit made the next page wait for a mark
        query and woke the index follower for nothing."""
        async with self._writer() as session:
            async with session.begin():
                yield session
            if notify_caches:
                for listener in self.write_listeners:
                    listener()

    async def dispose(self) -> None:
        await self.engine.dispose()


_UNREACHABLE = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
    OSError,  # connection refused or reset, before the driver wraps it
    TimeoutError,
)


def database_unavailable(error: BaseException) -> bool:
    """Errors that mean "the database cannot be reached now", as opposed to a bug (still a 500)."""
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, _UNREACHABLE):
        return True
    import asyncpg

    server_gone = (
        asyncpg.PostgresConnectionError,
        asyncpg.exceptions.OperatorInterventionError,  # shutting down, cannot connect now
        asyncpg.exceptions.TooManyConnectionsError,
    )
    causes = (error, getattr(error, "orig", None), error.__cause__)
    return any(isinstance(cause, server_gone) for cause in causes if cause is not None)
