"""The Query root of CONTRACT.md §4. Connections are paginated by the database (keyset); coverage
answers come from the request's `Catalog` snapshot, which calls the pure rules."""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Sequence
from typing import Any

import strawberry
from sqlalchemy import and_, func, or_, select

from api import enums, metrics
from api.models import Agreement as AgreementModel
from api.models import Hall as HallModel
from api.models import Matter as MatterModel
from api.models import Region as RegionModel
from api.schema.context import Info
from api.schema.errors import Unavailable
from api.schema.pagination import (
    Counter,
    PageInfo,
    decode_cursor,
    encode_cursor,
    page_info,
    page_size,
)
from api.schema.types import (
    Agreement,
    AgreementStatus,
    Coverage,
    Hall,
    HallOption,
    Matter,
    MatterHit,
    MatterScope,
    Region,
    RegionLevel,
    region_of,
)
from api.services.base import BadInput
from search_index.query import MAX_QUERY_CHARS

AGREEMENTS = AgreementModel.__table__
HALLS = HallModel.__table__
MATTERS = MatterModel.__table__
REGIONS = RegionModel.__table__

MAX_QUERY_TEXT = MAX_QUERY_CHARS  # the one cap on a search text; longer is BAD_INPUT here


def unset(*values: Any) -> tuple[Any, ...]:
    """Optional arguments are declared without a default (as CONTRACT §4 prints them): omitted → None."""
    return tuple(None if value is strawberry.UNSET else value for value in values)


def parse_id(value: str, what: str) -> int:
    """A numeric database id from a GraphQL `ID`; anything else is BAD_INPUT."""
    text = str(value).strip()
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise BadInput(f"{what} 的 id 应为数字 (收到 {str(value)[:40]!r})")
    return int(text)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def _page(
    info: Info,
    table: Any,
    key: str,
    conditions: Sequence[Any],
    first: int | None,
    after: str | None,
    kind: str,
    key_type: type,
) -> tuple[list[Any], bool, Counter]:
    """One page by keyset on the unique column `key`, the flag for a next page, and a lazy counter
    (the count query runs only when a client asks for `totalCount`)."""
    size = page_size(first)
    cursor = decode_cursor(kind, after, (key_type,))
    column = table.c[key]
    where = list(conditions)
    if cursor is not None:
        where.append(column > cursor[0])
    db = info.context.db
    rows: list[Any] = []
    if size > 0:
        async with db.read() as session:
            rows = list(
                (await session.execute(select(table).where(*where).order_by(column).limit(size + 1))).all()
            )
    has_next = len(rows) > size
    rows = rows[:size]
    if size == 0:
        async with db.read() as session:
            probe = select(column).where(*where).limit(1)
            has_next = (await session.execute(probe)).first() is not None

    async def count() -> int:
        async with db.read() as session:
            statement = select(func.count()).select_from(table).where(*conditions)
            return int((await session.execute(statement)).scalar_one())

    return rows, has_next, count


# ------------------------------------------------------------------------------- connections


@strawberry.type
class RegionEdge:
    cursor: str
    node: Region


@strawberry.type
class RegionConnection:
    edges: list[RegionEdge]
    page_info: PageInfo
    counter: strawberry.Private[Counter]

    @strawberry.field(description="How many regions match the filters (all pages).")
    async def total_count(self) -> int:
        return await self.counter()


@strawberry.type
class AgreementEdge:
    cursor: str
    node: Agreement


@strawberry.type
class AgreementConnection:
    edges: list[AgreementEdge]
    page_info: PageInfo
    counter: strawberry.Private[Counter]

    @strawberry.field(description="How many agreements match the filters (all pages).")
    async def total_count(self) -> int:
        return await self.counter()


@strawberry.type
class MatterEdge:
    cursor: str
    node: Matter


@strawberry.type
class MatterConnection:
    edges: list[MatterEdge]
    page_info: PageInfo
    counter: strawberry.Private[Counter]

    @strawberry.field(description="How many matters match the filters (all pages).")
    async def total_count(self) -> int:
        return await self.counter()


@strawberry.type
class HallEdge:
    cursor: str
    node: Hall


@strawberry.type
class HallConnection:
    edges: list[HallEdge]
    page_info: PageInfo
    counter: strawberry.Private[Counter]

    @strawberry.field(description="How many halls match the filters (all pages).")
    async def total_count(self) -> int:
        return await self.counter()


@strawberry.type(description="The thresholds of the four-colour partner grading (§5.8).")
class TierThresholds:
    population: float
    cooperation: float


def agreement_status_condition(status: enums.AgreementStatus, day: dt.date) -> Any:
    """SQL for "the status exposed on `day` is `status`" (§5.2), so the filter pages in SQL."""
    a = AGREEMENTS.c
    active = a.status == enums.AgreementStatus.ACTIVE
    started = a.effective_from <= day
    if status == enums.AgreementStatus.ACTIVE:
        return and_(active, started, or_(a.expires_on.is_(None), a.expires_on >= day))
    if status == enums.AgreementStatus.PENDING:
        return or_(a.status == status, and_(active, a.effective_from > day))
    if status == enums.AgreementStatus.EXPIRED:
        return or_(a.status == status, and_(active, started, a.expires_on < day))
    return a.status == status


# ------------------------------------------------------------------------------- Query


@strawberry.type
class Query:
    @strawberry.field(description="A region by its GB/T 2260 code; null when there is none.")
    async def region(self, info: Info, code: str) -> Region | None:
        catalog = await info.context.catalog()
        place = catalog.tree.get(code.strip())
        return Region(place=place, catalog=catalog) if place is not None else None

    @strawberry.field(description="Regions by code order. `first` defaults to 20, at most 100.")
    async def regions(
        self,
        info: Info,
        parent_code: str | None = strawberry.UNSET,
        level: RegionLevel | None = strawberry.UNSET,
        name_contains: str | None = strawberry.UNSET,
        first: int | None = strawberry.UNSET,
        after: str | None = strawberry.UNSET,
    ) -> RegionConnection:
        parent_code, level, name_contains, first, after = unset(
            parent_code, level, name_contains, first, after
        )
        catalog = await info.context.catalog()
        conditions: list[Any] = []
        if parent_code is not None:
            catalog.region(parent_code)
            conditions.append(REGIONS.c.parent_code == parent_code)
        if level is not None:
            conditions.append(REGIONS.c.level == level)
        if name_contains:
            if len(name_contains) > 64:
                raise BadInput("nameContains 最多 64 个字")
            conditions.append(REGIONS.c.name.like(_like(name_contains), escape="\\"))
        rows, has_next, counter = await _page(info, REGIONS, "code", conditions, first, after, "region", str)
        edges = [
            RegionEdge(cursor=encode_cursor("region", [row.code]), node=region_of(catalog, row.code))
            for row in rows
            if row.code in catalog.tree
        ]
        return RegionConnection(
            edges=edges, page_info=page_info([e.cursor for e in edges], has_next, after), counter=counter
        )

    @strawberry.field
    async def agreement(self, info: Info, id: strawberry.ID) -> Agreement | None:
        agreement_id = parse_id(id, "协议")
        catalog = await info.context.catalog()
        row = await info.context.loaders.agreement_by_id.load(agreement_id)
        return Agreement(row=row, catalog=catalog) if row is not None else None

    @strawberry.field(
        description="Agreements by id order. `status` filters on the status today. `first` defaults to 20, at most 100."
    )
    async def agreements(
        self,
        info: Info,
        partner_code: str | None = strawberry.UNSET,
        local_code: str | None = strawberry.UNSET,
        status: AgreementStatus | None = strawberry.UNSET,
        first: int | None = strawberry.UNSET,
        after: str | None = strawberry.UNSET,
    ) -> AgreementConnection:
        partner_code, local_code, status, first, after = unset(partner_code, local_code, status, first, after)
        catalog = await info.context.catalog()
        conditions: list[Any] = []
        if partner_code is not None:
            catalog.region(partner_code)
            conditions.append(AGREEMENTS.c.partner_code == partner_code)
        if local_code is not None:
            catalog.region(local_code)
            conditions.append(AGREEMENTS.c.local_code == local_code)
        if status is not None:
            conditions.append(agreement_status_condition(enums.AgreementStatus(status), info.context.today))
        rows, has_next, counter = await _page(
            info, AGREEMENTS, "id", conditions, first, after, "agreement", int
        )
        edges = [
            AgreementEdge(
                cursor=encode_cursor("agreement", [row.id]), node=Agreement(row=row, catalog=catalog)
            )
            for row in rows
        ]
        return AgreementConnection(
            edges=edges, page_info=page_info([e.cursor for e in edges], has_next, after), counter=counter
        )

    @strawberry.field
    async def matter(self, info: Info, code: str) -> Matter | None:
        row = await info.context.loaders.matter_by_code.load(code.strip())
        return Matter(row=row) if row is not None and row.published else None

    @strawberry.field(description="Published matters by code order. `first` defaults to 20, at most 100.")
    async def matters(
        self,
        info: Info,
        scope: MatterScope | None = strawberry.UNSET,
        first: int | None = strawberry.UNSET,
        after: str | None = strawberry.UNSET,
    ) -> MatterConnection:
        scope, first, after = unset(scope, first, after)
        conditions: list[Any] = [MATTERS.c.published.is_(True)]
        if scope is not None:
            conditions.append(MATTERS.c.scope == scope)
        rows, has_next, counter = await _page(info, MATTERS, "code", conditions, first, after, "matter", str)
        edges = [MatterEdge(cursor=encode_cursor("matter", [row.code]), node=Matter(row=row)) for row in rows]
        return MatterConnection(
            edges=edges, page_info=page_info([e.cursor for e in edges], has_next, after), counter=counter
        )

    @strawberry.field
    async def hall(self, info: Info, id: strawberry.ID) -> Hall | None:
        hall_id = parse_id(id, "服务大厅")
        catalog = await info.context.catalog()
        row = await info.context.loaders.hall_by_id.load(hall_id)
        return Hall(row=row, catalog=catalog) if row is not None else None

    @strawberry.field(
        description="Halls by id order; `regionCode` includes the halls of its towns. `first` defaults to 20, at most 100."
    )
    async def halls(
        self,
        info: Info,
        region_code: str | None = strawberry.UNSET,
        first: int | None = strawberry.UNSET,
        after: str | None = strawberry.UNSET,
    ) -> HallConnection:
        region_code, first, after = unset(region_code, first, after)
        catalog = await info.context.catalog()
        conditions: list[Any] = []
        if region_code is not None:
            conditions.append(HALLS.c.region_code.in_(catalog.descendants(region_code)))
        rows, has_next, counter = await _page(info, HALLS, "id", conditions, first, after, "hall", int)
        edges = [
            HallEdge(cursor=encode_cursor("hall", [row.id]), node=Hall(row=row, catalog=catalog))
            for row in rows
        ]
        return HallConnection(
            edges=edges, page_info=page_info([e.cursor for e in edges], has_next, after), counter=counter
        )

    @strawberry.field(
        description="Full-text search over matters (synonyms, pinyin). With homeRegionCode, the matters "
        "that home is covered for come first (otherwise by relevance). `first` at most 100."
    )
    async def search(
        self,
        info: Info,
        query: str,
        home_region_code: str | None = strawberry.UNSET,
        first: int | None = 10,
    ) -> list[MatterHit]:
        (home_region_code,) = unset(home_region_code)
        size = page_size(first, default=10)
        ctx = info.context
        catalog = await ctx.catalog()
        if home_region_code is not None:
            catalog.region(home_region_code)
        text = query.strip()
        if len(text) > MAX_QUERY_TEXT:
            raise BadInput(f"query 最多 {MAX_QUERY_TEXT} 个字")
        if not text or size == 0:
            return []
        service = ctx.state.search
        if service is None:
            raise Unavailable("搜索服务暂不可用, 请稍后再试")
        hits = service.search(text, size)
        if inspect.isawaitable(hits):
            hits = await hits
        hits = list(hits)
        rows = await ctx.loaders.matter_by_code.load_many([hit.code for hit in hits])
        results: list[MatterHit] = []
        for hit, row in zip(hits, rows, strict=True):
            if row is None or not row.published:
                continue
            covered = None
            if home_region_code is not None and hit.code in catalog.matters:
                covered = catalog.coverage(home_region_code, hit.code, ctx.today).covered
            results.append(
                MatterHit(
                    matter=Matter(row=row), score=float(hit.score), highlight=hit.highlight, covered=covered
                )
            )
        if home_region_code is not None:
            results.sort(key=lambda h: not h.covered)
        return results

    @strawberry.field(description="Can someone from homeRegionCode handle the matter here on onDate (§5.6)?")
    async def coverage(
        self,
        info: Info,
        home_region_code: str,
        matter_code: str | None = strawberry.UNSET,
        on_date: dt.date | None = strawberry.UNSET,
    ) -> Coverage:
        matter_code, on_date = unset(matter_code, on_date)
        catalog = await info.context.catalog()
        day = on_date or info.context.today
        result = catalog.coverage(home_region_code, matter_code, day)
        metrics.COVERAGE_ANSWERS.labels("graphql", "true" if result.covered else "false").inc()
        return Coverage(
            result=result, catalog=catalog, home_code=home_region_code, matter_code=matter_code, day=day
        )

    @strawberry.field(
        description="The halls that can handle the matter for someone from homeRegionCode (§5.7): nearest "
        "first when latitude and longitude are given; `first` keeps the nearest N (all when omitted)."
    )
    async def where_to_handle(
        self,
        info: Info,
        home_region_code: str,
        matter_code: str,
        latitude: float | None = strawberry.UNSET,
        longitude: float | None = strawberry.UNSET,
        on_date: dt.date | None = strawberry.UNSET,
        first: int | None = strawberry.UNSET,
    ) -> list[HallOption]:
        latitude, longitude, on_date, first = unset(latitude, longitude, on_date, first)
        catalog = await info.context.catalog()
        if first is not None:
            page_size(first)
        day = on_date or info.context.today
        options = catalog.where_to_handle(home_region_code, matter_code, latitude, longitude, day, first)
        return [HallOption(option=option, catalog=catalog, matter_code=matter_code) for option in options]

    @strawberry.field(description="The thresholds of the four-colour partner grading.")
    async def tier_thresholds(self, info: Info) -> TierThresholds:
        catalog = await info.context.catalog()
        population, cooperation = catalog.thresholds
        return TierThresholds(population=population, cooperation=cooperation)
