"""The changes feed: the outbox (`index_outbox`) read as a public, resumable list of changes.

Every write adds one outbox row in its own transaction (`base.queue`), so the outbox already is
the ordered history partners need: `seq` is the row id, `entity` the kind of record (lower case),
`key` its key, `action` create | update | delete (create = the first row for that record). A
client stores the last `seq` (or the cursor) it processed and asks for what came after.

Cursor stability on PostgreSQL: ids come from a sequence when the row is inserted, but
transactions commit in any order, so a reader could see id 11 before id 10 is committed and never
look back. Every outbox insert therefore takes a shared transaction-level advisory lock
(`base._outbox_in_order`), and a reader of the feed first takes the same lock exclusively: it
waits (briefly, without queueing in front of writers) until no transaction that inserted an
outbox row is still open, so everything below what it reads is committed. SQLite serialises
writers (BEGIN IMMEDIATE), so ids commit in order there.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import Contact, OutboxEvent
from api.rules import RegionTree
from api.services.base import OUTBOX_ORDER_LOCK, Actor, ServiceError
from api.services.permissions import change_entities, may_read_contact

#: How long a reader waits for in-flight writers before answering "try again".
SETTLE_SECONDS = 5.0


class WritesInFlight(ServiceError):
    code = "UNAVAILABLE"


@dataclass(frozen=True)
class ChangeRow:
    seq: int
    entity: str
    key: str
    action: str
    at: dt.datetime


async def settle(session: AsyncSession, wait: float = SETTLE_SECONDS) -> bool:
    """On PostgreSQL: hold the outbox order lock for this (read) transaction, so every outbox row
    with a smaller id than any we read is committed. Polls with a try-lock, so a reader never
    queues in front of writers (no deadlock with writers waiting on each other). False when
    writers kept it for `wait` seconds."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    deadline = asyncio.get_running_loop().time() + wait
    while True:
        got = (
            await session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": OUTBOX_ORDER_LOCK})
        ).scalar()
        if got:
            return True
        if asyncio.get_running_loop().time() >= deadline:
            return False
        await asyncio.sleep(0.02)


async def settled_mark(db: Any, wait: float = SETTLE_SECONDS) -> int | None:
    """The newest outbox id below which every row is committed, read in a short transaction of its
    own (the order lock is held only for that one query, never while the caller goes on to read
    records); None when writers kept the lock for `wait` seconds. For followers that remember "up
    to id N" (the search index, the catalog snapshot): a plain `max(id)` on PostgreSQL may pass a
    smaller id whose transaction commits later, and `id > N` would then never see it."""
    async with db.read() as session:
        if not await settle(session, wait):
            return None
        return await latest_seq(session)


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


async def _actions(session: AsyncSession, events: list[OutboxEvent]) -> dict[int, str]:
    """create for the first outbox row of a record, delete for a deletion, update otherwise."""
    keys = {(e.entity, e.entity_key) for e in events if e.op != "delete"}
    first: dict[tuple[str, str], int] = {}
    entities = {entity for entity, _ in keys}
    for entity in entities:
        names = sorted(k for e, k in keys if e == entity)
        for start in range(0, len(names), 500):
            rows = await session.execute(
                select(OutboxEvent.entity_key, func.min(OutboxEvent.id))
                .where(OutboxEvent.entity == entity, OutboxEvent.entity_key.in_(names[start : start + 500]))
                .group_by(OutboxEvent.entity_key)
            )
            first.update({(entity, key): int(seq) for key, seq in rows.all()})
    actions = {}
    for e in events:
        if e.op == "delete":
            actions[e.id] = "delete"
        else:
            actions[e.id] = "create" if first.get((e.entity, e.entity_key)) == e.id else "update"
    return actions


async def _readable_contacts(
    session: AsyncSession, actor: Actor | None, tree: RegionTree, home_city: str, keys: Iterable[str]
) -> set[str]:
    wanted = sorted(set(keys))
    if not wanted:
        return set()
    rows = await session.execute(select(Contact.key, Contact.region_code).where(Contact.key.in_(wanted)))
    return {
        key  # never None: matched by `in_(wanted)`
        for key, region in rows.all()
        if key is not None and may_read_contact(actor, tree, home_city, region)
    }


async def read_changes(
    session: AsyncSession,
    actor: Actor | None,
    tree: RegionTree,
    home_city: str,
    after: int,
    size: int,
    entities: Iterable[str] | None = None,
    keep: Callable[[ChangeRow], bool] | None = None,
    wait: float = SETTLE_SECONDS,
) -> tuple[list[ChangeRow], bool]:
    """Up to `size` changes after `after` that `actor` may see (optionally only these `entities`,
    and only those `keep(row)` accepts), in seq order, and whether more follow. Raises
    UNAVAILABLE when writers held the order lock too long (the client simply retries)."""
    if not await settle(session, wait):
        raise WritesInFlight("正在写入变更, 请稍后重试 (changes are being written; retry shortly)")
    visible = change_entities(actor)
    if entities is not None:
        visible = visible & frozenset(entities)
    found: list[ChangeRow] = []
    since = after
    batch = max(size + 1, 50)
    while len(found) <= size:
        events = list(
            (
                await session.execute(
                    select(OutboxEvent)
                    .where(OutboxEvent.id > since, OutboxEvent.entity.in_(sorted(visible)))
                    .order_by(OutboxEvent.id)
                    .limit(batch)
                )
            ).scalars()
        )
        if not events:
            break
        actions = await _actions(session, events)
        contacts = await _readable_contacts(
            session, actor, tree, home_city, (e.entity_key for e in events if e.entity == "contact")
        )
        for e in events:
            if e.entity == "contact" and e.entity_key not in contacts:
                continue
            row = ChangeRow(seq=e.id, entity=e.entity, key=e.entity_key, action=actions[e.id], at=_utc(e.at))
            if keep is not None and not keep(row):
                continue
            found.append(row)
            if len(found) > size:
                break
        since = events[-1].id
        if len(events) < batch:
            break
    return found[:size], len(found) > size


async def count_changes(session: AsyncSession, actor: Actor | None, tree: RegionTree, home_city: str) -> int:
    """How many changes `actor` may see in all (contact changes only of the contacts it may read)."""
    visible = change_entities(actor)
    count = int(
        (
            await session.execute(
                select(func.count()).where(OutboxEvent.entity.in_(sorted(visible - {"contact"})))
            )
        ).scalar_one()
    )
    if "contact" in visible:
        rows = (await session.execute(select(Contact.key, Contact.region_code))).all()
        keys = sorted(key for key, region in rows if key and may_read_contact(actor, tree, home_city, region))
        for start in range(0, len(keys), 500):
            count += int(
                (
                    await session.execute(
                        select(func.count()).where(
                            OutboxEvent.entity == "contact",
                            OutboxEvent.entity_key.in_(keys[start : start + 500]),
                        )
                    )
                ).scalar_one()
            )
    return count


async def latest_seq(session: AsyncSession) -> int:
    return int((await session.execute(select(func.max(OutboxEvent.id)))).scalar_one() or 0)


async def recent_changes(
    session: AsyncSession,
    actor: Actor | None,
    tree: RegionTree,
    home_city: str,
    limit: int,
    keep: Callable[[ChangeRow], bool] | None = None,
    scan: int = 5000,
) -> list[ChangeRow]:
    """The newest `limit` changes `actor` may see that `keep(row)` accepts, newest first, looking
    at most `scan` outbox rows back (for feeds: readers keep what they already fetched)."""
    visible = sorted(change_entities(actor))
    events = list(
        (
            await session.execute(
                select(OutboxEvent)
                .where(OutboxEvent.entity.in_(visible))
                .order_by(OutboxEvent.id.desc())
                .limit(scan)
            )
        ).scalars()
    )
    actions = await _actions(session, events)
    contacts = await _readable_contacts(
        session, actor, tree, home_city, (e.entity_key for e in events if e.entity == "contact")
    )
    found: list[ChangeRow] = []
    for e in events:
        if e.entity == "contact" and e.entity_key not in contacts:
            continue
        row = ChangeRow(seq=e.id, entity=e.entity, key=e.entity_key, action=actions[e.id], at=_utc(e.at))
        if keep is not None and not keep(row):
            continue
        found.append(row)
        if len(found) >= limit:
            break
    return found
