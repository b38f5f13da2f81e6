"""Halls (政务服务中心 / 便民服务中心) and their cross-region windows: parse, permit, write, audit, queue."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from api.enums import HallLevel, WindowService
from api.models import Hall, Matter
from api.rules import local_county_of
from api.services.base import (
    NOT_LOADED,
    BadInput,
    Conflict,
    FieldError,
    NotFound,
    ServiceContext,
    preloaded,
    remember,
    save_tail,
)
from api.services.fields import Reader
from api.services.permissions import require_local
from api.services.snapshots import hall_snapshot


@dataclass(frozen=True)
class HallData:
    key: str | None
    values: dict[str, Any]
    matter_codes: list[str]


def parse_hall(
    raw: Any, ctx: ServiceContext, section: str | None = None, row: int | None = None
) -> tuple[HallData | None, list[FieldError]]:
    reader = Reader(raw, section, row)
    key = reader.text("key", max_len=80)
    region_code = reader.text("regionCode", required=True, max_len=12)
    if region_code is not None:
        if region_code not in ctx.tree:
            reader.fail("regionCode", f"未知行政区划代码 {region_code}")
        elif local_county_of(ctx.tree, ctx.home_city, region_code) is None and region_code != ctx.home_city:
            reader.fail(
                "regionCode", f"{ctx.tree.full_name(region_code)}不在{ctx.tree.name(ctx.home_city)}范围内"
            )
    services = [s.value for s in reader.enum_list("windowServices", WindowService)]
    has_window = reader.boolean("hasCrossRegionWindow", False)
    if has_window and not services:
        services = [s.value for s in WindowService]
    values: dict[str, Any] = {  # model attribute → value (the record's columns)
        "name": reader.text("name", required=True, max_len=200),
        "region_code": region_code,
        "level": reader.enum("level", HallLevel, default=HallLevel.COUNTY),
        "address": reader.text("address", max_len=500),
        "phone": reader.text("phone", max_len=80),
        "opening_hours": reader.text("openingHours", max_len=2000),
        "latitude": reader.number("latitude", minimum=-90, maximum=90),
        "longitude": reader.number("longitude", minimum=-180, maximum=180),
        "coordinates_approximate": reader.boolean("coordinatesApproximate", False),
        "has_cross_region_window": has_window,
        "window_services": services,
        "source": reader.text("source", max_len=5000),
        "source_url": reader.text("sourceUrl", max_len=2000),
        "is_sample": reader.boolean("sample", False),
    }
    if reader.has("verifiedOn"):  # absent (an API call, an older file): the stored date stays
        values["verified_on"] = reader.date("verifiedOn")
    if (values["latitude"] is None) != (values["longitude"] is None):
        reader.fail("latitude", "纬度和经度应同时填写或同时留空")
    matter_codes = reader.string_list("matterCodes", max_items=5000, max_len=40)
    if reader.errors:
        return None, reader.errors
    return HallData(key=key, values=values, matter_codes=matter_codes), []


def natural_key(region_code: str, name: str, prefix: str = "hall") -> str:
    """A key for a record given without one (same region and name → same key), so an export
    imported again updates instead of duplicating."""
    digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
    return f"{prefix}-{region_code}-{digest}"


async def matters_by_code(session: AsyncSession, codes: list[str], field: str) -> list[Matter]:
    """The matters named by `codes`; unknown codes are a BAD_INPUT naming each one."""
    if not codes:
        return []
    cached = {c: preloaded(session, Matter, c) for c in codes}  # a bulk import loaded them
    if NOT_LOADED in cached.values():
        result = await session.execute(select(Matter).where(Matter.code.in_(codes)))
        found = {m.code: m for m in result.scalars()}
    else:
        found = {c: m for c, m in cached.items() if isinstance(m, Matter)}
    missing = [c for c in codes if c not in found]
    if missing:
        raise BadInput("引用了不存在的事项编码", [FieldError(field, f"未知事项编码 {c}") for c in missing])
    return [found[c] for c in codes]


async def load_hall(
    session: AsyncSession, *, key: str | None = None, hall_id: int | None = None, for_update: bool = False
) -> Hall | None:
    if key is not None and (cached := preloaded(session, Hall, key)) is not NOT_LOADED:
        return cached
    query = select(Hall).options(selectinload(Hall.matters))
    if for_update:
        query = query.with_for_update(of=Hall).execution_options(populate_existing=True)
    query = query.where(Hall.key == key) if key is not None else query.where(Hall.id == hall_id)
    return (await session.execute(query)).scalar_one_or_none()


async def save_hall(
    session: AsyncSession,
    ctx: ServiceContext,
    data: HallData,
    *,
    hall_id: int | None = None,
    version: int | None = None,
) -> Hall:
    require_local(ctx, data.values["region_code"], "服务大厅")
    if hall_id is None and data.key is None:
        data = replace(data, key=natural_key(data.values["region_code"], data.values["name"]))
    hall = None
    if hall_id is not None:
        hall = await load_hall(session, hall_id=hall_id, for_update=True)
        if hall is None:
            raise NotFound(f"没有编号为 {hall_id} 的服务大厅")
    elif data.key is not None:
        hall = await load_hall(session, key=data.key, for_update=True)
    matters = await matters_by_code(session, data.matter_codes, "matterCodes")
    if hall is None:
        hall = Hall(key=data.key, version=1, matters=matters, **data.values)
        session.add(hall)
        remember(session, Hall, data.key, hall)
        before = None
    else:
        require_local(ctx, hall.region_code, "服务大厅")
        before = hall_snapshot(hall, [m.code for m in hall.matters])
        if version is not None and version != hall.version:
            raise Conflict(f"该大厅已被他人修改(当前版本 {hall.version}, 提交版本 {version})", before)
        for field, value in data.values.items():
            setattr(hall, field, value)
        if data.key is not None:
            hall.key = data.key
        hall.matters = matters
    after = hall_snapshot(hall, [m.code for m in matters])
    await save_tail(
        session,
        ctx.actor,
        hall,
        "hall",
        before,
        after,
        key=lambda h: h.key or str(h.id),
        outbox=("hall", lambda h: str(h.id)),
    )
    return hall


async def upsert_hall(
    session: AsyncSession,
    ctx: ServiceContext,
    raw: dict[str, Any],
    *,
    hall_id: int | None = None,
    version: int | None = None,
) -> Hall:
    data, errors = parse_hall(raw, ctx)
    if data is None:
        raise BadInput("服务大厅数据有误", errors)
    return await save_hall(session, ctx, data, hall_id=hall_id, version=version)
