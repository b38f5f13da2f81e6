"""Matters (事项) and their unified guides: parse, permit, write, audit, queue.

A matter is citywide (one list, one guide for all nine counties), so only the city's admins change
it. A changed guide becomes a new published version; the old one is archived, never overwritten.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from api.enums import GuideStatus, HandlingMode, MatterScope
from api.models import Guide, Matter
from api.services.base import (
    BULK,
    BadInput,
    Bulk,
    Conflict,
    FieldError,
    ServiceContext,
    now,
    save_tail,
)
from api.services.fields import Reader
from api.services.permissions import require_admin
from api.services.snapshots import guide_snapshot, matter_snapshot, published_guide

CODE_MAX = 40


@dataclass(frozen=True)
class MatterData:
    code: str
    values: dict[str, Any]
    guide: dict[str, Any] | None
    guide_given: bool


def _parse_materials(reader: Reader, raw: Any) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        reader.fail("guide.materials", "应为列表")
        return []
    materials: list[dict[str, Any]] = []
    for index, item in enumerate(raw, start=1):
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict):
            reader.fail(f"guide.materials[{index}]", "应为对象 {name, required, copies, note}")
            continue
        sub = Reader(item)
        name = sub.text("name", required=True, max_len=300)
        copies = sub.integer("copies", minimum=0, maximum=100)
        note = sub.text("note", max_len=1000)
        required = sub.boolean("required", True)
        for error in sub.errors:
            reader.fail(f"guide.materials[{index}].{error.field}", error.message)
        if name:
            materials.append({"name": name, "required": required, "copies": copies, "note": note})
    return materials


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _from_iso(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def parse_guide(reader: Reader, raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        reader.fail("guide", "应为对象")
        return None
    sub = Reader(raw)
    guide = {
        "conditions": sub.text("conditions", max_len=20000),
        "materials": _parse_materials(reader, raw.get("materials")),
        "steps": sub.string_list("steps", max_items=100, max_len=2000),
        "timeLimitDays": sub.integer("timeLimitDays", minimum=0, maximum=3650),
        "fee": sub.text("fee", max_len=2000),
        "legalBasis": sub.text("legalBasis", max_len=20000),
        "walkthrough": sub.text("walkthrough", max_len=20000),
        "publisher": sub.text("publisher", max_len=500),
        "sourceUrl": sub.text("sourceUrl", max_len=2000),
        "sample": sub.boolean("sample", False),
        "publishedOn": _iso(sub.date("publishedOn")),
    }
    for error in sub.errors:
        reader.fail(f"guide.{error.field}", error.message)
    return guide


def parse_matter(
    raw: Any, section: str | None = None, row: int | None = None
) -> tuple[MatterData | None, list[FieldError]]:
    reader = Reader(raw, section, row)
    code = reader.text("code", required=True, max_len=CODE_MAX)
    values: dict[str, Any] = {  # model attribute → value (the record's columns)
        "name": reader.text("name", required=True, max_len=200),
        "department": reader.text("department", max_len=120) or "",
        "scope": reader.enum("scope", MatterScope, default=MatterScope.CROSS_PROVINCE),
        "modes": [m.value for m in reader.enum_list("modes", HandlingMode)],
        "modes_sample": reader.boolean("modesSample", False),
        "keywords": reader.string_list("keywords", max_items=50, max_len=40),
        "aliases": reader.string_list("aliases", max_items=50, max_len=200),
        "national_list": reader.text("nationalList", max_len=20),
        "deadline": reader.text("deadline", max_len=80),
        "published": reader.boolean("published", True),
        "source": reader.text("source", max_len=5000),
        "source_url": reader.text("sourceUrl", max_len=2000),
        "is_sample": reader.boolean("sample", False),
    }
    if reader.has("verifiedOn"):  # absent (an API call, an older file): the stored date stays
        values["verified_on"] = reader.date("verifiedOn")
    guide_given = isinstance(raw, dict) and raw.get("guide") is not None
    guide = parse_guide(reader, raw.get("guide")) if isinstance(raw, dict) else None
    if reader.errors or code is None:
        return None, reader.errors
    return MatterData(code=code, values=values, guide=guide, guide_given=guide_given), []


#: `session.info` key: the matters an import loaded in bulk (code → matter, None when absent)
PRELOADED = "tongban.preloaded_matters"
_CHUNK = 500


async def preload_matters(session: AsyncSession, codes: list[str], *, lock: bool = True) -> dict[str, Matter]:
    """Load the matters with these codes, guides included, in a few queries (`lock`: FOR UPDATE on
    PostgreSQL), for the rest of this session: `load_matter` answers from them, and `save_matter`
    changes them in memory (in bulk mode, see `base.Bulk`). An import of 6,000 matters made 6,000
    queries and 6,000 flushes inside the write lock. Returns the ones found; their versions as
    loaded go into the session's `Bulk`, if any (`unchanged_since_planned` checks them)."""
    found: dict[str, Matter | None] = dict.fromkeys(codes)
    for start in range(0, len(codes), _CHUNK):
        query = (
            select(Matter)
            .options(selectinload(Matter.guides))
            .where(Matter.code.in_(codes[start : start + _CHUNK]))
        )
        if lock:
            query = query.with_for_update(of=Matter).execution_options(populate_existing=True)
        for matter in (await session.execute(query)).scalars():
            found[matter.code] = matter
    session.info.setdefault(PRELOADED, {}).update(found)
    loaded = {code: matter for code, matter in found.items() if matter is not None}
    bulk = session.info.get(BULK)
    if bulk is not None:
        bulk.versions.update({code: matter.version for code, matter in loaded.items()})
    return loaded


async def unchanged_since_planned(session: AsyncSession, bulk: Bulk, new_codes: list[str]) -> None:
    """Inside the write transaction: the matters a bulk plan loaded still have the versions it saw
    (locked FOR UPDATE on PostgreSQL), and the ones it creates still do not exist; else CONFLICT
    and nothing is written (somebody saved a matter while the import was being checked)."""
    codes = list(bulk.versions)
    for start in range(0, len(codes), _CHUNK):
        query = (
            select(Matter.code, Matter.version)
            .where(Matter.code.in_(codes[start : start + _CHUNK]))
            .with_for_update()
        )
        rows = (await session.execute(query)).all()
        for code, version in rows:
            if version != bulk.versions[code]:
                raise Conflict(
                    f"导入期间事项 {code} 被他人修改(版本 {bulk.versions[code]} → {version}), 未写入任何数据, 请重新导入"
                )
        if len(rows) != len(codes[start : start + _CHUNK]):
            raise Conflict("导入期间有事项被删除, 未写入任何数据, 请重新导入")
    for start in range(0, len(new_codes), _CHUNK):
        taken_query = select(Matter.code).where(Matter.code.in_(new_codes[start : start + _CHUNK])).limit(1)
        taken = (await session.execute(taken_query)).scalar_one_or_none()
        if taken is not None:
            raise Conflict(f"导入期间事项 {taken} 已被他人新建, 未写入任何数据, 请重新导入")


async def load_matter(session: AsyncSession, code: str, for_update: bool = False) -> Matter | None:
    preloaded: dict[str, Matter] | None = session.info.get(PRELOADED)
    if preloaded is not None and code in preloaded:
        return preloaded[code]
    query = select(Matter).options(selectinload(Matter.guides)).where(Matter.code == code)
    if for_update:
        query = query.with_for_update(of=Matter).execution_options(populate_existing=True)
    result = await session.execute(query)
    return result.scalar_one_or_none()


async def save_matter(
    session: AsyncSession, ctx: ServiceContext, data: MatterData, *, version: int | None = None
) -> Matter:
    """Insert or update by code; nothing is written (no version, no audit) when nothing changed.
    With `version`, a save based on an older version is a CONFLICT instead of an overwrite."""
    require_admin(ctx, "事项清单和办事指南")
    matter = await load_matter(session, data.code, for_update=True)
    if matter is not None and version is not None and version != matter.version:
        raise Conflict(
            f"该事项已被他人修改(当前版本 {matter.version}, 提交版本 {version})",
            matter_snapshot(matter, published_guide(matter)),
        )
    preloaded = session.info.get(PRELOADED)
    bulk = session.info.get(BULK)
    if matter is None:
        matter = Matter(code=data.code, version=1, guides=[], **data.values)
        if bulk is not None:
            bulk.new_matters.append(matter)  # inserted with the others by `write_bulk`
        else:
            session.add(matter)
        if preloaded is not None:
            preloaded[data.code] = matter
        before = None
    else:
        before = matter_snapshot(matter, published_guide(matter))
        for field, value in data.values.items():
            setattr(matter, field, value)
    current_guide = published_guide(matter)
    if data.guide_given and data.guide is not None and guide_snapshot(current_guide) != data.guide:
        if current_guide is not None:
            current_guide.status = GuideStatus.ARCHIVED
        next_version = max((g.version for g in matter.guides), default=0) + 1
        matter.guides.append(
            Guide(
                version=next_version,
                status=GuideStatus.PUBLISHED,
                conditions=data.guide["conditions"],
                materials=data.guide["materials"],
                steps=data.guide["steps"],
                time_limit_days=data.guide["timeLimitDays"],
                fee=data.guide["fee"],
                legal_basis=data.guide["legalBasis"],
                walkthrough=data.guide["walkthrough"],
                publisher=data.guide["publisher"],
                source_url=data.guide["sourceUrl"],
                is_sample=data.guide["sample"],
                source_published_on=_from_iso(data.guide.get("publishedOn")),
                published_at=now(),
            )
        )
    after = matter_snapshot(matter, published_guide(matter))
    await save_tail(
        session,
        ctx.actor,
        matter,
        "matter",
        before,
        after,
        key=lambda m: m.code,
        outbox=("matter", lambda m: m.code),
        flush=preloaded is None and bulk is None,  # a bulk import writes once, after its last matter
    )
    return matter


async def upsert_matter(
    session: AsyncSession, ctx: ServiceContext, raw: dict[str, Any], *, version: int | None = None
) -> Matter:
    data, errors = parse_matter(raw)
    if data is None:
        raise BadInput("事项数据有误", errors)
    return await save_matter(session, ctx, data, version=version)
