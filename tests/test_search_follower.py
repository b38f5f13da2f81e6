"""The search-index follower stops when the app stops, whatever it was doing.

A cancellation that lands while an awaited wait completes can be lost (asyncio.wait_for in
Python 3.11 did this), and an app shutdown then awaited the follower forever: an intermittent hang
at the end of a test, seen once in the full suite. The follower now also ends on a flag.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from api.db import Database
from api.services.indexing import SearchService


async def test_stop_ends_the_follower_even_when_a_cancellation_is_lost(demo_db: Database, tmp_path: Path) -> None:
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


async def test_a_local_write_during_shutdown_does_not_restart_the_follower(demo_db: Database, tmp_path: Path) -> None:
    service = SearchService(demo_db, tmp_path / "index", poll_seconds=0.05)
    await service.start()
    service._written()  # noqa: SLF001  (a commit's listener fires as the app stops)
    await asyncio.wait_for(service.stop(), timeout=5)
    service._written()  # noqa: SLF001
    await asyncio.sleep(0.1)
    assert service._task is not None and service._task.done()  # noqa: SLF001
