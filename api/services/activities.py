"""Cooperation work with partner regions (合作交流活动): 会商, 挂职交流, 同步培训, 跟班学习, 业务指导 and
the 通办后总结 review (seed §二.(二)–(四), §三.(二).2). Parse, permit, write, audit, outbox.

A county's staff record the work their county did; the city's admins any work, including the city's
own (市本级). Partner-region staff read the work done with their region (`may_read_partner_work`).
The due lists (`due_lists`) are decided by the pure functions of `api.cooperation`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api import cooperation
from api.enums import ActivityKind
from api.models import Activity, RegionRelation
from api.services.base import (
    BadInput,
    Conflict,
    FieldError,
    NotFound,
    ServiceContext,
    save_tail,
)
from api.services.fields import Reader
from api.services.permissions import may_read_partner_work, partner_work_scope, require_activity

ENTITY = "activity"
EARLIEST = dt.date(2000, 1, 1)


@dataclass(frozen=True)
class ActivityData:
    values: dict[str, Any]


def activity_snapshot(activity: Activity) -> dict[str, Any]:
    return {
        "kind": getattr(activity.kind, "value", activity.kind),
        "partnerCode": activity.partner_code,
        "localCode": activity.local_code,
        "heldOn": activity.held_on.isoformat() if activity.held_on else None,
        "title": activity.title,
        "participants": activity.participants,
        "outcome": activity.outcome,
        "sample": bool(activity.is_sample),
    }


def parse_activity(
    raw: Any, ctx: ServiceContext, section: str | None = None, row: int | None = None
) -> tuple[ActivityData | None, list[FieldError]]:
    """Every field checked, every problem collected (never raises)."""
    reader = Reader(raw, section, row)
    tree, home = ctx.tree, ctx.home_city
    kind = reader.enum("kind", ActivityKind, required=True)
    partner = reader.text("partnerCode", required=True, max_len=12)
    if partner is not None:
        if partner not in tree:
            reader.fail("partnerCode", f"未知行政区划代码 {partner}")
        elif tree.contains(home, partner) or tree.contains(partner, home):
            reader.fail("partnerCode", f"合作地区应在{tree.name(home)}以外")
    local = reader.text("localCode", required=True, max_len=12)
    if local is not None and local != home and local not in ctx.local_counties:
        reader.fail("localCode", f"应为{tree.name(home)}(市本级)或其下辖的县(市、区)")
    held_on = reader.date("heldOn", required=True)
    if held_on is not None:
        if held_on > ctx.today:
            reader.fail("heldOn", "只能登记已开展的活动: 日期不能晚于今天")
        elif held_on < EARLIEST:
            reader.fail("heldOn", "日期应在2000年以后")
    title = reader.text("title", required=True, max_len=200)
    if title is not None and "\n" in title:
        reader.fail("title", "标题应为一行")
    values = {
        "kind": kind,
        "partner_code": partner,
        "local_code": local,
        "held_on": held_on,
        "title": title,
        "participants": reader.integer("participants", minimum=0, maximum=100000),
        "outcome": reader.text("outcome", max_len=4000),
        "is_sample": reader.boolean("sample", False),
    }
    if reader.errors:
        return None, reader.errors
    return ActivityData(values), []


async def save_activity(
    session: AsyncSession,
    ctx: ServiceContext,
    raw: Any,
    *,
    activity_id: int | None = None,
    version: int | None = None,
) -> Activity:
    """Create, or update by id (with the version check). Both the old and the new local side must be
    the actor's: a county cannot move another county's record into its own, nor its own away."""
    data, errors = parse_activity(raw, ctx)
    if data is None:
        raise BadInput("合作交流活动数据有误", errors)
    require_activity(ctx, data.values["local_code"])
    if activity_id is None:
        activity = Activity(version=1, **data.values)
        session.add(activity)
        before = None
    else:
        query = select(Activity).where(Activity.id == activity_id).with_for_update()
        found = (await session.execute(query.execution_options(populate_existing=True))).scalar_one_or_none()
        if found is None:
            raise NotFound(f"没有编号为 {activity_id} 的合作交流活动")
        activity = found
        require_activity(ctx, activity.local_code)
        before = activity_snapshot(activity)
        if version is not None and version != activity.version:
            raise Conflict(f"该活动已被他人修改(当前版本 {activity.version}, 提交版本 {version})", before)
        for field, value in data.values.items():
            setattr(activity, field, value)
    after = activity_snapshot(activity)
    activity_key = lambda a: str(a.id)  # noqa: E731
    await save_tail(
        session, ctx.actor, activity, ENTITY, before, after, key=activity_key, outbox=(ENTITY, activity_key)
    )
    return activity


async def create_activity(session: AsyncSession, ctx: ServiceContext, raw: Any) -> Activity:
    return await save_activity(session, ctx, raw)


async def update_activity(
    session: AsyncSession, ctx: ServiceContext, activity_id: int, version: int, raw: Any
) -> Activity:
    return await save_activity(session, ctx, raw, activity_id=activity_id, version=version)


async def load_activity(session: AsyncSession, ctx: ServiceContext, activity_id: int) -> Activity:
    """One activity the actor may read; NOT_FOUND otherwise (a partner does not learn of others')."""
    activity = await session.get(Activity, activity_id)
    if activity is None or not may_read_partner_work(ctx, activity.partner_code):
        raise NotFound(f"没有编号为 {activity_id} 的合作交流活动")
    return activity


async def list_activities(
    session: AsyncSession,
    ctx: ServiceContext,
    *,
    partner_codes: Sequence[str] | None = None,
    local_code: str | None = None,
    kind: ActivityKind | None = None,
    limit: int | None = None,
) -> list[Activity]:
    """The activities the actor may read, newest first."""
    query = select(Activity).order_by(Activity.held_on.desc(), Activity.id.desc())
    scope = partner_work_scope(ctx)
    if scope is not None:
        query = query.where(Activity.partner_code.in_(scope))
    if partner_codes is not None:
        query = query.where(Activity.partner_code.in_(partner_codes))
    if local_code is not None:
        query = query.where(Activity.local_code == local_code)
    if kind is not None:
        query = query.where(Activity.kind == kind)
    if limit is not None:
        query = query.limit(limit)
    return list((await session.execute(query)).scalars())


def facts_of(activities: Iterable[Activity]) -> list[cooperation.ActivityFacts]:
    return [
        cooperation.ActivityFacts(getattr(a.kind, "value", a.kind), a.partner_code, a.held_on)
        for a in activities
    ]


async def all_activity_facts(session: AsyncSession) -> list[cooperation.ActivityFacts]:
    rows = await session.execute(select(Activity.kind, Activity.partner_code, Activity.held_on))
    return [cooperation.ActivityFacts(getattr(k, "value", k), p, d) for k, p, d in rows.all()]


async def pairing_partners(session: AsyncSession) -> list[str]:
    """The pairing regions (对口援疆, 东西部协作, 对口合作: `RegionRelation`), by code."""
    rows = await session.execute(select(RegionRelation.partner_code).distinct())
    return sorted(code for (code,) in rows.all())


@dataclass(frozen=True)
class DueLists:
    day: dt.date
    consultations: list[cooperation.Due]
    guidance: list[cooperation.Due]
    reviews: list[cooperation.Due]


async def due_lists(session: AsyncSession, catalog: Any, day: dt.date) -> DueLists:
    """The three due lists on `day`, from the snapshot's tiers and agreements, the stored pairing
    relations and every recorded activity (all of them: a partner account sees only its own
    region's entries, filtered by the caller)."""
    tree = catalog.tree
    facts = await all_activity_facts(session)
    pairings = [code for code in await pairing_partners(session) if code in tree]
    tiers = {code: catalog.tier(code) for code in catalog.indices if code in tree}
    return DueLists(
        day=day,
        consultations=cooperation.consultations_due(tree, tiers, facts, day),
        guidance=cooperation.guidance_due(tree, pairings, facts, day),
        reviews=cooperation.reviews_due(tree, catalog.agreements, facts, day),
    )


def latest_per_partner(activities: Iterable[Activity]) -> dict[str, Activity]:
    """Each partner region's latest activity (by date, then id)."""
    latest: dict[str, Activity] = {}
    for activity in activities:
        current = latest.get(activity.partner_code)
        if current is None or (activity.held_on, activity.id) > (current.held_on, current.id):
            latest[activity.partner_code] = activity
    return latest
