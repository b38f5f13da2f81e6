"""Cooperation work with partner regions in GraphQL (CONTRACT §7): `Activity`, `ActivityInput`,
`activities(...)`, `consultationsDue(onDate)`, `createActivity` (plus `updateActivity`).

Reads need a bearer token, like `contacts`: these are the offices' own work records. City and county
tokens read everything; a partner region's token reads the work done with its own region (the same
`permissions.partner_work_scope` the staff pages use). Writes run `api.services.activities`, the
service behind the staff forms: checks, permission, audit and outbox happen there.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry
from sqlalchemy import select

from api import enums
from api.models import Activity as ActivityModel
from api.schema.context import Info
from api.schema.inputs import as_import_dict
from api.schema.pagination import Counter, PageInfo, encode_cursor, page_info
from api.schema.queries import _page, parse_id, unset
from api.schema.types import Region, region_of
from api.services.activities import create_activity, due_lists, update_activity
from api.services.base import NotFound
from api.services.permissions import may_read_partner_work, partner_work_scope

ACTIVITIES = ActivityModel.__table__

ActivityKind = strawberry.enum(
    enums.ActivityKind,
    description="合作交流活动: CONSULTATION 会商 · SECONDMENT 挂职交流 · JOINT_TRAINING 同步培训 · "
    "SHADOWING 跟班学习 · GUIDANCE 业务指导 · REVIEW 通办后总结",
)


@strawberry.type(description="一次与合作地区的合作交流活动。")
class Activity:
    row: strawberry.Private[Any]
    catalog: strawberry.Private[Any]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field
    def kind(self) -> ActivityKind:
        return enums.ActivityKind(self.row.kind)

    @strawberry.field(description="The partner region the work was done with.")
    def partner(self) -> Region:
        return region_of(self.catalog, self.row.partner_code)

    @strawberry.field(description="The county that did it, or the home city itself (市本级).")
    def local(self) -> Region:
        return region_of(self.catalog, self.row.local_code)

    @strawberry.field
    def held_on(self) -> dt.date:
        return self.row.held_on

    @strawberry.field
    def title(self) -> str:
        return self.row.title

    @strawberry.field
    def participants(self) -> int | None:
        return self.row.participants

    @strawberry.field
    def outcome(self) -> str | None:
        return self.row.outcome

    @strawberry.field(description="Optimistic-lock version for updateActivity.")
    def version(self) -> int:
        return self.row.version


@strawberry.input(
    description="A cooperation activity. localCode: a county account may only give its own county."
)
class ActivityInput:
    kind: ActivityKind
    partner_code: str
    local_code: str
    held_on: dt.date
    title: str
    participants: int | None = strawberry.UNSET
    outcome: str | None = strawberry.UNSET


@strawberry.type
class ActivityEdge:
    cursor: str
    node: Activity


@strawberry.type
class ActivityConnection:
    edges: list[ActivityEdge]
    page_info: PageInfo
    counter: strawberry.Private[Counter]

    @strawberry.field(description="How many activities match the filters (all pages).")
    async def total_count(self) -> int:
        return await self.counter()


@strawberry.type
class ActivityQueries:
    @strawberry.field(
        description="Cooperation activities by id order (signed-in tokens only; a partner region's token "
        "sees the work with its own region). `first` defaults to 20, at most 100."
    )
    async def activities(
        self,
        info: Info,
        partner_code: str | None = strawberry.UNSET,
        local_code: str | None = strawberry.UNSET,
        kind: ActivityKind | None = strawberry.UNSET,
        first: int | None = strawberry.UNSET,
        after: str | None = strawberry.UNSET,
    ) -> ActivityConnection:
        partner_code, local_code, kind, first, after = unset(partner_code, local_code, kind, first, after)
        service_ctx = await info.context.service_context()
        catalog = await info.context.catalog()
        conditions: list[Any] = []
        scope = partner_work_scope(service_ctx)
        if scope is not None:
            conditions.append(ACTIVITIES.c.partner_code.in_(scope))
        if partner_code is not None:
            catalog.region(partner_code)
            conditions.append(ACTIVITIES.c.partner_code == partner_code)
        if local_code is not None:
            catalog.region(local_code)
            conditions.append(ACTIVITIES.c.local_code == local_code)
        if kind is not None:
            conditions.append(ACTIVITIES.c.kind == enums.ActivityKind(kind))
        rows, has_next, counter = await _page(
            info, ACTIVITIES, "id", conditions, first, after, "activity", int
        )
        edges = [
            ActivityEdge(cursor=encode_cursor("activity", [row.id]), node=Activity(row=row, catalog=catalog))
            for row in rows
        ]
        return ActivityConnection(
            edges=edges, page_info=page_info([e.cursor for e in edges], has_next, after), counter=counter
        )

    @strawberry.field(
        description="RED partners with no CONSULTATION in the 12 months up to onDate (default today), by code "
        "(signed-in tokens only; a partner region's token sees only its own region)."
    )
    async def consultations_due(self, info: Info, on_date: dt.date | None = strawberry.UNSET) -> list[Region]:
        (on_date,) = unset(on_date)
        service_ctx = await info.context.service_context()
        catalog = await info.context.catalog()
        day = on_date or info.context.today
        async with info.context.db.read() as session:
            lists = await due_lists(session, catalog, day)
        return [
            region_of(catalog, due.partner_code)
            for due in lists.consultations
            if may_read_partner_work(service_ctx, due.partner_code)
        ]


@strawberry.type
class ActivityMutations:
    @strawberry.mutation(
        description="Record a cooperation activity. A county account: its own county as localCode; admins any."
    )
    async def create_activity(self, info: Info, input: ActivityInput) -> Activity:
        ctx = info.context
        service_ctx = await ctx.service_context()
        async with ctx.db.write() as session:
            activity_id = (await create_activity(session, service_ctx, as_import_dict(input))).id
        return await _activity(info, activity_id)

    @strawberry.mutation(
        description="Change an activity; a stale `version` fails with CONFLICT and changes nothing."
    )
    async def update_activity(
        self, info: Info, id: strawberry.ID, version: int, input: ActivityInput
    ) -> Activity:
        activity_id = parse_id(id, "合作交流活动")
        ctx = info.context
        service_ctx = await ctx.service_context()
        async with ctx.db.write() as session:
            await update_activity(session, service_ctx, activity_id, version, as_import_dict(input))
        return await _activity(info, activity_id)


async def _activity(info: Info, activity_id: int) -> Activity:
    catalog = await info.context.after_write()
    async with info.context.db.read() as session:
        row = (await session.execute(select(ACTIVITIES).where(ACTIVITIES.c.id == activity_id))).first()
    if row is None:
        raise NotFound(f"没有编号为 {activity_id} 的合作交流活动")
    return Activity(row=row, catalog=catalog)
