"""Optimistic-version checks for the services whose upsert takes no version (contacts, partner
indices; matters delegate to `upsert_matter(version=…)`), so that a staff form's stale save is a CONFLICT, never a silent overwrite.

Each wrapper reads the record inside the caller's write transaction, compares the version the
editor started from, and raises `Conflict` carrying the current state; otherwise it calls the
one service function for that record, which parses, permits, writes, audits and queues as usual.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import Contact, LiaisonGroup, Matter, Region
from api.services.base import Conflict, NotFound, ServiceContext, UnknownRegion
from api.services.directory import upsert_contact
from api.services.matters import upsert_matter
from api.services.partners import set_partner_indices
from api.services.permissions import require_admin
from api.services.snapshots import contact_snapshot, partner_snapshot


async def _lock(session: AsyncSession, query: Any) -> None:
    """Hold the row until the transaction ends (PostgreSQL), so two concurrent saves of the same
    version cannot both pass the check; SQLite's BEGIN IMMEDIATE already serialises writers."""
    await session.execute(query.with_for_update())


async def update_matter(
    session: AsyncSession, ctx: ServiceContext, code: str, version: int, raw: dict[str, Any]
) -> Any:
    """An edit of an existing matter (a form never creates one by accident through a changed code)."""
    require_admin(ctx, "事项清单和办事指南")
    if (await session.execute(select(Matter.id).where(Matter.code == code))).first() is None:
        raise NotFound(f"没有编码为 {code} 的事项")
    return await upsert_matter(session, ctx, {**raw, "code": code}, version=version)


async def create_contact(session: AsyncSession, ctx: ServiceContext, raw: dict[str, Any]) -> Contact:
    """A new directory entry; it gets a stable key so later edits find it (contacts are keyed)."""
    key = raw.get("key") or f"contact-{secrets.token_hex(4)}"
    return await upsert_contact(session, ctx, {**raw, "key": key})


async def update_contact(
    session: AsyncSession, ctx: ServiceContext, contact_id: int, version: int, raw: dict[str, Any]
) -> Contact:
    await _lock(session, select(Contact.id).where(Contact.id == contact_id))
    contact = await session.get(Contact, contact_id)
    if contact is None:
        raise NotFound(f"没有编号为 {contact_id} 的联络人")
    if contact.version != version:
        group = await session.get(LiaisonGroup, contact.group_id) if contact.group_id else None
        raise Conflict(
            f"该联络人已被他人修改(当前版本 {contact.version}, 提交版本 {version})",
            contact_snapshot(contact, group.name if group else None),
        )
    if contact.key is None:  # an imported entry without a key: give it one, keyed upserts need it
        duplicate = (
            await session.execute(select(Contact.id).where(Contact.key == f"contact-{contact.id}"))
        ).first()
        contact.key = (
            f"contact-{contact.id}" if duplicate is None else f"contact-{contact.id}-{secrets.token_hex(2)}"
        )
    return await upsert_contact(session, ctx, {**raw, "key": contact.key})


async def update_partner_indices(
    session: AsyncSession,
    ctx: ServiceContext,
    region_code: str,
    version: int,
    population_index: Any,
    cooperation_index: Any,
) -> Region:
    require_admin(ctx, "合作地区指数")
    await _lock(session, select(Region.code).where(Region.code == region_code))
    region = await session.get(Region, region_code)
    if region is None:
        raise UnknownRegion(f"未知行政区划代码 {region_code}")
    if (region.version or 1) != version:
        raise Conflict(
            f"该地区指数已被他人修改(当前版本 {region.version}, 提交版本 {version})", partner_snapshot(region)
        )
    return await set_partner_indices(session, ctx, region_code, population_index, cooperation_index)
