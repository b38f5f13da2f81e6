"""What every write shares: who acts, the coded errors, the audit entry and the outbox row.

Adapters (GraphQL, staff forms, CLI import) build an `Actor` and a `ServiceContext` and call a
service function; the service validates, checks permission, writes, audits and queues the
derived-data update, in that order, inside the caller's one transaction.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from api.enums import Role
from api.models import ChangeLog, OutboxEvent
from api.rules import RegionTree

SHANGHAI = ZoneInfo("Asia/Shanghai")


def today() -> dt.date:
    """Calendar dates are dates in Asia/Shanghai (CONTRACT.md §5)."""
    return dt.datetime.now(SHANGHAI).date()


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Actor:
    """Who is acting and through which door (`via`: cli, import, graphql, form, public)."""

    name: str
    role: Role
    region_code: str | None
    via: str
    user_id: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


SYSTEM = Actor(name="system", role=Role.ADMIN, region_code=None, via="cli")


@dataclass(frozen=True)
class ServiceContext:
    """Everything a service needs besides the session: the actor, the region tree and the home city."""

    actor: Actor
    tree: RegionTree
    home_city: str
    today: dt.date = field(default_factory=today)

    @property
    def local_counties(self) -> tuple[str, ...]:
        return tuple(self.tree.local_counties(self.home_city))


@dataclass(frozen=True)
class FieldError:
    """One thing wrong with one field; `section`/`row`/`key` locate it inside an import file."""

    field: str
    message: str
    section: str | None = None
    row: int | None = None
    key: str | None = None

    def describe(self) -> str:
        where = []
        if self.section:
            where.append(self.section)
        if self.row is not None:
            where.append(f"第{self.row}条")
        if self.key:
            where.append(f"({self.key})")
        prefix = " ".join(where)
        return (
            f"{prefix} 字段 {self.field}: {self.message}" if prefix else f"字段 {self.field}: {self.message}"
        )


class ServiceError(Exception):
    """An expected failure with a stable code (it becomes GraphQL `extensions.code`)."""

    code = "INTERNAL"

    def __init__(self, message: str, fields: Iterable[FieldError] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.fields = list(fields)

    def describe(self) -> str:
        if not self.fields:
            return self.message
        return self.message + "\n" + "\n".join("  - " + f.describe() for f in self.fields)


class BadInput(ServiceError):
    code = "BAD_INPUT"


class UnknownRegion(ServiceError):
    code = "UNKNOWN_REGION"


class NotFound(ServiceError):
    code = "NOT_FOUND"


class Forbidden(ServiceError):
    code = "FORBIDDEN"


class Unauthenticated(ServiceError):
    code = "UNAUTHENTICATED"


class Conflict(ServiceError):
    """A stale version: somebody saved first. `current` is their state, so nothing is lost."""

    code = "CONFLICT"

    def __init__(self, message: str, current: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.current = current


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return getattr(value, "value", value)


async def audit(
    session: AsyncSession,
    actor: Actor,
    entity: str,
    key: str | Deferred,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    *,
    reason: str | None = None,
) -> None:
    """One change-log entry per change: who, when, through which door, before and after, and the
    reason where a rule asks for one (an admin correcting an agreement's registration date)."""
    row = {
        "actor_name": actor.name,
        "via": actor.via,
        "entity": entity,
        "entity_key": key,
        "action": action,
        "before": _jsonable(before) if before is not None else None,
        "after": _jsonable(after) if after is not None else None,
        "reason": reason,
    }
    bulk = session.info.get(BULK)
    if bulk is not None:
        # serialised now, while an import is still deciding (before its write lock): the JSON of a
        # matter with its guide was a third of the lock's time
        for side in ("before", "after"):
            row[side] = None if row[side] is None else json.dumps(row[side], ensure_ascii=False)
        bulk.audits.append(row)
    else:
        session.add(ChangeLog(**row))


def queue(session: AsyncSession, entity: str, key: str | Deferred, op: str = "upsert") -> None:
    """An outbox row in the same transaction as the change: the search index and caches follow it."""
    bulk = session.info.get(BULK)
    if bulk is not None:
        bulk.outbox.append({"entity": entity, "entity_key": key, "op": op})
    else:
        session.add(OutboxEvent(entity=entity, entity_key=key, op=op))


async def save_tail(
    session: AsyncSession,
    actor: Actor,
    record: Any,
    entity: str,
    before: dict[str, Any] | None,
    after: dict[str, Any],
    *,
    key: Callable[[Any], str],
    outbox: tuple[str, Callable[[Any], str]] | None = None,
    versioned: bool = True,
    flush: bool = True,
    reason: str | None = None,
) -> bool:
    """The end of every record's save, once: `before` is the record's snapshot as loaded (None for
    a new record), `after` its snapshot with the change applied. Nothing changed: nothing is
    written (no version, no audit, no outbox row) and the answer is False. Otherwise the version
    goes up (an update of a versioned record), the row is flushed (so a new record has its id for
    `key`), one change-log entry is written and, with `outbox=(entity, key)`, the outbox row that
    the search index, caches, feed and webhooks follow; the answer is True.

    `flush=False` where the caller writes later or needs no id. In a bulk import (`Bulk`) nothing is
    flushed per record: the keys that need an id are read when `write_bulk` has flushed them all."""
    if before == after:
        return False
    if versioned and before is not None:
        record.version = (record.version or 1) + 1
    bulk = session.info.get(BULK)
    if bulk is not None:
        await audit(
            session, actor, entity, Deferred(key, record), action_of(before), before, after, reason=reason
        )
        if outbox is not None:
            queue(session, outbox[0], Deferred(outbox[1], record))
        return True
    if flush:
        await session.flush()
    await audit(session, actor, entity, key(record), action_of(before), before, after, reason=reason)
    if outbox is not None:
        queue_entity, queue_key = outbox
        queue(session, queue_entity, queue_key(record))
    return True


def action_of(before: dict[str, Any] | None) -> str:
    return "create" if before is None else "update"


@dataclass(frozen=True)
class Deferred:
    """A change-log or outbox key read once the bulk import's rows are flushed (a new record's id)."""

    read: Callable[[Any], str]
    record: Any

    def __call__(self) -> str:
        return self.read(self.record)


#: `session.info` key of a `Bulk` while an import writes in bulk
BULK = "tongban.bulk"


@dataclass
class Bulk:
    """The rows a bulk import collects instead of adding them one by one: written by `write_bulk` in
    a few executemany statements. (Through the ORM each row was its own INSERT … RETURNING: SQLite
    cannot batch those, and 6,000 matters held the write lock for over a minute.) Same rows, same
    rules: the save functions decide every row exactly as for a single save."""

    audits: list[dict[str, Any]] = field(default_factory=list)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    new_matters: list[Any] = field(default_factory=list)  # transient `Matter`s with their guides
    versions: dict[str, int] = field(default_factory=dict)  # existing matters: code → version as loaded


#: `session.info` key: records a bulk import loaded by key, {model: {key: record or None}}; the
#: services' loaders answer from it (`preloaded`), so 5,000 rows are not 5,000 queries
PRELOADED_ROWS = "tongban.preloaded_rows"


class _NotLoaded(Enum):
    NOT_LOADED = "not loaded"


#: `preloaded`'s answer for a key the import did not load (the loader queries as usual). An enum
#: member, so `x is NOT_LOADED` narrows the type for mypy.
NOT_LOADED: Final = _NotLoaded.NOT_LOADED

_Record = TypeVar("_Record")


def preloaded(session: AsyncSession, model: type[_Record], key: Any) -> _Record | None | _NotLoaded:
    """The record a bulk import loaded under `key` (None: loaded and not there), or `NOT_LOADED`."""
    found: _Record | None | _NotLoaded = (
        session.info.get(PRELOADED_ROWS, {}).get(model, {}).get(key, NOT_LOADED)
    )
    return found


def remember(session: AsyncSession, model: type, key: Any, record: Any) -> None:
    """A record a bulk import made or loaded: a later row with the same key finds it."""
    cache = session.info.get(PRELOADED_ROWS)
    if cache is not None:
        cache.setdefault(model, {})[key] = record


async def write_bulk(session: AsyncSession, bulk: Bulk) -> None:
    """Insert what `bulk` collected (new matters and their guides, then change log and outbox rows,
    in the order they were made) and flush the ORM's updates; empties `bulk`. The matter lists of
    new halls and agreements go into their link tables with one executemany each (through the
    ORM's unit of work, 80,000 links of 1,500 new halls were most of the flush)."""
    from sqlalchemy import JSON, Table, Text, bindparam, cast, insert, inspect, select

    from api.models import Guide, Matter

    def columns(model: Any, obj: Any) -> dict[str, Any]:
        state = obj.__dict__
        return {a.key: state[a.key] for a in inspect(model).column_attrs if a.key in state and a.key != "id"}

    if bulk.new_matters:
        await session.execute(insert(Matter), [columns(Matter, m) for m in bulk.new_matters])
        codes = [m.code for m in bulk.new_matters]
        ids: dict[str, int] = {}
        for start in range(0, len(codes), 500):
            query = select(Matter.code, Matter.id).where(Matter.code.in_(codes[start : start + 500]))
            ids.update((code, id_) for code, id_ in (await session.execute(query)).all())
        guides = [{**columns(Guide, g), "matter_id": ids[m.code]} for m in bulk.new_matters for g in m.guides]
        if guides:
            await session.execute(insert(Guide), guides)
    links = await session.run_sync(_take_new_links)
    await session.flush()
    for table, rows in _link_rows(links).items():  # the new records have their ids now
        await session.execute(insert(table), rows)
    for rows in (bulk.audits, bulk.outbox):  # keys that needed an id: the flush gave them one
        for row in rows:
            if isinstance(row["entity_key"], Deferred):
                row["entity_key"] = row["entity_key"]()
    if bulk.audits:
        table = ChangeLog.__table__
        assert isinstance(table, Table)  # a declared model's table (typed as any FromClause)
        # JSON text already: stored as it is (SQLite keeps JSON as text; PostgreSQL casts it)
        postgres = session.get_bind().dialect.name == "postgresql"
        as_text = {
            side: cast(bindparam(side, type_=Text()), JSON) if postgres else bindparam(side, type_=Text())
            for side in ("before", "after")
        }
        statement = insert(table).values(
            {**{c: bindparam(c) for c in bulk.audits[0] if c not in as_text}, **as_text}
        )
        await session.execute(statement, bulk.audits)
    if bulk.outbox:
        await session.run_sync(hold_outbox_order_lock)  # the changes feed's order, as for ORM rows
        await session.execute(insert(OutboxEvent), bulk.outbox)
    bulk.audits, bulk.outbox, bulk.new_matters = [], [], []


def _take_new_links(session: Session) -> list[tuple[Any, str, Any, list[Any]]]:
    """The matter lists of the new halls and agreements, taken out of the ORM's unit of work (set
    as already stored, so the flush writes no link rows; `write_bulk` inserts them after it)."""
    from sqlalchemy.orm.attributes import set_committed_value

    from api.models import Agreement, Hall, agreement_matters, hall_matters

    linked = ((Hall, hall_matters, "hall_id"), (Agreement, agreement_matters, "agreement_id"))
    taken = []
    for record in list(session.new):
        for model, table, column in linked:
            if isinstance(record, model) and "matters" in record.__dict__:
                matters = list(record.__dict__["matters"])
                set_committed_value(record, "matters", matters)
                taken.append((table, column, record, matters))
    return taken


def _link_rows(links: list[tuple[Any, str, Any, list[Any]]]) -> dict[Any, list[dict[str, Any]]]:
    rows: dict[Any, list[dict[str, Any]]] = {}
    for table, column, record, matters in links:
        if matters:
            rows.setdefault(table, []).extend({column: record.id, "matter_id": m.id} for m in matters)
    return rows


#: A PostgreSQL advisory lock key ("tong"): every transaction that inserts an outbox row holds it
#: shared until it ends; readers of the changes feed take it exclusively (api.services.changes).
OUTBOX_ORDER_LOCK = 0x746F6E67


_LOCKED = "tongban_outbox_order_locked"


@event.listens_for(Session, "before_flush")
def _outbox_in_order(session: Session, _context: Any, _instances: Any) -> None:
    """Before a transaction's first outbox row gets its id: on PostgreSQL, hold the order lock
    (shared) until the transaction ends. Once per transaction, whatever the number of rows."""
    if any(isinstance(obj, OutboxEvent) for obj in session.new):
        hold_outbox_order_lock(session)


def hold_outbox_order_lock(session: Session) -> None:
    """The order lock for outbox rows not added through the ORM (`write_bulk`), and for the ORM's."""
    if session.info.get(_LOCKED):
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": OUTBOX_ORDER_LOCK})
    session.info[_LOCKED] = True


@event.listens_for(Session, "after_transaction_end")
def _outbox_lock_released(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the outermost transaction ended: its xact lock is gone
        session.info.pop(_LOCKED, None)
