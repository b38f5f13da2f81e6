"""Partner regions' indices (人口潜力指数, 合作潜力指数) and the tier thresholds: admin-only writes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.models import AppSetting, Region
from api.services.base import (
    BadInput,
    FieldError,
    ServiceContext,
    UnknownRegion,
    audit,
    now,
    queue,
    save_tail,
)
from api.services.fields import Reader
from api.services.permissions import require_admin
from api.services.snapshots import partner_snapshot

TIER_THRESHOLDS_KEY = "tier_thresholds"
DEFAULT_THRESHOLDS = {"population": 60.0, "cooperation": 60.0}


@dataclass(frozen=True)
class PartnerData:
    region_code: str
    population_index: float | None
    cooperation_index: float | None
    sample: bool


def parse_partner(
    raw: Any, ctx: ServiceContext, section: str | None = None, row: int | None = None
) -> tuple[PartnerData | None, list[FieldError]]:
    reader = Reader(raw, section, row)
    code = reader.text("regionCode", required=True, max_len=12)
    if code is not None and code not in ctx.tree:
        reader.fail("regionCode", f"未知行政区划代码 {code}")
    population = reader.number("populationIndex", minimum=0, maximum=100)
    cooperation = reader.number("cooperationIndex", minimum=0, maximum=100)
    sample = reader.boolean("sample", False)
    if reader.errors or code is None:
        return None, reader.errors
    return PartnerData(code, population, cooperation, sample), []


async def save_partner(session: AsyncSession, ctx: ServiceContext, data: PartnerData) -> Region:
    require_admin(ctx, "合作地区指数")
    region = await session.get(Region, data.region_code)
    if region is None:
        raise UnknownRegion(f"未知行政区划代码 {data.region_code}")
    before = partner_snapshot(region)
    region.population_index = data.population_index
    region.cooperation_index = data.cooperation_index
    region.indices_sample = data.sample
    after = partner_snapshot(region)
    if await save_tail(
        session,
        ctx.actor,
        region,
        "partner",
        before,
        after,
        key=lambda r: r.code,
        outbox=("region", lambda r: r.code),
        flush=False,
    ):
        region.indices_updated_at = now()
    return region


async def set_partner_indices(
    session: AsyncSession,
    ctx: ServiceContext,
    region_code: str,
    population_index: float | None,
    cooperation_index: float | None,
) -> Region:
    if region_code not in ctx.tree:
        raise UnknownRegion(f"未知行政区划代码 {region_code}")
    region = await session.get(Region, region_code)
    sample = bool(region.indices_sample) if region is not None else False
    data, errors = parse_partner(
        {
            "regionCode": region_code,
            "populationIndex": population_index,
            "cooperationIndex": cooperation_index,
            "sample": sample,
        },
        ctx,
    )
    if data is None:
        raise BadInput("指数有误", errors)
    return await save_partner(session, ctx, data)


async def tier_thresholds(session: AsyncSession) -> dict[str, float]:
    setting = await session.get(AppSetting, TIER_THRESHOLDS_KEY)
    if setting is None:
        return dict(DEFAULT_THRESHOLDS)
    return {**DEFAULT_THRESHOLDS, **{k: float(v) for k, v in setting.value.items()}}


async def set_tier_thresholds(
    session: AsyncSession, ctx: ServiceContext, population: Any, cooperation: Any
) -> dict[str, float]:
    require_admin(ctx, "四色分级阈值")
    reader = Reader({"population": population, "cooperation": cooperation})
    population_at = reader.number("population", minimum=0, maximum=100)
    cooperation_at = reader.number("cooperation", minimum=0, maximum=100)
    if reader.errors or population_at is None or cooperation_at is None:
        raise BadInput("阈值应为 0 到 100 之间的数字", reader.errors)
    values = {"population": population_at, "cooperation": cooperation_at}
    setting = await session.get(AppSetting, TIER_THRESHOLDS_KEY)
    before = await tier_thresholds(session)
    if setting is None:
        session.add(AppSetting(key=TIER_THRESHOLDS_KEY, value=values, version=1))
    else:
        setting.value = values
        setting.version += 1
    await audit(session, ctx.actor, "setting", TIER_THRESHOLDS_KEY, "update", before, values)
    queue(session, "setting", TIER_THRESHOLDS_KEY)
    return values
