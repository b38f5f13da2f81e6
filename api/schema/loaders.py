"""Per-request DataLoaders: a nested query costs a fixed number of SQL statements, whatever its size.

Each loader batches every key asked for in one tick of the event loop into one `IN (…)` query, and
each batch opens its own short read session: sibling resolvers run concurrently, and one shared
`AsyncSession` would fail on PostgreSQL ("another operation is in progress"). Loaders live for one
request (the cache must never serve another request's or a pre-mutation state).

Rows are read through the Core tables, not the ORM: plain immutable `Row`s that outlive their
session (ORM instances are expired when the read session rolls back).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

from sqlalchemy import or_, select
from strawberry.dataloader import DataLoader

from api.db import Database
from api.enums import GuideStatus
from api.models import (
    Agreement,
    Guide,
    Hall,
    Matter,
    RegionRelation,
    agreement_matters,
    hall_matters,
)

CHUNK = 1000
"""Keys per statement: far under SQLite's bound-parameter limit."""

AGREEMENTS = Agreement.__table__
MATTERS = Matter.__table__
HALLS = Hall.__table__
GUIDES = Guide.__table__
RELATIONS = RegionRelation.__table__


def _chunks(keys: Sequence[Any]) -> Iterable[list[Any]]:
    unique = list(dict.fromkeys(keys))
    for start in range(0, len(unique), CHUNK):
        yield unique[start : start + CHUNK]


class Loaders:
    """The loaders of one request; `reset()` after a mutation so later reads see the new state."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.reset()

    def reset(self) -> None:
        self.agreement_by_id: DataLoader[int, Any | None] = DataLoader(self._agreements_by_id)
        self.agreements_by_region: DataLoader[str, list[Any]] = DataLoader(self._agreements_by_region)
        self.matter_by_code: DataLoader[str, Any | None] = DataLoader(self._matters_by_code)
        self.matter_by_id: DataLoader[int, Any | None] = DataLoader(self._matters_by_id)
        self.agreement_matters: DataLoader[int, list[Any]] = DataLoader(self._agreement_matters)
        self.hall_by_id: DataLoader[int, Any | None] = DataLoader(self._halls_by_id)
        self.hall_matters: DataLoader[int, list[Any]] = DataLoader(self._hall_matters)
        self.guide_by_matter: DataLoader[int, Any | None] = DataLoader(self._guides_by_matter)
        self.relations_by_region: DataLoader[str, list[Any]] = DataLoader(self._relations_by_region)

    async def _rows(self, statements: Iterable[Any]) -> list[Any]:
        rows: list[Any] = []
        async with self.db.read() as session:
            for statement in statements:
                rows.extend((await session.execute(statement)).all())
        return rows

    async def _by_column(self, table: Any, column: str, keys: Sequence[Hashable]) -> list[Any | None]:
        col = table.c[column]
        rows = await self._rows(select(table).where(col.in_(chunk)) for chunk in _chunks(keys))
        found = {getattr(row, column): row for row in rows}
        return [found.get(key) for key in keys]

    async def _agreements_by_id(self, keys: Sequence[int]) -> list[Any | None]:
        return await self._by_column(AGREEMENTS, "id", keys)

    async def _matters_by_code(self, keys: Sequence[str]) -> list[Any | None]:
        return await self._by_column(MATTERS, "code", keys)

    async def _matters_by_id(self, keys: Sequence[int]) -> list[Any | None]:
        return await self._by_column(MATTERS, "id", keys)

    async def _halls_by_id(self, keys: Sequence[int]) -> list[Any | None]:
        return await self._by_column(HALLS, "id", keys)

    async def _agreements_by_region(self, keys: Sequence[str]) -> list[list[Any]]:
        """Agreements signed by the region itself, on either side (partner or local signatory)."""
        rows = await self._rows(
            select(AGREEMENTS)
            .where(or_(AGREEMENTS.c.partner_code.in_(chunk), AGREEMENTS.c.local_code.in_(chunk)))
            .order_by(AGREEMENTS.c.signed_on, AGREEMENTS.c.id)
            for chunk in _chunks(keys)
        )
        grouped: dict[str, dict[int, Any]] = defaultdict(dict)
        for row in rows:
            grouped[row.partner_code][row.id] = row
            grouped[row.local_code][row.id] = row
        return [list(grouped.get(key, {}).values()) for key in keys]

    async def _members(self, link: Any, owner: str, keys: Sequence[int]) -> list[list[Any]]:
        owner_col = link.c[owner]
        rows = await self._rows(
            select(owner_col.label("owner_id"), MATTERS)
            .select_from(link.join(MATTERS, MATTERS.c.id == link.c.matter_id))
            .where(owner_col.in_(chunk), MATTERS.c.published.is_(True))
            .order_by(owner_col, MATTERS.c.code)
            for chunk in _chunks(keys)
        )
        grouped: dict[int, list[Any]] = defaultdict(list)
        for row in rows:
            grouped[row.owner_id].append(row)
        return [grouped.get(key, []) for key in keys]

    async def _agreement_matters(self, keys: Sequence[int]) -> list[list[Any]]:
        return await self._members(agreement_matters, "agreement_id", keys)

    async def _hall_matters(self, keys: Sequence[int]) -> list[list[Any]]:
        return await self._members(hall_matters, "hall_id", keys)

    async def _guides_by_matter(self, keys: Sequence[int]) -> list[Any | None]:
        """The latest published guide of each matter (the one every county uses)."""
        rows = await self._rows(
            select(GUIDES)
            .where(GUIDES.c.matter_id.in_(chunk), GUIDES.c.status == GuideStatus.PUBLISHED)
            .order_by(GUIDES.c.matter_id, GUIDES.c.version)
            for chunk in _chunks(keys)
        )
        latest = {row.matter_id: row for row in rows}
        return [latest.get(key) for key in keys]

    async def _relations_by_region(self, keys: Sequence[str]) -> list[list[Any]]:
        rows = await self._rows(
            select(RELATIONS)
            .where(or_(RELATIONS.c.partner_code.in_(chunk), RELATIONS.c.local_code.in_(chunk)))
            .order_by(RELATIONS.c.id)
            for chunk in _chunks(keys)
        )
        grouped: dict[str, dict[int, Any]] = defaultdict(dict)
        for row in rows:
            grouped[row.partner_code][row.id] = row
            grouped[row.local_code][row.id] = row
        return [list(grouped.get(key, {}).values()) for key in keys]
