"""The search-index follower stops when the app stops, whatever it was doing.

A cancellation that lands while an awaited wait completes can be lost (asyncio.wait_for in
Python 3.11 did this), and an app shutdown then awaited the follower forever: an intermittent hang
at the end of a test, seen once in the full suite. The follower now also ends on a flag.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from api.db import Database
from api.services.indexing import SearchService


async def test_stop_ends_the_follower_even_when_a_cancellation_is_lost(
    demo_db: Database, tmp_path: Path
) -> None:
    service = SearchService(demo_db, tmp_path / "index", poll_seconds=0.05)
    await service.start()
    swallowed = asyncio.Event()
    original = service.catch_up

    async def catch_up_that_loses_a_cancellation() -> int:
        try:
            await asyncio.sleep(0.2)
        except asyncio.CancelledError:  # what a lost cancellation looks like from outside
            swallowed.set()
            return 0
        return await original()

    service.catch_up = catch_up_that_loses_a_cancellation  # type: ignore[method-assign]
    await asyncio.sleep(0.1)  # the follower is now inside catch_up
    await asyncio.wait_for(service.stop(), timeout=5)
    assert swallowed.is_set()
    assert service._task is not None and service._task.done()  # noqa: SLF001


async def test_a_local_write_during_shutdown_does_not_restart_the_follower(
    demo_db: Database, tmp_path: Path
) -> None:
    service = SearchService(demo_db, tmp_path / "index", poll_seconds=0.05)
    await service.start()
    service._written()  # noqa: SLF001  (a commit's listener fires as the app stops)
    await asyncio.wait_for(service.stop(), timeout=5)
    service._written()  # noqa: SLF001
    await asyncio.sleep(0.1)
    assert service._task is not None and service._task.done()  # noqa: SLF001


async def test_a_change_committed_after_a_later_one_still_reaches_the_index(
    demo_db: Database, tmp_path: Path, monkeypatch: Any
) -> None:
    """PostgreSQL gives outbox ids at insert and commits land in any order: a transaction that took
    an earlier id may commit after a later one. The follower must not pass the earlier id while it
    is uncommitted (`id > since` would then never see it): both changes end up in the index."""
    from sqlalchemy import select, update

    from api.models import Matter
    from api.services import indexing
    from api.services.base import queue

    monkeypatch.setattr(indexing, "FOLLOW_SETTLE_SECONDS", 0.2)
    service = SearchService(demo_db, tmp_path / "index", poll_seconds=3600)  # driven by the test
    first_done = asyncio.Event()
    try:
        await service.ensure_current()
        async with demo_db.read() as session:
            slow_code, quick_code = (
                (
                    await session.execute(
                        select(Matter.code).where(Matter.published.is_(True)).order_by(Matter.code).limit(2)
                    )
                )
                .scalars()
                .all()
            )
        assert not service.search("鸬鹚") and not service.search("麒麟")

        async def rename(code: str, name: str, hold: asyncio.Event | None = None) -> None:
            async with demo_db.write() as session:
                await session.execute(update(Matter).where(Matter.code == code).values(name=name))
                queue(session, "matter", code)
                await session.flush()  # the outbox id is taken here …
                if hold is not None:
                    await hold.wait()  # … and committed only after the later one

        slow = asyncio.create_task(rename(slow_code, "鸬鹚养殖备案", first_done))
        await asyncio.sleep(0.2)
        quick = asyncio.create_task(rename(quick_code, "麒麟文化活动登记"))  # PostgreSQL: commits now
        await asyncio.sleep(0.3)
        await service.catch_up()  # the earlier id is still uncommitted
        first_done.set()
        await slow
        await quick
        await service.catch_up()
        assert [h.code for h in service.search("鸬鹚")] == [slow_code]
        assert [h.code for h in service.search("麒麟")] == [quick_code]
    finally:
        first_done.set()
        await service.stop()
