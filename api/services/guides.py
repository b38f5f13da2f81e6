"""Unified service guides (办事指南) as separate draft and publish steps.

`api.services.matters.save_matter` publishes a changed guide at once, which suits imports and the
API. Staff at a desk work differently: they draft a new version over days, compare it with the one
in force, and publish when it is right. A matter has at most one open draft (one row with status
DRAFT); publishing it archives the version in force, makes the draft the newest published version,
bumps the matter's version, and queues the matter so the search index and every county's pages
follow. Only the city's admins change guides (统一业务办理标准: one guide for all counties).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.enums import GuideStatus
from api.models import Guide, Matter
from api.services.base import BadInput, Conflict, FieldError, NotFound, ServiceContext, audit, now, queue
from api.services.fields import Reader
from api.services.matters import load_matter, parse_guide
from api.services.permissions import require_admin
from api.services.snapshots import guide_snapshot, matter_snapshot, published_guide


def draft_of(matter: Matter) -> Guide | None:
    drafts = [g for g in matter.guides if getattr(g.status, "value", g.status) == GuideStatus.DRAFT.value]
    return max(drafts, key=lambda g: g.version) if drafts else None


def parse_guide_form(raw: dict[str, Any]) -> tuple[dict[str, Any] | None, list[FieldError]]:
    """The guide part of the import format, with errors named by the guide's own fields."""
    reader = Reader({})
    guide = parse_guide(reader, raw)
    errors = [FieldError(e.field.removeprefix("guide."), e.message) for e in reader.errors]
    return (None if errors else guide), errors


def _apply(guide: Guide, data: dict[str, Any]) -> None:
    guide.conditions = data["conditions"]
    guide.materials = data["materials"]
    guide.steps = data["steps"]
    guide.time_limit_days = data["timeLimitDays"]
    guide.fee = data["fee"]
    guide.legal_basis = data["legalBasis"]
    guide.walkthrough = data["walkthrough"]
    guide.publisher = data["publisher"]
    guide.source_url = data["sourceUrl"]
    guide.is_sample = data["sample"]
    guide.source_published_on = (
        dt.date.fromisoformat(data["publishedOn"]) if data.get("publishedOn") else None
    )


async def _matter(session: AsyncSession, code: str) -> Matter:
    matter = await load_matter(session, code)
    if matter is None:
        raise NotFound(f"没有编码为 {code} 的事项")
    return matter


async def save_draft(
    session: AsyncSession,
    ctx: ServiceContext,
    code: str,
    raw: dict[str, Any],
    *,
    draft_version: int | None = None,
) -> Guide:
    """Create the matter's draft or change it. `draft_version` is the draft's version number the
    editor started from (None: they started from no draft); someone else's newer draft is a conflict."""
    data, errors = parse_guide_form(raw)
    if data is None:
        raise BadInput("办事指南有误", errors)
    require_admin(ctx, "办事指南")
    matter = await _matter(session, code)
    draft = draft_of(matter)
    if draft is not None and draft_version != draft.version:
        raise Conflict(
            "他人已先保存了该事项的指南草稿", {"version": draft.version, **(guide_snapshot(draft) or {})}
        )
    before = guide_snapshot(draft)
    if draft is None:
        next_version = max((g.version for g in matter.guides), default=0) + 1
        draft = Guide(version=next_version, status=GuideStatus.DRAFT)
        matter.guides.append(draft)
    _apply(draft, data)
    after = guide_snapshot(draft)
    if before == after:
        return draft
    await session.flush()
    await audit(
        session,
        ctx.actor,
        "guide",
        f"{code}#v{draft.version}",
        "draft" if before is None else "update",
        before,
        after,
    )
    return draft


async def publish_draft(session: AsyncSession, ctx: ServiceContext, code: str, draft_version: int) -> Guide:
    """Publish the draft as the newest version in force; the previous one is archived, never lost."""
    require_admin(ctx, "办事指南")
    matter = await _matter(session, code)
    draft = draft_of(matter)
    if draft is None or draft.version != draft_version:
        raise Conflict(
            "草稿已变化(已被发布、放弃或他人修改), 请刷新后再试", guide_snapshot(draft) if draft else None
        )
    before = matter_snapshot(matter, published_guide(matter))
    for guide in matter.guides:
        if guide is not draft and getattr(guide.status, "value", guide.status) == GuideStatus.PUBLISHED.value:
            guide.status = GuideStatus.ARCHIVED
    newest = max(g.version for g in matter.guides)
    if draft.version < newest:  # someone published through the API meanwhile: stay the newest
        draft.version = newest + 1
    draft.status = GuideStatus.PUBLISHED
    draft.published_at = now()
    matter.version = (matter.version or 1) + 1
    after = matter_snapshot(matter, draft)
    await session.flush()
    await audit(session, ctx.actor, "matter", matter.code, "update", before, after)
    queue(session, "matter", matter.code)
    return draft


async def discard_draft(session: AsyncSession, ctx: ServiceContext, code: str, draft_version: int) -> None:
    require_admin(ctx, "办事指南")
    matter = await _matter(session, code)
    draft = draft_of(matter)
    if draft is None or draft.version != draft_version:
        raise Conflict("草稿已变化, 请刷新后再试", None)
    before = guide_snapshot(draft)
    matter.guides.remove(draft)
    await session.flush()
    await audit(session, ctx.actor, "guide", f"{code}#v{draft_version}", "discard", before, None)


def guide_text_lines(snapshot: dict[str, Any] | None) -> list[str]:
    """A guide as lines a person reads, for a line-by-line diff between versions."""
    if not snapshot:
        return []
    lines: list[str] = []
    lines.append(f"【受理条件】{snapshot.get('conditions') or ''}")
    lines.append("【申请材料】")
    for number, material in enumerate(snapshot.get("materials") or [], start=1):
        need = "必需" if material.get("required", True) else "非必需"
        copies = f", {material['copies']}份" if material.get("copies") else ""
        note = f"({material['note']})" if material.get("note") else ""
        lines.append(f"  {number}. {material.get('name', '')}[{need}{copies}]{note}")
    lines.append("【办理流程】")
    for number, step in enumerate(snapshot.get("steps") or [], start=1):
        lines.append(f"  {number}. {step}")
    lines.append(
        f"【办理时限】{snapshot.get('timeLimitDays') if snapshot.get('timeLimitDays') is not None else ''}个工作日"
    )
    lines.append(f"【收费】{snapshot.get('fee') or ''}")
    lines.append(f"【设定依据】{snapshot.get('legalBasis') or ''}")
    lines.append(f"【教你办】{snapshot.get('walkthrough') or ''}")
    lines.append(f"【发布单位】{snapshot.get('publisher') or ''}")
    return [line for chunk in lines for line in chunk.splitlines() or [""]]
