"""Outreach visits (上门服务, seed §三.(二).3): window staff going to factories and communities with
many people from elsewhere. Parse, permit (a county logs its own visits; the city any), write, audit.
The dashboard counts them per county for the ranking (比学赶超)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import OutreachVisit
from api.rules import local_county_of
from api.services.base import BadInput, ServiceContext, audit
from api.services.fields import Reader
from api.services.permissions import require_local


async def log_visit(session: AsyncSession, ctx: ServiceContext, raw: Any) -> OutreachVisit:
    reader = Reader(raw)
    county = reader.text("countyCode", required=True, max_len=12)
    if county is not None and (
        county not in ctx.tree or local_county_of(ctx.tree, ctx.home_city, county) is None
    ):
        reader.fail("countyCode", f"应为{ctx.tree.name(ctx.home_city)}下辖的县(市、区)")
    visited_on = reader.date("visitedOn", required=True)
    if visited_on is not None and visited_on > ctx.today:
        reader.fail("visitedOn", "上门日期不能晚于今天")
    county_code = (
        local_county_of(ctx.tree, ctx.home_city, county)
        if county is not None and county in ctx.tree
        else None
    )
    values = {
        "county_code": county_code,
        "place": reader.text("place", required=True, max_len=200),
        "visited_on": visited_on,
        "people_served": reader.integer("peopleServed", minimum=0, maximum=100000) or 0,
        "note": reader.text("note", max_len=5000),
    }
    if reader.errors or county_code is None:  # (no county is always one of the errors)
        raise BadInput("上门服务记录有误", reader.errors)
    require_local(ctx, county_code, "上门服务记录")
    visit = OutreachVisit(**values)
    session.add(visit)
    await session.flush()
    after = {**values, "visited_on": visited_on.isoformat() if visited_on else None}
    await audit(session, ctx.actor, "outreach", str(visit.id), "create", None, after)
    return visit


async def list_visits(
    session: AsyncSession, county_code: str | None = None, limit: int = 200
) -> list[OutreachVisit]:
    query = (
        select(OutreachVisit).order_by(OutreachVisit.visited_on.desc(), OutreachVisit.id.desc()).limit(limit)
    )
    if county_code:
        query = query.where(OutreachVisit.county_code == county_code)
    return list((await session.execute(query)).scalars())
