"""The schema is built by migrations alone, both ways, on both backends, and matches the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from api import migrate
from api.db import Database
from api.models import Base


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


async def test_upgrade_to_head_and_back_down(blank_url: str) -> None:
    db = Database(blank_url)
    try:
        await migrate.upgrade(db)
        assert await migrate.current_revision(db) is not None
        async with db.engine.connect() as connection:
            assert await connection.run_sync(_tables) == set(Base.metadata.tables)
        await migrate.downgrade(db, "base")
        assert await migrate.current_revision(db) is None
        async with db.engine.connect() as connection:
            assert await connection.run_sync(_tables) == set()
        await migrate.upgrade(db)
        assert await migrate.current_revision(db) is not None
    finally:
        await db.dispose()


async def test_models_and_migrations_do_not_drift(blank_url: str) -> None:
    """Fails when a model changes without a migration (run `alembic revision --autogenerate`)."""
    db = Database(blank_url)
    try:
        await migrate.upgrade(db)

        def diff(connection: Connection) -> list[object]:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))

        async with db.engine.connect() as connection:
            differences = await connection.run_sync(diff)
        assert differences == [], f"models and migrations differ: {differences}"
    finally:
        await db.dispose()
