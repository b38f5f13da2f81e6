"""Feedback forms (问题反馈单) and quick response: filed from the window assistant, then responded
to, escalated to the city, resolved with a note and reopened, each step recorded with its time;
the first-response clock flags forms left unanswered for more than one working day."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from api.db import Database
from api.enums import FeedbackChannel, FeedbackStatus
from api.models import Feedback
from api.settings import Settings
from tests.test_staff_helpers import read_form, signed_in, with_values


async def _feedback(settings: Settings, feedback_id: int) -> Feedback:
    database = Database(settings.database_url)
    try:
        async with database.read() as session:
            return (
                await session.execute(
                    select(Feedback).options(selectinload(Feedback.events)).where(Feedback.id == feedback_id)
                )
            ).scalar_one()
    finally:
        await database.dispose()


def _aware(moment: dt.datetime | None) -> dt.datetime:
    assert moment is not None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


async def _move(client: Any, feedback_id: int, target: str, note: str = "") -> Any:
    page = await client.get(f"/staff/feedback/{feedback_id}")
    forms = re.findall(r'<form method="post" action="/staff/feedback/\d+/move".*?</form>', page.text, re.S)
    form = next(f for f in forms if f'value="{target}"' in f)
    fields = read_form(form, f"/staff/feedback/{feedback_id}/move")
    return await client.post(f"/staff/feedback/{feedback_id}/move", data=with_values(fields, note=note))


async def test_each_workflow_step_is_recorded_with_its_time(app: Any, settings: Settings) -> None:
    async with (
        signed_in(app, settings, "county", "331004") as luqiao,
        signed_in(app, settings, "admin", "331000") as city,
    ):
        desk = await luqiao.get("/staff/desk?home=511302&matter=M-008")
        assert desk.status_code == 200
        fields = read_form(desk.text, "/staff/feedback/new")
        assert fields["matterCode"] == ["M-008"] and fields["homeRegionCode"] == ["511302"]
        assert (
            fields["countyCode"] == ["331004"]
            and fields["partnerCode"] == ["511300"]
            and fields["stage"] == ["DURING"]
        )
        filed = await luqiao.post(
            "/staff/feedback/new",
            data=with_values(fields, description="南充社保卡补换要求本人回户籍地", category="PROCESS"),
        )
        assert filed.status_code == 303
        feedback_id = int(filed.headers["location"].split("/")[-1].split("?")[0])
        item = await _feedback(settings, feedback_id)
        assert (
            item.status == FeedbackStatus.OPEN
            and item.channel == FeedbackChannel.STAFF
            and item.first_response_at is None
        )

        assert (await _move(luqiao, feedback_id, "RESPONDING", "已联系南充市联络人")).status_code == 303
        assert (await _move(luqiao, feedback_id, "ESCALATED", "属地无法解决, 上报市级")).status_code == 303
        # escalated: the county no longer handles it (no buttons; a forged POST is refused)
        page = await luqiao.get(f"/staff/feedback/{feedback_id}")
        assert "/move" not in page.text and "已上报市级" in page.text
        item = await _feedback(settings, feedback_id)
        forged = await luqiao.post(
            f"/staff/feedback/{feedback_id}/move",
            data=with_values(
                read_form(page.text, "/staff/logout"), version=item.version, to_status="RESOLVED", note="x"
            ),
        )
        assert forged.status_code == 403

        # resolving needs a note: the error sits next to it, the status stays
        missing = await _move(city, feedback_id, "RESOLVED", "")
        assert missing.status_code == 422 and 'id="note-RESOLVED-error"' in missing.text
        assert (await _feedback(settings, feedback_id)).status == FeedbackStatus.ESCALATED
        assert (
            await _move(city, feedback_id, "RESOLVED", "经协调, 可异地代收代办, 邮寄送达")
        ).status_code == 303
        assert (
            await _move(city, feedback_id, "RESPONDING", "群众反映仍未收到卡")
        ).status_code == 303  # reopen

    item = await _feedback(settings, feedback_id)
    steps = [(e.from_status, e.to_status) for e in item.events]
    assert steps == [
        (None, "OPEN"),
        ("OPEN", "RESPONDING"),
        ("RESPONDING", "ESCALATED"),
        ("ESCALATED", "RESOLVED"),
        ("RESOLVED", "RESPONDING"),
    ]
    times = [_aware(e.at) for e in item.events]
    assert times == sorted(times)
    assert all(e.actor_name for e in item.events)
    assert item.events[3].note == "经协调, 可异地代收代办, 邮寄送达"
    assert _aware(item.first_response_at) == times[1]
    assert _aware(item.escalated_at) == times[2]
    assert _aware(item.resolved_at) == times[3]
    assert item.resolution == "经协调, 可异地代收代办, 邮寄送达"
    assert item.status == FeedbackStatus.RESPONDING


async def test_a_stale_workflow_step_is_a_conflict_and_keeps_the_note(app: Any, settings: Settings) -> None:
    async with (
        signed_in(app, settings, "admin", "331000") as city,
        signed_in(app, settings, "admin", "331000") as other,
    ):
        form = read_form((await city.get("/staff/feedback/new")).text, "/staff/feedback/new")
        filed = await city.post(
            "/staff/feedback/new", data=with_values(form, description="材料要求不一致", countyCode="331002")
        )
        feedback_id = int(filed.headers["location"].split("/")[-1].split("?")[0])
        page = await city.get(f"/staff/feedback/{feedback_id}")
        forms = re.findall(
            r'<form method="post" action="/staff/feedback/\d+/move".*?</form>', page.text, re.S
        )
        stale_fields = read_form(
            next(f for f in forms if 'value="RESOLVED"' in f), f"/staff/feedback/{feedback_id}/move"
        )
        assert (await _move(other, feedback_id, "RESPONDING", "我来处理")).status_code == 303
        stale = await city.post(
            f"/staff/feedback/{feedback_id}/move", data=with_values(stale_fields, note="我写的解决情况")
        )
        assert stale.status_code == 409
        assert "我写的解决情况" in stale.text and "已被他人处理" in stale.text
    assert (await _feedback(settings, feedback_id)).status == FeedbackStatus.RESPONDING


async def test_first_response_overdue_flag_and_list_filters(app: Any, settings: Settings) -> None:
    async with signed_in(app, settings, "admin", "331000") as city:
        form = read_form((await city.get("/staff/feedback/new")).text, "/staff/feedback/new")
        old = await city.post(
            "/staff/feedback/new",
            data=with_values(
                form, description="上周提交的问题没人回", countyCode="331004", partnerCode="511300"
            ),
        )
        fresh = await city.post(
            "/staff/feedback/new", data=with_values(form, description="今天刚提交的问题", countyCode="331083")
        )
        old_id = int(old.headers["location"].split("/")[-1].split("?")[0])
        fresh_id = int(fresh.headers["location"].split("/")[-1].split("?")[0])
        database = Database(settings.database_url)
        async with database.write() as session:
            await session.execute(
                update(Feedback)
                .where(Feedback.id == old_id)
                .values(created_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=8))
            )
        await database.dispose()

        overdue = await city.get("/staff/feedback?overdue=1")
        assert "上周提交的问题没人回" in overdue.text and "今天刚提交的问题" not in overdue.text
        assert "超时未响应" in overdue.text
        assert "超过1个工作日未首次响应" in (await city.get(f"/staff/feedback/{old_id}")).text
        assert "超过1个工作日" not in (await city.get(f"/staff/feedback/{fresh_id}")).text

        by_county = await city.get("/staff/feedback?county=331083")
        assert "今天刚提交的问题" in by_county.text and "上周提交的问题没人回" not in by_county.text
        by_partner = await city.get("/staff/feedback?partner=511300")
        assert "上周提交的问题没人回" in by_partner.text and "今天刚提交的问题" not in by_partner.text
        by_status = await city.get("/staff/feedback?status=RESOLVED")
        assert "上周提交的问题没人回" not in by_status.text

    # a county sees its own county's forms only; a partner those about its region
    async with signed_in(app, settings, "county", "331083") as yuhuan:
        listing = await yuhuan.get("/staff/feedback")
        assert "今天刚提交的问题" in listing.text and "上周提交的问题没人回" not in listing.text
        assert (await yuhuan.get(f"/staff/feedback/{old_id}")).status_code == 403
    async with signed_in(app, settings, "partner", "511300") as nanchong:
        listing = await nanchong.get("/staff/feedback")
        assert "上周提交的问题没人回" in listing.text and "今天刚提交的问题" not in listing.text
        page = await nanchong.get(f"/staff/feedback/{old_id}")
        assert page.status_code == 200 and "/move" not in page.text


async def test_partner_staff_file_feedback_about_their_region(app: Any, settings: Settings) -> None:
    async with signed_in(app, settings, "partner", "511300") as nanchong:
        form = read_form((await nanchong.get("/staff/feedback/new")).text, "/staff/feedback/new")
        filed = await nanchong.post(
            "/staff/feedback/new",
            data=with_values(form, description="我市群众在台州办理医保转移遇阻", countyCode="331004"),
        )
        assert filed.status_code == 303
        feedback_id = int(filed.headers["location"].split("/")[-1].split("?")[0])
    item = await _feedback(settings, feedback_id)
    assert (
        item.channel == FeedbackChannel.PARTNER
        and item.partner_code == "511300"
        and item.county_code == "331004"
    )
