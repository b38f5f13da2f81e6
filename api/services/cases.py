"""The case collection (通办案例集, 一集, seed §三.(三).1): typical cross-region handlings, written up
and shared with partner regions. Parse, permit, write, audit.

A county's staff write their own county's cases; the city's admins any case (the city compiles the
collection, 市政务服务办定期编制). Only published cases appear on the public page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import Case
from api.rules import local_county_of
from api.services.base import BadInput, Conflict, FieldError, NotFound, ServiceContext, save_tail
from api.services.fields import Reader
from api.services.permissions import require_case_permit


@dataclass(frozen=True)
class CaseData:
    values: dict[str, Any]


def case_snapshot(case: Case) -> dict[str, Any]:
    return {
        "title": case.title,
        "summary": case.summary,
        "matterCode": case.matter_code,
        "countyCode": case.county_code,
        "partnerCode": case.partner_code,
        "happenedOn": case.happened_on.isoformat() if case.happened_on else None,
        "published": case.published,
        "sample": case.is_sample,
    }


def parse_case(raw: Any, ctx: ServiceContext) -> tuple[CaseData | None, list[FieldError]]:
    reader = Reader(raw)
    county = reader.text("countyCode", max_len=12)
    if county is not None:
        if county not in ctx.tree:
            reader.fail("countyCode", f"未知行政区划代码 {county}")
        elif local_county_of(ctx.tree, ctx.home_city, county) is None:
            reader.fail("countyCode", f"应为{ctx.tree.name(ctx.home_city)}下辖的县(市、区)")
    partner = reader.text("partnerCode", max_len=12)
    if partner is not None:
        if partner not in ctx.tree:
            reader.fail("partnerCode", f"未知行政区划代码 {partner}")
        elif ctx.tree.contains(ctx.home_city, partner):
            reader.fail("partnerCode", "合作地区应在本市以外")
    summary = reader.text("summary", required=True, max_len=20000)
    if summary is not None and len(summary) < 10:
        reader.fail("summary", "请写清经过与做法(至少10个字)")
    values = {
        "title": reader.text("title", required=True, max_len=200),
        "summary": summary,
        "matter_code": reader.text("matterCode", max_len=40),
        "county_code": (
            local_county_of(ctx.tree, ctx.home_city, county)
            if county is not None and county in ctx.tree
            else None
        ),
        "partner_code": partner,
        "happened_on": reader.date("happenedOn"),
        "published": reader.boolean("published", False),
        "is_sample": reader.boolean("sample", False),
    }
    if reader.errors:
        return None, reader.errors
    return CaseData(values), []


def _permit(ctx: ServiceContext, county_code: str | None) -> None:
    require_case_permit(ctx, county_code)


async def save_case(
    session: AsyncSession,
    ctx: ServiceContext,
    raw: Any,
    *,
    case_id: int | None = None,
    version: int | None = None,
) -> Case:
    data, errors = parse_case(raw, ctx)
    if data is None:
        raise BadInput("案例内容有误", errors)
    _permit(ctx, data.values["county_code"])
    if case_id is None:
        case = Case(version=1, **data.values)
        session.add(case)
        before = None
    else:
        found = await session.get(Case, case_id)
        if found is None:
            raise NotFound(f"没有编号为 {case_id} 的案例")
        case = found
        _permit(ctx, case.county_code)
        before = case_snapshot(case)
        if version is not None and version != case.version:
            raise Conflict(f"该案例已被他人修改(当前版本 {case.version}, 提交版本 {version})", before)
        for field, value in data.values.items():
            setattr(case, field, value)
    after = case_snapshot(case)
    await save_tail(session, ctx.actor, case, "case", before, after, key=lambda c: str(c.id))
    return case


async def list_cases(session: AsyncSession, *, published_only: bool = False) -> list[Case]:
    query = select(Case).order_by(Case.happened_on.desc().nulls_last(), Case.id.desc())
    if published_only:
        query = query.where(Case.published.is_(True))
    return list((await session.execute(query)).scalars())
