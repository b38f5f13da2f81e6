"""Keeps this instance's search index in step with the database, which stays the source of truth.

Every write leaves an outbox row in its own transaction (api.services.base.queue). Each instance
applies the rows after the index's own high-water mark, in id order and idempotently: on start, on
a short poll while serving, and after a CLI import. A rebuild reads a settled outbox mark, then
every matter, builds a new index folder and swaps it in, then catches up from that mark.

Only rows up to a settled mark are applied (`changes.settled_mark`, the changes feed's order lock):
on PostgreSQL ids are given at insert and commits land in any order, so a row with a smaller id
may commit after a larger one; once the high-water mark passed it, `id > mark` would never see it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from api import metrics
from api.db import Database
from api.enums import GuideStatus
from api.models import Guide, Matter, OutboxEvent, SearchSynonym
from api.services.changes import settled_mark
from api.services.snapshots import published_guide

log = logging.getLogger("tongban.index")

Progress = Callable[[str, int, int], None]
BATCH = 500
#: /readyz accepts an index that is behind the outbox's newest row when the follower was in step
#: this recently (a write a moment ago is applied at the next poll; readiness must not flap)
IN_STEP_GRACE_SECONDS = 5.0
#: how long one catch-up waits for in-flight outbox writers before leaving it to the next poll
FOLLOW_SETTLE_SECONDS = 2.0


class IndexUpdateError(RuntimeError):
    """Applying the outbox to the index failed on the index's side (not the database's): its
    folder is damaged or unwritable. The follower repairs it with a rebuild in the background."""


@dataclass
class IndexHealth:
    """What the follower knows about its index, for /readyz, /metrics and the staff dashboard."""

    failing_since: float | None = None  # time.time() of the first index-side failure in a row
    failures: int = 0  # index-side failures since the last success
    last_error: str | None = None
    rebuilding: bool = False
    repairs: int = 0  # rebuilds started because updates failed
    in_step_at: float | None = None  # time.monotonic() when the index last held every outbox row
    in_step_wall: float | None = None  # the same moment, time.time()

    @property
    def failing(self) -> bool:
        return self.failing_since is not None


def guide_text(guide: Guide | None) -> str:
    if guide is None:
        return ""
    parts: list[str] = [guide.conditions or ""]
    parts += [str(m.get("name", "")) for m in guide.materials or []]
    parts += [str(s) for s in guide.steps or []]
    parts += [guide.walkthrough or ""]
    return "\n".join(p for p in parts if p)


def matter_document(matter: Matter) -> dict[str, Any]:
    """What the index knows of a matter (CONTRACT: name above keywords above guide text)."""
    return _document(matter, published_guide(matter))


def _document(matter: Any, guide: Any) -> dict[str, Any]:
    """``matter`` and ``guide`` are models or rows with the same attribute names."""
    return {
        "code": matter.code,
        "name": matter.name,
        "aliases": list(matter.aliases or []),
        "keywords": list(matter.keywords or []),
        "department": matter.department or "",
        "scope": getattr(matter.scope, "value", matter.scope),
        "guide_text": guide_text(guide),
    }


#: what :func:`matter_document` reads of a matter and of its guide (see :func:`guide_text`)
_DOCUMENT_COLUMNS = (
    Matter.code,
    Matter.name,
    Matter.aliases,
    Matter.keywords,
    Matter.department,
    Matter.scope,
)
_GUIDE_TEXT_COLUMNS = (Guide.conditions, Guide.materials, Guide.steps, Guide.walkthrough)


async def published_documents(session: AsyncSession) -> list[dict[str, Any]]:
    """The documents of all published matters, by code: :func:`matter_document` for each, read
    with two column queries instead of model objects (a rebuild at 20,000 matters spends a
    second less here)."""
    latest: dict[int, Any] = {}  # matter id -> its published guide of the highest version
    guides = await session.execute(
        select(Guide.matter_id, Guide.version, *_GUIDE_TEXT_COLUMNS)
        .join(Matter, Matter.id == Guide.matter_id)
        .where(Matter.published.is_(True), Guide.status == GuideStatus.PUBLISHED)
    )
    for guide in guides:
        known = latest.get(guide.matter_id)
        if known is None or guide.version > known.version:
            latest[guide.matter_id] = guide
    matters = await session.execute(
        select(Matter.id, *_DOCUMENT_COLUMNS).where(Matter.published.is_(True)).order_by(Matter.code)
    )
    return [_document(matter, latest.get(matter.id)) for matter in matters]


async def outbox_mark(session: AsyncSession) -> int:
    return int((await session.execute(select(func.max(OutboxEvent.id)))).scalar_one() or 0)


async def staff_synonyms(session: AsyncSession) -> list[list[str]]:
    rows = (await session.execute(select(SearchSynonym).order_by(SearchSynonym.id))).scalars()
    return [list(r.terms) for r in rows if r.terms]


class SearchService:
    """One instance's index: open, rebuild, catch up, search."""

    def __init__(self, db: Database, index_dir: Path, poll_seconds: float = 1.0) -> None:
        self.db = db
        self.index_dir = Path(index_dir)
        self.poll_seconds = poll_seconds
        self._index: Any = None
        self._synonyms: list[list[str]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._wake: asyncio.Event | None = None
        self._stopping = False
        self._repair_task: asyncio.Task[None] | None = None
        self.last_error: str | None = None
        self.health = IndexHealth()
        db.write_listeners.append(self._written)

    def _written(self) -> None:
        """A commit in this process: catch up now instead of at the next poll."""
        if self._wake is not None:
            self._wake.set()

    # -- lifecycle ---------------------------------------------------------------------------

    def _open(self, synonyms: list[list[str]]) -> Any:
        from search_index import SearchIndex

        if self._index is None or synonyms != self._synonyms:
            if self._index is not None:
                self._index.close()
            self._index = SearchIndex(self.index_dir, extra_synonyms=synonyms)
            self._synonyms = synonyms
        return self._index

    async def start(self) -> None:
        """Open (or build) the index and follow the outbox while the app runs."""
        try:
            await self.ensure_current()
        except Exception:  # the app still serves pages; /healthz reports the index as not ready
            log.exception("search index could not be prepared at start-up")
        self._stopping = False
        self._task = asyncio.create_task(self._follow(), name="tongban-index-follow")

    async def stop(self) -> None:
        # The flag, not only the cancellation, ends the follower: a cancellation that lands while
        # a wait is completing can be lost (asyncio.wait_for in 3.11 did exactly that, and an app
        # shutdown then waited for the follower forever).
        self._stopping = True
        if self._wake is not None:
            self._wake.set()
        for task in (self._task, self._repair_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._index is not None:
            await asyncio.to_thread(self._index.close)
            self._index = None

    def _stop_requested(self) -> bool:
        # A call, not the attribute, so a type checker does not carry `while not self._stopping`
        # past the await that stop() runs during.
        return self._stopping

    async def _follow(self) -> None:
        self._wake = asyncio.Event()
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_seconds):
                    await self._wake.wait()
            if self._stop_requested():  # stop() may have run while we waited
                return
            self._wake.clear()
            if self.health.rebuilding:
                continue  # the repair catches up when its rebuild is done
            try:
                await self.catch_up()
                self.last_error = None
            except asyncio.CancelledError:
                raise
            except IndexUpdateError as exc:
                self._index_failed(exc)
            except Exception as exc:  # keep following; the database may be briefly unreachable
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("search index catch-up failed: %s", self.last_error)

    # -- repair --------------------------------------------------------------------------------

    def _index_failed(self, exc: BaseException) -> None:
        """An update failed on the index's side: new records would never become searchable while
        the old searcher kept answering. Note it (readiness drops) and rebuild in the background."""
        health = self.health
        cause = exc.__cause__ or exc
        self.last_error = health.last_error = f"{type(cause).__name__}: {cause}"
        health.failures += 1
        metrics.INDEX_FAILURES.inc()
        if health.failing_since is None:
            health.failing_since = time.time()
        log.error("search index update failed (%s); rebuilding it in the background", health.last_error)
        if self._repair_task is None or self._repair_task.done():
            self._repair_task = asyncio.create_task(self._repair(), name="tongban-index-repair")

    async def _repair(self, first_delay: float = 0.2, max_delay: float = 60.0) -> None:
        """Rebuild-and-swap until an update goes through again. Another worker sharing the folder
        may have rebuilt it already: then reopening is enough and no second build runs."""
        health = self.health
        health.rebuilding = True
        health.repairs += 1
        metrics.INDEX_REPAIRS.inc()
        delay = first_delay
        try:
            while not self._stopping:
                await asyncio.sleep(delay)
                try:
                    if self._index is not None:
                        await asyncio.to_thread(self._index.close)  # reopen from the pointer
                    await self.catch_up()
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 - still broken: build afresh
                    try:
                        documents = await self.rebuild()
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:  # noqa: BLE001 - retried with backoff
                        health.last_error = f"{type(exc).__name__}: {exc}"
                        log.error(
                            "search index rebuild failed (%s); retrying in %.0f s", health.last_error, delay
                        )
                        delay = min(max(delay, 1.0) * 2, max_delay)
                        continue
                    log.warning("search index rebuilt after failing updates: %d matters", documents)
                health.failing_since = None
                health.failures = 0
                health.last_error = self.last_error = None
                return
        finally:
            health.rebuilding = False

    # -- building ------------------------------------------------------------------------------

    async def ensure_current(self, progress: Progress | None = None, pool_mb: int = 128) -> str:
        """Rebuild when there is no usable index, else apply what the outbox holds beyond it."""
        async with self.db.read() as session:
            synonyms = await staff_synonyms(session)
        index = await asyncio.to_thread(self._open, synonyms)
        if not index.is_ready():
            await self.rebuild(progress=progress, pool_mb=pool_mb)
            return "rebuilt"
        applied = await self.catch_up()
        return f"caught up {applied}" if applied else "current"

    async def rebuild(self, progress: Progress | None = None, pool_mb: int = 128) -> int:
        """Build afresh from the database. `pool_mb` bounds Whoosh's in-memory sort: the CLI gives
        it room (fast), a serving process keeps it small (its memory is shared with requests)."""
        async with self._lock:
            mark = await self._settled_mark()  # first: the documents read next hold every row up to it
            async with self.db.read() as session:
                synonyms = await staff_synonyms(session)
                documents = await published_documents(session)
            index = await asyncio.to_thread(self._open, synonyms)
            await asyncio.to_thread(index.rebuild, _reporting(documents, progress), mark, pool_mb)
        await self.catch_up()
        return len(documents)

    async def catch_up(self) -> int:
        """Apply outbox rows beyond the index's mark; returns how many rows were applied."""
        if self._index is None:
            return 0
        async with self._lock:
            index = self._index
            applied = 0
            since = await _on_index(index.last_applied_id)
            while True:
                # only up to a settled mark: on PostgreSQL a row with a smaller id may commit after
                # a larger one, and once `since` passed it `id > since` would never see it
                ceiling = await settled_mark(self.db, FOLLOW_SETTLE_SECONDS)
                if ceiling is None:
                    log.info("search index: writers held the outbox order lock; next poll")
                    return applied
                async with self.db.read() as session:
                    events = (
                        (
                            await session.execute(
                                select(OutboxEvent)
                                .where(OutboxEvent.id > since, OutboxEvent.id <= ceiling)
                                .order_by(OutboxEvent.id)
                                .limit(BATCH)
                            )
                        )
                        .scalars()
                        .all()
                    )
                    if not events:
                        self._in_step()
                        return applied
                    if any(e.entity == "synonym" for e in events):
                        break
                    codes = sorted({e.entity_key for e in events if e.entity == "matter"})
                    matters = {}
                    if codes:
                        rows = await session.execute(
                            select(Matter).options(selectinload(Matter.guides)).where(Matter.code.in_(codes))
                        )
                        matters = {m.code: m for m in rows.scalars()}
                changes = []
                for code in codes:
                    matter = matters.get(code)
                    last_id = max(e.id for e in events if e.entity == "matter" and e.entity_key == code)
                    document = matter_document(matter) if matter is not None and matter.published else None
                    changes.append((last_id, code, document))
                top = events[-1].id
                # a full batch means more may follow: the index merges its segments after the last
                await _on_index(
                    functools.partial(index.apply_changes, changes, top, more_follow=len(events) == BATCH)
                )
                applied += len(events)
                since = top
        # staff changed the synonym dictionary: the analyzer changed, so build afresh
        await self.rebuild()
        return applied

    async def _settled_mark(self) -> int:
        """A mark every smaller outbox id is committed below (a rebuild starts from it): waits for
        writers that keep the order lock, however long (each transaction ends)."""
        while True:
            mark = await settled_mark(self.db)
            if mark is not None:
                return mark
            log.warning("search index rebuild: writers held the outbox order lock; waiting")

    def _in_step(self) -> None:
        self.health.in_step_at = time.monotonic()
        self.health.in_step_wall = time.time()

    # -- reading -------------------------------------------------------------------------------

    def readiness(self, outbox_mark: int) -> tuple[bool, dict[str, Any]]:
        """Ready to serve searches: the index is open, its updates go through and it holds every
        outbox row up to `outbox_mark` (or held all of them a moment ago: the next poll applies a
        fresh write). Not ready while a repair rebuild runs."""
        health = self.health
        ready_index = self.is_ready()
        applied = self._index.last_applied_id() if ready_index else 0
        recent = (
            health.in_step_at is not None and time.monotonic() - health.in_step_at <= IN_STEP_GRACE_SECONDS
        )
        caught_up = applied >= outbox_mark or recent
        body: dict[str, Any] = {
            "ready": ready_index,
            "appliedId": applied,
            "outboxId": outbox_mark,
            "lag": max(0, outbox_mark - applied),
            "caughtUp": caught_up,
            "rebuilding": health.rebuilding,
            "failing": health.failing,
        }
        if health.last_error:
            body["lastError"] = health.last_error
        return ready_index and caught_up and not health.failing and not health.rebuilding, body

    def alert(self) -> str | None:
        """A sentence for the staff dashboard when the index is not keeping up (None when it is)."""
        health = self.health
        if not health.failing and not health.rebuilding:
            return None
        since = ""
        if health.failing_since is not None:
            since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(health.failing_since)) + " 起"
        doing = "正在后台重建, 完成前新的事项可能搜索不到" if health.rebuilding else "将在后台重建"
        return (
            f"搜索索引更新失败{since}(已失败 {health.failures} 次), {doing}。本服务器的 /readyz 报告未就绪。"
        )

    def in_step_age(self) -> float | None:
        """Seconds since the index last held every outbox row (None: never, in this process)."""
        if self.health.in_step_at is None:
            return None
        return time.monotonic() - self.health.in_step_at

    def is_ready(self) -> bool:
        return self._index is not None and bool(self._index.is_ready())

    def status(self) -> dict[str, Any]:
        if self._index is None:
            return {"documents": 0, "appliedId": 0}
        status = {"documents": self._index.doc_count(), "appliedId": self._index.last_applied_id()}
        if self.last_error:
            status["lastError"] = self.last_error
        return status

    def describe(self) -> str:
        status = self.status()
        return f"{status['documents']} 个事项, 已同步到变更 #{status['appliedId']}"

    def search(self, text: str, limit: int = 10) -> list[Any]:
        if self._index is None:
            return []
        hits = list(self._index.search(text, limit=limit))
        metrics.SEARCHES.inc()
        if not hits:
            metrics.ZERO_RESULT_SEARCHES.inc()
        return hits

    def find(self, text: str, limit: int = 10) -> Any:
        """The hits without highlights (`search_index.index.Answer`; None for no hits): a results
        page asks it for the highlights of the hits it shows."""
        if self._index is None:
            return None
        answer = self._index.find(text, limit=limit)
        metrics.SEARCHES.inc()
        if answer is None:
            metrics.ZERO_RESULT_SEARCHES.inc()
        return answer


async def _on_index(call: Callable[[], Any]) -> Any:
    """Run an index operation on a thread; a failure of the index itself (a damaged or unwritable
    folder) becomes IndexUpdateError. A writer held by another process is not damage: it stays an
    IndexBusyError and the next poll retries."""
    from search_index import IndexBusyError

    try:
        return await asyncio.to_thread(call)
    except (IndexBusyError, ValueError):
        raise
    except Exception as exc:
        raise IndexUpdateError(str(exc)) from exc


def _reporting(documents: list[dict[str, Any]], progress: Progress | None) -> Iterable[dict[str, Any]]:
    total = len(documents)
    for number, document in enumerate(documents, start=1):
        if progress is not None:
            progress("matters", number, total)
        yield document
