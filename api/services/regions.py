"""The bundled administrative divisions: loading them (idempotent) and reading them as a RegionTree."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.enums import RegionLevel
from api.models import Region
from api.rules import Level, Place, RegionTree

# The stored level (an enum) as the rules spell it (a literal): the same four words.
PLACE_LEVEL: dict[RegionLevel, Level] = {
    RegionLevel.PROVINCE: "PROVINCE",
    RegionLevel.CITY: "CITY",
    RegionLevel.COUNTY: "COUNTY",
    RegionLevel.TOWN: "TOWN",
}


async def load_regions(session: AsyncSession, rows: Iterable[dict[str, str | None]]) -> int:
    """Insert the regions not yet present, parents before children; returns how many were added.

    Existing rows are left alone: their partner indices are staff data, not bundled data.
    """
    existing = set((await session.execute(select(Region.code))).scalars())
    new = [dict(r) for r in rows if r["code"] not in existing]
    order = {"PROVINCE": 0, "CITY": 1, "COUNTY": 2, "TOWN": 3}
    new.sort(key=lambda r: (order[str(r["level"])], str(r["code"])))
    for start in range(0, len(new), 1000):
        batch = new[start : start + 1000]
        await session.execute(
            insert(Region),
            [
                {
                    "code": r["code"],
                    "name": r["name"],
                    "level": r["level"],
                    "parent_code": r["parent_code"] or None,
                }
                for r in batch
            ],
        )
    return len(new)


async def region_count(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(Region))).scalar_one())


RegionRow = tuple[str, str, RegionLevel, str | None]

# The last trees built and the rows each was built from, newest last. The regions change only when
# `tongban init` loads more, so nearly every read finds the same ~3,400 rows: comparing them (well
# under a millisecond) and handing back the same immutable tree saves building it again (~10 ms),
# and keeps what is built once per tree (the place-name table and type-ahead index in
# `web/regions.py`, held by identity) for every app and command in the process. Rows that differ in
# any way, order included, build anew. A few are kept: the tests read the same regions from SQLite
# and PostgreSQL in turn, which return them in different orders.
_KEPT_TREES = 4
_trees: list[tuple[list[RegionRow], RegionTree]] = []


async def load_tree(session: AsyncSession) -> RegionTree:
    # Core, not the ORM: plain column rows need none of the ORM's result machinery (half the cost)
    connection = await session.connection()
    result = await connection.execute(select(Region.code, Region.name, Region.level, Region.parent_code))
    rows: list[RegionRow] = [(code, name, level, parent) for code, name, level, parent in result]
    for kept_rows, kept_tree in reversed(_trees):
        if kept_rows == rows:
            return kept_tree
    tree = RegionTree(Place(code, name, PLACE_LEVEL[level], parent) for code, name, level, parent in rows)
    _trees.append((rows, tree))
    del _trees[:-_KEPT_TREES]
    return tree
