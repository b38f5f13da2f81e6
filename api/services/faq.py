"""The FAQ handbook (通办常见问题解答知识手册, 一册): editions each May and November, compiled from
resolved feedback forms and curated entries (seed §三.(三).1). Parse, permit, write, audit.

How the records fit together:

- *Working entries* (`edition_id` NULL) are the living handbook that staff curate all year. Those
  marked `published` go into the next edition.
- *Compiling* an edition (admins) snapshots them: the new edition gets a copy of every included
  working entry, the feedback-derived entries of the previous edition (the handbook is cumulative),
  and one new entry per resolved feedback form the compiler picked (question = the problem,
  answer = the recorded resolution). An edition is a draft until published; its entries may be
  polished until then, and it is frozen afterwards, so a printed handbook always matches the site.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.enums import FeedbackStatus
from api.models import FaqEdition, FaqEntry, Feedback
from api.services.base import (
    BadInput,
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    ServiceContext,
    audit,
    now,
    save_tail,
)
from api.services.fields import Reader
from api.services.permissions import may_see_feedback, require_admin, require_local_staff

EDITION_MONTHS = (5, 11)


def entry_snapshot(entry: FaqEntry) -> dict[str, Any]:
    return {
        "question": entry.question,
        "answer": entry.answer,
        "matterCode": entry.matter_code,
        "feedbackId": entry.feedback_id,
        "editionId": entry.edition_id,
        "published": entry.published,
        "sample": entry.is_sample,
    }


def edition_title(year: int, month: int) -> str:
    return f"台州市跨区域通办常见问题解答知识手册({year}年{month}月版)"


def next_edition_month(day: dt.date) -> tuple[int, int]:
    """The edition due next: May or November of this year, or May of next year."""
    for month in EDITION_MONTHS:
        if day.month <= month:
            return day.year, month
    return day.year + 1, EDITION_MONTHS[0]


def _require_staff(ctx: ServiceContext) -> None:
    require_local_staff(ctx, "知识手册")


@dataclass(frozen=True)
class EntryData:
    values: dict[str, Any]


def parse_entry(raw: Any) -> tuple[EntryData | None, list[FieldError]]:
    reader = Reader(raw)
    question = reader.text("question", required=True, max_len=2000)
    answer = reader.text("answer", required=True, max_len=20000)
    if question is not None and len(question) < 4:
        reader.fail("question", "问题至少4个字")
    values: dict[str, Any] = {  # model attribute → value (the record's columns)
        "question": question,
        "answer": answer,
        "matter_code": reader.text("matterCode", max_len=40),
        "published": reader.boolean("published", True),
        "is_sample": reader.boolean("sample", False),
    }
    feedback_id = reader.integer("feedbackId", minimum=1)
    if reader.errors:
        return None, reader.errors
    values["feedback_id"] = feedback_id
    return EntryData(values), []


async def _entry_feedback(session: AsyncSession, entry_id: int) -> int | None:
    entry = await session.get(FaqEntry, entry_id)
    return entry.feedback_id if entry is not None else None


async def _edition(session: AsyncSession, edition_id: int | None) -> FaqEdition | None:
    return await session.get(FaqEdition, edition_id) if edition_id is not None else None


async def save_entry(
    session: AsyncSession,
    ctx: ServiceContext,
    raw: Any,
    *,
    entry_id: int | None = None,
    version: int | None = None,
) -> FaqEntry:
    """Create a working entry, or change an entry (a working one, or one of an unpublished edition)."""
    data, errors = parse_entry(raw)
    if data is None:
        raise BadInput("问答内容有误", errors)
    _require_staff(ctx)
    feedback_id = data.values["feedback_id"]
    unchanged = (
        entry_id is not None
        and feedback_id is not None
        and await _entry_feedback(session, entry_id) == feedback_id
    )
    if feedback_id is not None and not unchanged:
        feedback = await session.get(Feedback, feedback_id)
        if feedback is None or not may_see_feedback(ctx, feedback):
            raise BadInput("问答内容有误", [FieldError("feedbackId", f"没有编号为 {feedback_id} 的反馈单")])
    if entry_id is None:
        entry = FaqEntry(version=1, edition_id=None, **data.values)
        session.add(entry)
        before = None
    else:
        found = await session.get(FaqEntry, entry_id)
        if found is None:
            raise NotFound(f"没有编号为 {entry_id} 的问答")
        entry = found
        edition = await _edition(session, entry.edition_id)
        if edition is not None:
            require_admin(ctx, "手册版本中的问答")
            if edition.published_at is not None:
                raise Forbidden(f"{edition.title}已发布, 不能再修改; 请修改工作稿中的问答, 编入下一版")
        before = entry_snapshot(entry)
        if version is not None and version != entry.version:
            raise Conflict(f"该问答已被他人修改(当前版本 {entry.version}, 提交版本 {version})", before)
        for field, value in data.values.items():
            setattr(entry, field, value)
    after = entry_snapshot(entry)
    await save_tail(session, ctx.actor, entry, "faq", before, after, key=lambda e: str(e.id))
    return entry


async def working_entries(session: AsyncSession) -> list[FaqEntry]:
    return list(
        (
            await session.execute(select(FaqEntry).where(FaqEntry.edition_id.is_(None)).order_by(FaqEntry.id))
        ).scalars()
    )


async def editions(session: AsyncSession, *, published_only: bool = False) -> list[FaqEdition]:
    query = select(FaqEdition).order_by(FaqEdition.year.desc(), FaqEdition.month.desc())
    if published_only:
        query = query.where(FaqEdition.published_at.is_not(None))
    return list((await session.execute(query)).scalars())


async def edition_entries(session: AsyncSession, edition_id: int) -> list[FaqEntry]:
    return list(
        (
            await session.execute(
                select(FaqEntry).where(FaqEntry.edition_id == edition_id).order_by(FaqEntry.id)
            )
        ).scalars()
    )


async def candidate_feedback(session: AsyncSession) -> list[Feedback]:
    """Resolved feedback forms with a recorded resolution that no entry has drawn on yet."""
    used = select(FaqEntry.feedback_id).where(FaqEntry.feedback_id.is_not(None))
    query = (
        select(Feedback)
        .where(
            Feedback.status == FeedbackStatus.RESOLVED,
            Feedback.resolution.is_not(None),
            Feedback.id.not_in(used),
        )
        .order_by(Feedback.resolved_at, Feedback.id)
    )
    return list((await session.execute(query)).scalars())


async def compile_edition(
    session: AsyncSession, ctx: ServiceContext, year: Any, month: Any, feedback_ids: list[int]
) -> FaqEdition:
    """Snapshot the handbook into a new (draft) edition dated May or November."""
    require_admin(ctx, "知识手册版本")
    reader = Reader({"year": year, "month": month})
    year_value = reader.integer("year", minimum=2020, maximum=2100)
    month_value = reader.integer("month", minimum=1, maximum=12)
    if month_value is not None and month_value not in EDITION_MONTHS:
        reader.fail("month", "手册每年5月、11月各编制一版")
    if reader.errors or year_value is None or month_value is None:
        raise BadInput("版本日期有误", reader.errors)
    exists = (
        await session.execute(
            select(FaqEdition).where(FaqEdition.year == year_value, FaqEdition.month == month_value)
        )
    ).scalar_one_or_none()
    if exists is not None:
        raise BadInput("该版本已存在", [FieldError("month", f"{exists.title}已存在")])
    candidates = {f.id: f for f in await candidate_feedback(session)}
    unknown = [i for i in feedback_ids if i not in candidates]
    if unknown:
        raise BadInput(
            "所选反馈单不可编入", [FieldError("feedback", f"反馈单 {i} 未办结或已编入手册") for i in unknown]
        )
    edition = FaqEdition(year=year_value, month=month_value, title=edition_title(year_value, month_value))
    session.add(edition)
    await session.flush()
    copied = 0
    for entry in await working_entries(session):
        if entry.published:
            session.add(_copy(entry, edition.id))
            copied += 1
    previous = (
        await session.execute(
            select(FaqEdition)
            .where(FaqEdition.id != edition.id, FaqEdition.published_at.is_not(None))
            .order_by(FaqEdition.year.desc(), FaqEdition.month.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if previous is not None:
        for entry in await edition_entries(session, previous.id):
            if entry.feedback_id is not None and entry.published:
                session.add(_copy(entry, edition.id))
                copied += 1
    for feedback_id in feedback_ids:
        feedback = candidates[feedback_id]
        session.add(
            FaqEntry(
                edition_id=edition.id,
                question=feedback.description,
                answer=feedback.resolution or "",
                matter_code=feedback.matter_code,
                feedback_id=feedback.id,
                published=True,
                version=1,
            )
        )
        copied += 1
    await session.flush()
    await audit(
        session,
        ctx.actor,
        "faq-edition",
        f"{year_value}-{month_value:02d}",
        "create",
        None,
        {"title": edition.title, "entries": copied, "feedback": sorted(feedback_ids)},
    )
    return edition


def _copy(entry: FaqEntry, edition_id: int) -> FaqEntry:
    return FaqEntry(
        edition_id=edition_id,
        question=entry.question,
        answer=entry.answer,
        matter_code=entry.matter_code,
        feedback_id=entry.feedback_id,
        published=True,
        is_sample=entry.is_sample,
        version=1,
    )


async def publish_edition(session: AsyncSession, ctx: ServiceContext, edition_id: int) -> FaqEdition:
    require_admin(ctx, "知识手册版本")
    edition = await session.get(FaqEdition, edition_id)
    if edition is None:
        raise NotFound(f"没有编号为 {edition_id} 的手册版本")
    if edition.published_at is not None:
        return edition
    edition.published_at = now()
    await audit(
        session,
        ctx.actor,
        "faq-edition",
        f"{edition.year}-{edition.month:02d}",
        "publish",
        {"published": False},
        {"published": True},
    )
    return edition


async def latest_published(session: AsyncSession) -> FaqEdition | None:
    found = await editions(session, published_only=True)
    return found[0] if found else None
