"""The liaison directory (通办通讯录, 一录), liaison groups (一群) and pairing relations
(对口援疆 / 东西部协作 / 对口合作): parse, permit, write, audit."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.enums import RelationKind
from api.models import Contact, LiaisonGroup, RegionRelation
from api.rules import local_county_of
from api.services.base import (
    BULK,
    NOT_LOADED,
    BadInput,
    FieldError,
    ServiceContext,
    audit,
    preloaded,
    queue,
    remember,
    save_tail,
)
from api.services.fields import Reader
from api.services.halls import natural_key
from api.services.permissions import may_create_liaison_group, require_admin, require_contact_edit
from api.services.snapshots import contact_snapshot, relation_snapshot


@dataclass(frozen=True)
class RelationData:
    key: str
    values: dict[str, Any]


@dataclass(frozen=True)
class ContactData:
    key: str | None
    values: dict[str, Any]
    group_name: str | None


def parse_relation(
    raw: Any, ctx: ServiceContext, section: str | None = None, row: int | None = None
) -> tuple[RelationData | None, list[FieldError]]:
    reader = Reader(raw, section, row)
    key = reader.text("key", required=True, max_len=80)
    local = reader.text("localCode", required=True, max_len=12)
    partner = reader.text("partnerCode", required=True, max_len=12)
    for field, code in (("localCode", local), ("partnerCode", partner)):
        if code is not None and code not in ctx.tree:
            reader.fail(field, f"未知行政区划代码 {code}")
    if (
        local is not None
        and local in ctx.tree
        and local != ctx.home_city
        and local_county_of(ctx.tree, ctx.home_city, local) is None
    ):
        reader.fail("localCode", f"本地一方应在{ctx.tree.name(ctx.home_city)}范围内")
    values: dict[str, Any] = {  # model attribute → value (the record's columns)
        "kind": reader.enum("kind", RelationKind, required=True),
        "local_code": local,
        "partner_code": partner,
        "since": reader.text("since", max_len=80),
        "note": reader.text("note", max_len=5000),
        "source": reader.text("source", max_len=5000),
        "source_url": reader.text("sourceUrl", max_len=2000),
        "is_sample": reader.boolean("sample", False),
    }
    if reader.has("verifiedOn"):  # absent (an API call, an older file): the stored date stays
        values["verified_on"] = reader.date("verifiedOn")
    if reader.errors or key is None:
        return None, reader.errors
    return RelationData(key, values), []


async def save_relation(session: AsyncSession, ctx: ServiceContext, data: RelationData) -> RegionRelation:
    require_admin(ctx, "结对关系")
    relation = preloaded(session, RegionRelation, data.key)
    if relation is NOT_LOADED:
        relation = (
            await session.execute(select(RegionRelation).where(RegionRelation.key == data.key))
        ).scalar_one_or_none()
    before = relation_snapshot(relation) if relation is not None else None
    if relation is None:
        relation = RegionRelation(key=data.key, **data.values)
        session.add(relation)
        remember(session, RegionRelation, data.key, relation)
    else:
        for field, value in data.values.items():
            setattr(relation, field, value)
    after = relation_snapshot(relation)
    if before != after or relation.is_sample != data.values["is_sample"]:
        if session.info.get(BULK) is None:  # a bulk import flushes once, after its last row
            await session.flush()
        await audit(
            session, ctx.actor, "relation", data.key, "create" if before is None else "update", before, after
        )
        # relations are shown from a snapshot kept per change mark (web.data.region_details)
        queue(session, "relation", data.key)
    return relation


def parse_contact(
    raw: Any, ctx: ServiceContext, section: str | None = None, row: int | None = None
) -> tuple[ContactData | None, list[FieldError]]:
    reader = Reader(raw, section, row)
    key = reader.text("key", max_len=80)
    region = reader.text("regionCode", required=True, max_len=12)
    if region is not None and region not in ctx.tree:
        reader.fail("regionCode", f"未知行政区划代码 {region}")
    values: dict[str, Any] = {  # model attribute → value (the record's columns)
        "name": reader.text("name", required=True, max_len=80),
        "region_code": region,
        "organisation": reader.text("organisation", max_len=200),
        "role": reader.text("role", max_len=120),
        "phone": reader.text("phone", max_len=80),
        "email": reader.text("email", max_len=200),
        "is_sample": reader.boolean("sample", False),
    }
    if reader.has("verifiedOn"):  # absent (an API call, an older file): the stored date stays
        values["verified_on"] = reader.date("verifiedOn")
    group = reader.text("liaisonGroup", max_len=200)
    if reader.errors:
        return None, reader.errors
    return ContactData(key, values, group), []


async def _group_id(session: AsyncSession, ctx: ServiceContext, name: str | None) -> int | None:
    """The named liaison group; the city's admins may create one by naming it, others choose one."""
    if not name:
        return None
    group = preloaded(session, LiaisonGroup, name)
    if group is NOT_LOADED:
        group = (
            await session.execute(select(LiaisonGroup).where(LiaisonGroup.name == name))
        ).scalar_one_or_none()
    if group is None:
        if not may_create_liaison_group(ctx):
            raise BadInput(
                "联络人数据有误",
                [
                    FieldError(
                        "liaisonGroup",
                        f"没有名为“{name}”的联络群: 请从已有联络群中选择, 新建联络群请联系市级管理员",
                    )
                ],
            )
        group = LiaisonGroup(name=name)
        session.add(group)
        await session.flush()
        remember(session, LiaisonGroup, name, group)
    return group.id


async def save_contact(session: AsyncSession, ctx: ServiceContext, data: ContactData) -> Contact:
    """Home-city contacts belong to their county. A partner region's liaison may be recorded by the
    city or by any county's staff (the county that signs must record it within 3 days, 一录), and by
    the partner region itself (`permissions.require_contact_edit`)."""
    region = data.values["region_code"]
    require_contact_edit(ctx, region)
    if data.key is None:
        data = replace(data, key=natural_key(region, data.values["name"], "contact"))
    contact = preloaded(session, Contact, data.key)
    if contact is NOT_LOADED:
        contact = (await session.execute(select(Contact).where(Contact.key == data.key))).scalar_one_or_none()
    group_id = await _group_id(session, ctx, data.group_name)
    group_name = data.group_name
    if contact is None:
        contact = Contact(key=data.key, group_id=group_id, version=1, **data.values)
        session.add(contact)
        remember(session, Contact, data.key, contact)
        before = None
    else:
        require_contact_edit(
            ctx, contact.region_code
        )  # nobody takes over another region's contact by its key
        old_group = await session.get(LiaisonGroup, contact.group_id) if contact.group_id else None
        before = contact_snapshot(contact, old_group.name if old_group else None)
        for field, value in data.values.items():
            setattr(contact, field, value)
        contact.group_id = group_id
    after = contact_snapshot(contact, group_name)
    # the changes feed and webhooks follow the directory (signed-in readers only)
    contact_key = lambda c: c.key or str(c.id)  # noqa: E731
    await save_tail(
        session,
        ctx.actor,
        contact,
        "contact",
        before,
        after,
        key=contact_key,
        outbox=("contact", contact_key),
    )
    return contact


async def upsert_contact(session: AsyncSession, ctx: ServiceContext, raw: dict[str, Any]) -> Contact:
    data, errors = parse_contact(raw, ctx)
    if data is None:
        raise BadInput("联络人数据有误", errors)
    return await save_contact(session, ctx, data)
