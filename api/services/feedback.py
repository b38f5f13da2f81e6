"""Problem feedback forms (问题反馈单) and their quick-response workflow.

Anyone may file one (the public "this did not help" form is anonymous); staff respond, resolve or
escalate it to the city. Every step is recorded with its time, so the first-response clock (flagged
after one working day) and the resolution time can be measured.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from api.enums import FeedbackChannel, FeedbackStage, FeedbackStatus, Role
from api.models import Feedback, FeedbackEvent
from api.rules import local_county_of
from api.services.base import BadInput, Conflict, FieldError, Forbidden, NotFound, ServiceContext, audit, now
from api.services.fields import Reader
from api.services.permissions import feedback_partner_problem, may_handle_feedback

CATEGORIES = {
    "SYSTEM": "系统对接",
    "PROCESS": "业务流程衔接",
    "STANDARD": "标准不一",
    "MATERIALS": "材料不同",
    "RESPONSIBILITY": "职能交叉",
    "INFORMATION": "信息不准确",
    "OTHER": "其他",
}

TRANSITIONS: dict[FeedbackStatus, set[FeedbackStatus]] = {
    FeedbackStatus.OPEN: {FeedbackStatus.RESPONDING, FeedbackStatus.RESOLVED, FeedbackStatus.ESCALATED},
    FeedbackStatus.RESPONDING: {FeedbackStatus.RESOLVED, FeedbackStatus.ESCALATED},
    FeedbackStatus.ESCALATED: {FeedbackStatus.RESPONDING, FeedbackStatus.RESOLVED},
    FeedbackStatus.RESOLVED: {FeedbackStatus.RESPONDING},
}


@dataclass(frozen=True)
class FeedbackData:
    values: dict[str, Any]


def parse_feedback(raw: Any, ctx: ServiceContext) -> tuple[FeedbackData | None, list[FieldError]]:
    reader = Reader(raw)
    description = reader.text("description", required=True, max_len=4000)
    if description is not None and len(description.strip()) < 4:
        reader.fail("description", "请简要描述遇到的问题(至少4个字)")
    codes = {}
    for field in ("homeRegionCode", "countyCode", "partnerCode"):
        code = reader.text(field, max_len=12)
        if code is not None and code not in ctx.tree:
            reader.fail(field, f"未知行政区划代码 {code}")
            code = None
        codes[field] = code
    county = codes["countyCode"]
    if county is not None and local_county_of(ctx.tree, ctx.home_city, county) is None:
        reader.fail("countyCode", f"应为{ctx.tree.name(ctx.home_city)}下辖的县(市、区)")
    category = reader.text("category", max_len=40)
    if category is not None and category not in CATEGORIES:
        reader.fail("category", "可选: " + ", ".join(f"{k}({v})" for k, v in CATEGORIES.items()))
    values = {
        "description": description,
        "stage": reader.enum("stage", FeedbackStage),
        "category": category,
        "matter_code": reader.text("matterCode", max_len=40),
        "home_region_code": codes["homeRegionCode"],
        "county_code": local_county_of(ctx.tree, ctx.home_city, county) if county else None,
        "partner_code": codes["partnerCode"],
        "page_url": reader.text("pageUrl", max_len=500),
        "contact": reader.text("contact", max_len=200),
    }
    if reader.errors:
        return None, reader.errors
    return FeedbackData(values), []


async def _next_reference(session: AsyncSession, day: dt.date) -> str:
    count = (await session.execute(select(func.count()).select_from(Feedback))).scalar_one()
    return f"FK{day:%Y%m%d}-{count + 1:05d}-{secrets.token_hex(2)}"


async def submit_feedback(session: AsyncSession, ctx: ServiceContext, raw: dict[str, Any]) -> Feedback:
    """File a new feedback form; the channel follows from who files it."""
    data, errors = parse_feedback(raw, ctx)
    if data is None:
        raise BadInput("反馈内容有误", errors)
    channel = {
        "public": FeedbackChannel.PUBLIC,
    }.get(ctx.actor.via, FeedbackChannel.PARTNER if ctx.actor.role == Role.PARTNER else FeedbackChannel.STAFF)
    values = dict(data.values)
    if ctx.actor.role == Role.PARTNER and ctx.actor.via != "public":
        problem = feedback_partner_problem(ctx, values["partner_code"])
        if problem is not None:
            raise BadInput("反馈内容有误", [FieldError("partnerCode", problem)])
        values["partner_code"] = values["partner_code"] or ctx.actor.region_code
    feedback = Feedback(
        reference=await _next_reference(session, ctx.today),
        channel=channel,
        status=FeedbackStatus.OPEN,
        version=1,
        events=[
            FeedbackEvent(
                actor_name=ctx.actor.name, from_status=None, to_status=FeedbackStatus.OPEN.value, note="提交"
            )
        ],
        **values,
    )
    session.add(feedback)
    await session.flush()
    await audit(
        session,
        ctx.actor,
        "feedback",
        feedback.reference,
        "create",
        None,
        {"status": "OPEN", **{k: getattr(v, "value", v) for k, v in values.items()}},
    )
    return feedback


def may_handle(ctx: ServiceContext, feedback: Feedback) -> bool:
    """Who may move a form along: `permissions.may_handle_feedback`."""
    return may_handle_feedback(ctx, feedback)


async def move_feedback(
    session: AsyncSession,
    ctx: ServiceContext,
    feedback_id: int,
    version: int,
    to_status: str,
    note: str | None,
) -> Feedback:
    """Respond, resolve, escalate or reopen; each step recorded with its time."""
    feedback = (
        await session.execute(
            select(Feedback).options(selectinload(Feedback.events)).where(Feedback.id == feedback_id)
        )
    ).scalar_one_or_none()
    if feedback is None:
        raise NotFound(f"没有编号为 {feedback_id} 的反馈单")
    if not may_handle(ctx, feedback):
        raise Forbidden("无权处理这张反馈单")
    if version != feedback.version:
        raise Conflict(
            "该反馈单已被他人处理, 请刷新后再试",
            {"status": feedback.status.value, "version": feedback.version},
        )
    try:
        target = FeedbackStatus(to_status)
    except ValueError:
        raise BadInput("状态无效", [FieldError("status", f"无效状态 {to_status}")]) from None
    current = FeedbackStatus(feedback.status)
    if target not in TRANSITIONS[current]:
        raise BadInput("不能这样流转", [FieldError("status", f"不能从“{current.value}”转为“{target.value}”")])
    if target == FeedbackStatus.RESOLVED and not (note or "").strip():
        raise BadInput("请填写解决情况", [FieldError("note", "办结时须记录解决情况")])
    moment = now()
    before = {"status": current.value}
    feedback.status = target
    if feedback.first_response_at is None:
        feedback.first_response_at = moment
    if target == FeedbackStatus.ESCALATED:
        feedback.escalated_at = moment
    if target == FeedbackStatus.RESOLVED:
        feedback.resolved_at = moment
        feedback.resolution = note
    feedback.version += 1
    feedback.events.append(
        FeedbackEvent(
            actor_name=ctx.actor.name, from_status=current.value, to_status=target.value, note=note, at=moment
        )
    )
    await audit(
        session,
        ctx.actor,
        "feedback",
        feedback.reference,
        "update",
        before,
        {"status": target.value, "note": note},
    )
    return feedback


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Monday–Friday days after `start` up to and including `end` (public holidays not modelled)."""
    days = 0
    current = start
    while current < end:
        current += dt.timedelta(days=1)
        if current.weekday() < 5:
            days += 1
    return days


def response_overdue(feedback: Feedback, today: dt.date) -> bool:
    """Quick response: flagged when no first response after one working day."""
    if feedback.first_response_at is not None:
        return False
    created = feedback.created_at.date() if feedback.created_at else today
    return working_days_between(created, today) > 1
