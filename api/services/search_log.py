"""The search log (issue 16): what citizens asked, what they were shown, what they opened.

Real portals get better every week by reading their failed searches. Each public search is
recorded with its question (personal numbers masked), the matters shown on its first page, how
many were found, and the first result opened from it; never who asked (no address, session or
home region). Staff read the frequent questions that found nothing or made nobody click
(:func:`search_gaps`), and with one click say which matter a question means (:func:`teach`):
the question becomes a keyword of that matter through ``save_matter`` -- permitted, audited,
queued in the outbox -- so every instance's index has it within its one-second outbox poll.

Writes from the public pages are buffered in memory (:class:`SearchLog`) and written in one
transaction at most every second: a results page never waits for the database. A process that
stops may lose its last second of events; nothing else depends on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import re
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, case, delete, func, insert, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import SearchEvent
from api.services.base import BadInput, FieldError, NotFound, ServiceContext, now
from api.services.matters import load_matter, upsert_matter
from api.services.snapshots import matter_snapshot, published_guide
from search_index import sanitize_query

log = logging.getLogger("tongban.search_log")

MAX_SHOWN = 10
FLUSH_SECONDS = 1.0
KEEP_DAYS = 180  # older events are deleted (at most once an hour per process)
PRUNE_SECONDS = 3600.0
#: rows per INSERT of a flush: a quarter of the batch, within these bounds. 1,000 rows hold the
#: event loop ~11 ms, which at a few connections (pages ~3 ms) lands in the p99; a busy worker's
#: batch still goes in four statements (each waits a turn of the saturated loop: more fell behind)
INSERT_ROWS = 1_000
INSERT_ROWS_MIN = 200
INSERT_STATEMENTS = 4
SEARCH_EVENTS = cast(Table, SearchEvent.__table__)  # the table: its INSERT skips the ORM
MAX_BUFFER = 5_000  # events kept while the database does not answer; older ones are dropped
#: a search's token (`new_token`): 24 hex digits; 16 (random only) before 2026-12-03, still in
#: links people keep
TOKEN_RE = re.compile(r"^[0-9a-f]{16}(?:[0-9a-f]{8})?$")
_KEYWORD_MAX = 40

# Long digit runs are identity card, phone, social security or bank numbers: never stored.
_NUMBER = re.compile(r"[0-9０-９]{5,}[0-9０-９xX]*")
_EMAIL = re.compile(r"\S+@\S+")


def new_token() -> str:
    """A search's token, in its result links (`s=`): the second it was made, then 8 random bytes
    (24 hex digits). Time first, as in a UUIDv7, so the log's unique index on it grows at its end:
    random tokens put each new row on another page of the index (with the index on the question,
    since dropped: ~9 page reads and writes per logged search under load, strace of a served
    worker; a log of months does it on pages long out of the cache). Guessing another visitor's
    token still means guessing 64 random bits."""
    return f"{int(time.time()) & 0xFFFFFFFF:08x}{secrets.token_hex(8)}"


def scrub_query(text: str) -> str:
    """The question as stored: sanitised like a search, numbers of 5+ digits and e-mail
    addresses replaced by ＊ (a citizen may type an ID or phone number into the box)."""
    clean = sanitize_query(text)
    clean = _EMAIL.sub("＊", clean)
    return _NUMBER.sub("＊", clean).strip()


@dataclass
class _Pending:
    searches: list[dict[str, Any]] = field(default_factory=list)
    clicks: list[tuple[str, str]] = field(default_factory=list)


class SearchLog:
    """Buffers search and click events of one process and writes them in batches."""

    def __init__(self, db: Any) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._pending = _Pending()
        self._flushing: asyncio.Task[None] | None = None
        # One flush writes at a time, in the order they took their events: a click is written
        # after the search it belongs to (a direct `flush()`, e.g. at close or in a test, while the
        # scheduled one is still writing, once wrote its newer events first and lost the click)
        self._writing = asyncio.Lock()
        self._last_flush = 0.0
        self._last_prune = -PRUNE_SECONDS

    def search(self, text: str, shown: Sequence[str], found: int) -> str | None:
        """Record a search; its token (for the result links), or None when there was no question."""
        query = scrub_query(text)
        if not query:
            return None
        token = new_token()
        event = {
            "token": token,
            "at": now(),
            "query": query,
            "shown": list(shown[:MAX_SHOWN]),
            "found": int(found),
        }
        with self._lock:
            if len(self._pending.searches) < MAX_BUFFER:
                self._pending.searches.append(event)
        self._schedule()
        return token

    def click(self, token: object, code: str) -> None:
        """Record that the result ``code`` of search ``token`` was opened (the first click counts)."""
        if not isinstance(token, str) or not TOKEN_RE.match(token):
            return
        with self._lock:
            if len(self._pending.clicks) < MAX_BUFFER:
                self._pending.clicks.append((token, code[:40]))
        self._schedule()

    def _schedule(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a synchronous caller): the next call in a loop flushes
        if self._flushing is not None and not self._flushing.done():
            return
        delay = max(0.0, self._last_flush + FLUSH_SECONDS - loop.time())
        self._flushing = loop.create_task(self._flush_later(delay))

    async def _flush_later(self, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        try:
            await self.flush()
        except Exception:  # noqa: BLE001 - the log never breaks a page; events stay buffered
            log.warning("search log not written; will retry", exc_info=True)
        finally:
            self._last_flush = asyncio.get_running_loop().time()

    async def flush(self) -> None:
        """Write everything buffered (searches first, then the clicks on them)."""
        async with self._writing:
            await self._flush_pending()

    async def _flush_pending(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, _Pending()
        if not pending.searches and not pending.clicks:
            return
        try:
            async with self._db.write(notify_caches=False) as session:  # nothing cached shows events
                await write_events(session, pending.searches, pending.clicks)
                loop_time = asyncio.get_running_loop().time()
                if loop_time - self._last_prune >= PRUNE_SECONDS:
                    self._last_prune = loop_time
                    await prune(session)
        except Exception:
            with self._lock:  # put them back in front, within the bound
                self._pending.searches[:0] = pending.searches[: MAX_BUFFER - len(self._pending.searches)]
                self._pending.clicks[:0] = pending.clicks[: MAX_BUFFER - len(self._pending.clicks)]
            raise

    async def close(self) -> None:
        if self._flushing is not None:
            with contextlib.suppress(Exception):
                await self._flushing
        with contextlib.suppress(Exception):
            await self.flush()


_logs_lock = threading.Lock()


def log_for(app_state: Any, db: Any) -> SearchLog:
    """The process's search log for an app (kept on Starlette's ``app.state``)."""
    found = getattr(app_state, "search_log", None)
    if found is None:
        with _logs_lock:
            found = getattr(app_state, "search_log", None)
            if found is None:
                found = SearchLog(db)
                app_state.search_log = found
    return found


def insert_rows(batch: int) -> int:
    """Rows per INSERT for a batch of `batch` searches (see INSERT_ROWS)."""
    return min(INSERT_ROWS, max(INSERT_ROWS_MIN, -(-batch // INSERT_STATEMENTS)))


async def write_events(
    session: AsyncSession, searches: list[dict[str, Any]], clicks: list[tuple[str, str]]
) -> None:
    """Insert searches; mark each click on its search when the code was shown and none was recorded."""
    # bulk Core INSERTs, no ORM: a busy results page logs ~1,000 searches a second, and an object
    # (and a statement) each made the log fall behind; the ORM's bulk path still held the event
    # loop 15 - 17 ms per 1,000 rows, the table's insert 11 ms. In slices (`insert_rows`), so the
    # event loop serves pages between them.
    connection = await session.connection()
    rows = insert_rows(len(searches))
    for start in range(0, len(searches), rows):
        await connection.execute(
            insert(SEARCH_EVENTS), [dict(event) for event in searches[start : start + rows]]
        )
    for token, code in clicks:
        row = (
            await session.execute(select(SearchEvent).where(SearchEvent.token == token))
        ).scalar_one_or_none()
        if row is None or row.clicked_code is not None:
            continue
        shown = list(row.shown or [])
        rank = shown.index(code) + 1 if code in shown else None
        if rank is None:
            continue  # a link someone made up: not a result of that search
        await session.execute(
            update(SearchEvent)
            .where(SearchEvent.id == row.id, SearchEvent.clicked_code.is_(None))
            .values(clicked_code=code, clicked_rank=rank)
        )


async def prune(session: AsyncSession, days: int = KEEP_DAYS) -> int:
    """Delete the events older than ``days`` days; how many went."""
    result = await session.execute(delete(SearchEvent).where(SearchEvent.at < _since(days)))
    assert isinstance(result, CursorResult)  # what a DELETE gives (it has the row count)
    return int(result.rowcount or 0)


# Reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gap:
    """A question asked often that found nothing or made nobody open a result."""

    query: str
    searches: int
    no_result: int
    no_click: int
    shown: list[str]  # what the latest search of it showed (first three)


@dataclass(frozen=True)
class ClickShare:
    searches: int
    clicked_top3: int

    @property
    def share(self) -> float | None:
        return self.clicked_top3 / self.searches if self.searches else None


def _since(days: int) -> dt.datetime:
    return now() - dt.timedelta(days=days)


async def click_share(session: AsyncSession, days: int = 30) -> ClickShare:
    """Of the searches in the last ``days`` days, how many had a result in the top 3 opened."""
    since = _since(days)
    total = (await session.execute(select(func.count()).where(SearchEvent.at >= since))).scalar_one()
    top3 = (
        await session.execute(
            select(func.count()).where(SearchEvent.at >= since, SearchEvent.clicked_rank.between(1, 3))
        )
    ).scalar_one()
    return ClickShare(int(total), int(top3))


async def search_gaps(session: AsyncSession, days: int = 30, limit: int = 50) -> list[Gap]:
    """Frequent questions of the last ``days`` days with no result or no click, most failures first."""
    since = _since(days)
    no_result = func.sum(case((SearchEvent.found == 0, 1), else_=0))
    no_click = func.sum(case(((SearchEvent.found > 0) & SearchEvent.clicked_code.is_(None), 1), else_=0))
    rows = (
        await session.execute(
            select(SearchEvent.query, func.count(), no_result, no_click, func.max(SearchEvent.id))
            .where(SearchEvent.at >= since)
            .group_by(SearchEvent.query)
            .having((no_result + no_click) > 0)
            .order_by((no_result + no_click).desc(), func.count().desc(), SearchEvent.query)
            .limit(limit)
        )
    ).all()
    latest_ids = [r[4] for r in rows]
    shown_by_id: dict[int, list[str]] = {}
    if latest_ids:
        for event_id, shown in (
            await session.execute(
                select(SearchEvent.id, SearchEvent.shown).where(SearchEvent.id.in_(latest_ids))
            )
        ).all():
            shown_by_id[event_id] = list(shown or [])[:3]
    return [
        Gap(
            query=r[0],
            searches=int(r[1]),
            no_result=int(r[2] or 0),
            no_click=int(r[3] or 0),
            shown=shown_by_id.get(r[4], []),
        )
        for r in rows
    ]


# Teaching --------------------------------------------------------------------------------


async def teach(session: AsyncSession, ctx: ServiceContext, question: Any, matter_code: Any) -> str:
    """ "This question means matter X": add the question as a keyword of the matter.

    Goes through ``upsert_matter`` (the matters' one write path: permission, validation, audit,
    outbox), so the index of every instance has it after its next outbox poll. Returns the
    keyword added; nothing changes when the matter already has it.
    """
    keyword = scrub_query(question if isinstance(question, str) else "")
    errors: list[FieldError] = []
    if not keyword:
        errors.append(FieldError("question", "请填写群众的提问"))
    elif len(keyword) > _KEYWORD_MAX:
        errors.append(FieldError("question", f"提问过长, 作为关键词最多{_KEYWORD_MAX}字, 请删去无关的字"))
    code = matter_code.strip() if isinstance(matter_code, str) else ""
    if not code:
        errors.append(FieldError("matter", "请选择或填写事项编码"))
    if errors:
        raise BadInput("无法添加关键词", errors)
    matter = await load_matter(session, code)
    if matter is None:
        raise NotFound(
            f"没有编码为“{code[:40]}”的事项", [FieldError("matter", f"没有编码为“{code[:40]}”的事项")]
        )
    raw = matter_snapshot(matter, published_guide(matter))
    if keyword in raw["keywords"]:
        return keyword
    raw["keywords"] = [*raw["keywords"], keyword]
    raw.pop("guide", None)  # the guide is not touched (absent = unchanged)
    await upsert_matter(session, ctx, raw, version=matter.version)
    return keyword
