"""Liaison groups (通办联络群, 一群): the chat groups where both sides of an agreement talk before,
during and after handling (三步闭环沟通). Parse, permit (the city's admins), write, audit.

Contacts join a group by name through the contact form (api.services.directory creates a missing
group on the fly); this module lets the city keep each group's channel and notes true.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import Contact, LiaisonGroup
from api.services.base import BadInput, FieldError, NotFound, ServiceContext, save_tail
from api.services.fields import Reader
from api.services.permissions import require_admin


def group_snapshot(group: LiaisonGroup) -> dict[str, Any]:
    return {"name": group.name, "channel": group.channel, "note": group.note}


async def save_group(
    session: AsyncSession, ctx: ServiceContext, raw: Any, *, group_id: int | None = None
) -> LiaisonGroup:
    reader = Reader(raw)
    values = {
        "name": reader.text("name", required=True, max_len=200),
        "channel": reader.text("channel", max_len=120),
        "note": reader.text("note", max_len=5000),
    }
    if reader.errors:
        raise BadInput("联络群信息有误", reader.errors)
    require_admin(ctx, "通办联络群")
    same_name = (
        await session.execute(select(LiaisonGroup).where(LiaisonGroup.name == values["name"]))
    ).scalar_one_or_none()
    if same_name is not None and same_name.id != group_id:
        raise BadInput("联络群名称重复", [FieldError("name", f"已有名为“{values['name']}”的联络群")])
    if group_id is None:
        group = LiaisonGroup(**values)
        session.add(group)
        before = None
    else:
        found = await session.get(LiaisonGroup, group_id)
        if found is None:
            raise NotFound(f"没有编号为 {group_id} 的联络群")
        group = found
        before = group_snapshot(group)
        for field, value in values.items():
            setattr(group, field, value)
    after = group_snapshot(group)
    await save_tail(
        session, ctx.actor, group, "liaison-group", before, after, key=lambda g: str(g.id), versioned=False
    )
    return group


async def groups_with_counts(session: AsyncSession) -> list[tuple[LiaisonGroup, int]]:
    counts = dict(
        (
            await session.execute(
                select(Contact.group_id, func.count())
                .where(Contact.group_id.is_not(None))
                .group_by(Contact.group_id)
            )
        ).all()
    )
    groups = (await session.execute(select(LiaisonGroup).order_by(LiaisonGroup.name))).scalars()
    return [(g, int(counts.get(g.id, 0))) for g in groups]
