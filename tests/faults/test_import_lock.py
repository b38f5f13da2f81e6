"""A big import holds the write lock briefly, and stays all or nothing (issue 14, item 8).

The probe: a 6,000-matter `tongban import` held SQLite's write lock for 72 s (every row checked,
loaded, flushed and audited inside it); staff sign-ins, which write a session row, failed after the
30 s busy timeout. Now the rows are checked and the matters decided before the lock, and written in
a few executemany statements: a staff sign-in during an import's write phase answers within
seconds, a bad row anywhere writes nothing, a failure while writing rolls everything back, a matter
changed by someone else between the check and the write is a CONFLICT that writes nothing, and every
record still gets its change-log entry and outbox row. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select, update

import api.services.transfer as transfer
from api.db import Database
from api.models import ChangeLog, Guide, Hall, Matter, OutboxEvent
from api.services.base import SYSTEM, BadInput, Conflict, ServiceContext
from api.services.regions import load_tree
from api.settings import Settings
from bench.scale_data import generate_matters
from tests.test_staff_helpers import add_staff, new_client, sign_in

COUNTED = (Matter, Guide, Hall, ChangeLog, OutboxEvent)


async def counts(db: Database) -> dict[str, int]:
    async with db.read() as session:
        return {
            m.__tablename__: (await session.execute(select(func.count()).select_from(m))).scalar_one()
            for m in COUNTED
        }


async def context(db: Database) -> ServiceContext:
    async with db.read() as session:
        tree = await load_tree(session)
    return ServiceContext(actor=SYSTEM, tree=tree, home_city="331000")


def matters(count: int, offset: int = 0) -> list[dict[str, Any]]:
    return generate_matters(count, offset, seed=14)


async def test_every_matter_gets_its_row_guide_change_log_and_outbox(demo_db: Database) -> None:
    before = await counts(demo_db)
    report = await transfer.import_document(demo_db, await context(demo_db), {"matters": matters(300)})
    after = await counts(demo_db)
    assert report.changes == {("matter", "create"): 300}
    for table in ("matters", "guides", "change_log", "index_outbox"):
        assert after[table] == before[table] + 300, table
    async with demo_db.read() as session:
        entry = (await session.execute(select(ChangeLog).order_by(ChangeLog.id.desc()).limit(1))).scalar_one()
        stored = (await session.execute(select(Matter).where(Matter.code == entry.entity_key))).scalar_one()
    assert entry.entity == "matter" and entry.action == "create" and entry.before is None
    assert entry.after["name"] == stored.name and entry.after["guide"] is not None

    # the same file again changes nothing; a changed name is one update with its own entry
    again = await transfer.import_document(demo_db, await context(demo_db), {"matters": matters(300)})
    assert not again.changes and await counts(demo_db) == after
    changed = matters(300)
    changed[7]["name"] += "(更新)"
    report = await transfer.import_document(demo_db, await context(demo_db), {"matters": changed})
    assert report.changes == {("matter", "update"): 1}
    async with demo_db.read() as session:
        stored = (await session.execute(select(Matter).where(Matter.code == changed[7]["code"]))).scalar_one()
    assert stored.name == changed[7]["name"] and stored.version == 2


async def test_a_bad_row_in_the_middle_writes_nothing(demo_db: Database) -> None:
    before = await counts(demo_db)
    rows = matters(200)
    rows[100]["scope"] = "NOT_A_SCOPE"
    with pytest.raises(BadInput) as raised:
        await transfer.import_document(demo_db, await context(demo_db), {"matters": rows})
    assert "matters 第101条" in raised.value.describe()
    assert await counts(demo_db) == before


async def test_a_failure_while_writing_rolls_back_the_bulk_written_matters(
    demo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = await counts(demo_db)
    halls = [
        {
            "key": f"lock-hall-{n}",
            "name": f"大厅{n}",
            "regionCode": "331004",
            "level": "COUNTY",
            "latitude": 28.58,
            "longitude": 121.37,
        }
        for n in range(3)
    ]
    real = transfer.SAVERS["halls"]
    calls = []

    async def failing(session: Any, ctx: Any, data: Any) -> Any:
        calls.append(data.key)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return await real(session, ctx, data)

    monkeypatch.setitem(transfer.SAVERS, "halls", failing)
    with pytest.raises(RuntimeError):
        await transfer.import_document(
            demo_db, await context(demo_db), {"matters": matters(200), "halls": halls}
        )
    assert await counts(demo_db) == before


async def test_a_matter_changed_between_check_and_write_is_a_conflict(
    demo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await transfer.import_document(demo_db, await context(demo_db), {"matters": matters(50)})
    before = await counts(demo_db)
    rows = matters(50)
    rows[3]["name"] += "(导入)"
    real = transfer.preload_matters

    async def preload_then_someone_saves(session: Any, codes: list[str], **kwargs: Any) -> Any:
        loaded = await real(session, codes, **kwargs)
        async with demo_db.write() as other:  # a staff form saving the same matter meanwhile
            await other.execute(
                update(Matter).where(Matter.code == rows[3]["code"]).values(version=Matter.version + 1)
            )
        return loaded

    monkeypatch.setattr(transfer, "preload_matters", preload_then_someone_saves)
    with pytest.raises(Conflict):
        await transfer.import_document(demo_db, await context(demo_db), {"matters": rows})
    assert await counts(demo_db) == before


class _Watched(Database):
    """The import's own database handle (the CLI's is separate from the server's): it says when its
    write transaction has begun."""

    def __init__(self, url: str, writing: asyncio.Event) -> None:
        super().__init__(url)
        self.writing = writing

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[Any]:
        async with super().write() as session:
            self.writing.set()
            yield session


async def test_a_staff_sign_in_succeeds_during_a_big_import(app: Any, settings: Settings) -> None:
    name = await add_staff(settings, "county", "331004")
    writing = asyncio.Event()
    importer = _Watched(settings.database_url, writing)
    try:
        ctx = await context(importer)
        document = {"matters": matters(3000, offset=20_000)}
        async with new_client(app) as client:
            page = await client.get("/staff/login")  # before the import: the form and its cookie
            assert page.status_code == 200
            task = asyncio.create_task(transfer.import_document(importer, ctx, document))
            await asyncio.wait_for(writing.wait(), timeout=120)
            started = time.perf_counter()
            response = await sign_in(client, name)
            waited = time.perf_counter() - started
            report = await task
    finally:
        await importer.dispose()
    assert response.status_code == 303, response.text  # signed in, not an error page
    assert report.changes[("matter", "create")] == 3000
    # it queued behind the import's write only briefly (before: 3,000 matters held the lock ~15 – 20 s here)
    assert waited < 5.0, waited
