"""Issue 14, item 7 (part): a county cannot create liaison groups by typing a new name, a partner
files feedback only as its own region, and the public feedback form's token files one form."""

from __future__ import annotations

import re
from typing import Any

import httpx
from sqlalchemy import select

from api.db import Database
from api.models import Feedback, LiaisonGroup
from api.settings import Settings
from tests.test_staff_helpers import count, read_form, signed_in, with_values


async def test_a_county_cannot_create_a_liaison_group_by_typing_its_name(
    app: Any, settings: Settings
) -> None:
    groups_before = await count(settings, LiaisonGroup)
    async with signed_in(app, settings, "county", "331004") as luqiao:
        form = read_form((await luqiao.get("/staff/contacts/new")).text, "/staff/contacts/new")
        typed = with_values(
            form, name="王联络", regionCode="331004", phone="0576-8000000", liaisonGroup="路桥自建新群"
        )
        refused = await luqiao.post("/staff/contacts/new", data=typed)
        assert refused.status_code == 422
        assert 'id="liaisonGroup-error"' in refused.text and "请从已有联络群中选择" in refused.text
        assert 'value="路桥自建新群"' in refused.text  # what was typed is kept
        assert await count(settings, LiaisonGroup) == groups_before
        existing = with_values(typed, liaisonGroup="台州市跨区域通办联络群")
        assert (await luqiao.post("/staff/contacts/new", data=existing)).status_code == 303
    async with signed_in(app, settings, "admin", "331000") as city:
        form = read_form((await city.get("/staff/contacts/new")).text, "/staff/contacts/new")
        created = with_values(form, name="李联络", regionCode="331004", liaisonGroup="市级新建联络群")
        assert (await city.post("/staff/contacts/new", data=created)).status_code == 303
    assert await count(settings, LiaisonGroup, LiaisonGroup.name == "市级新建联络群") == 1


async def test_a_partner_files_feedback_only_as_its_own_region(app: Any, settings: Settings) -> None:
    async with signed_in(app, settings, "partner", "511300") as nanchong:
        page = await nanchong.get("/staff/feedback/new")
        form = read_form(page.text, "/staff/feedback/new")
        assert form["partnerCode"] == ["511300"]
        posing = with_values(form, description="冒充阜阳提交的反馈内容", partnerCode="341621")
        refused = await nanchong.post("/staff/feedback/new", data=posing)
        assert (
            refused.status_code == 422
            and 'id="partnerCode-error"' in refused.text
            and "本地区" in refused.text
        )
        assert await count(settings, Feedback) == 0
        inside = with_values(form, description="南充市顺庆区的群众反馈材料不一致", partnerCode="511302")
        assert (await nanchong.post("/staff/feedback/new", data=inside)).status_code == 303
        blank = with_values(form, description="未填合作地区时记为本地区", partnerCode="")
        assert (await nanchong.post("/staff/feedback/new", data=blank)).status_code == 303
    database = Database(settings.database_url)
    try:
        async with database.read() as session:
            codes = sorted((await session.execute(select(Feedback.partner_code))).scalars())
    finally:
        await database.dispose()
    assert codes == ["511300", "511302"]


def _token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


async def test_the_public_feedback_token_files_one_form(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    page = await client.get("/")
    data = {
        "csrf_token": _token(page.text),
        "description": "窗口说要户口本原件，网上写的是复印件",
        "stage": "DURING",
    }
    assert (await client.post("/feedback", data=data)).status_code == 303
    replayed = await client.post("/feedback", data=data)
    assert replayed.status_code == 409 and "已经提交过" in replayed.text
    assert "窗口说要户口本原件" in replayed.text  # what was typed is kept
    assert await count(settings, Feedback) == 1
    # the answer carries a fresh token: the no-JavaScript form can still be sent on purpose
    again = await client.post("/feedback", data={**data, "csrf_token": _token(replayed.text)})
    assert again.status_code == 303
    assert await count(settings, Feedback) == 2
    # a field error spends nothing: the same token still files the corrected form
    fresh = _token((await client.get("/")).text)
    bad = await client.post("/feedback", data={"csrf_token": fresh, "description": "差"})
    assert bad.status_code == 400
    assert (
        await client.post("/feedback", data={"csrf_token": fresh, "description": "改正后的反馈内容很清楚"})
    ).status_code == 303
    assert await count(settings, Feedback) == 3
