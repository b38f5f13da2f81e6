"""Cooperation activities (issue 21) through GraphQL and the staff forms, on SQLite and PostgreSQL:
who may record what (county vs another county vs partner vs admin, nothing changes on a refusal),
who reads what, every change audited and in the outbox, and the due lists on the pages."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from api.db import Database
from api.models import Activity, ChangeLog, OutboxEvent
from api.services.base import today
from api.settings import Settings
from tests.conftest import make_token
from tests.test_graphql_api import codes, gql
from tests.test_staff_helpers import read_form, signed_in, with_values

CREATE = """mutation($input: ActivityInput!) { createActivity(input: $input) {
  id kind heldOn title participants outcome version partner { code name tier } local { code name } } }"""
LIST = """query($partner: String, $kind: ActivityKind) { activities(partnerCode: $partner, kind: $kind, first: 50) {
  totalCount edges { node { id kind title partner { code } local { code } } } } }"""
DUE = "query($on: Date) { consultationsDue(onDate: $on) { code name tier } }"

LUQIAO, YUHUAN, CITY = "331004", "331083", "331000"
NANCHONG, BIJIE, ALAR = "511300", "520500", "659002"


def activity_input(**changes: Any) -> dict[str, Any]:
    base = {
        "kind": "CONSULTATION",
        "partnerCode": NANCHONG,
        "localCode": LUQIAO,
        "heldOn": "2026-03-10",
        "title": "南充—路桥通办合作城市会商",
        "participants": 12,
        "outcome": "互认3项材料",
    }
    return {**base, **changes}


async def counts(settings: Settings) -> tuple[int, int, int]:
    database = Database(settings.database_url)
    try:
        async with database.read() as session:
            found = []
            for model, where in (
                (Activity, None),
                (ChangeLog, ChangeLog.entity == "activity"),
                (OutboxEvent, OutboxEvent.entity == "activity"),
            ):
                query = select(func.count()).select_from(model)
                if where is not None:
                    query = query.where(where)
                found.append(int((await session.execute(query)).scalar_one()))
            return found[0], found[1], found[2]
    finally:
        await database.dispose()


# ------------------------------------------------------------------ GraphQL: who may record


async def test_graphql_county_records_its_own_county_only(
    client: httpx.AsyncClient, settings: Settings, county_token: Any
) -> None:
    token = await county_token(LUQIAO)
    body = await gql(client, CREATE, {"input": activity_input()}, token)
    assert "errors" not in body, body
    made = body["data"]["createActivity"]
    assert (
        made["kind"] == "CONSULTATION"
        and made["local"]["code"] == LUQIAO
        and made["partner"]["tier"] == "RED"
    )
    assert made["heldOn"] == "2026-03-10" and made["participants"] == 12 and made["version"] == 1
    assert await counts(settings) == (1, 1, 1)  # stored, audited, in the outbox

    for other in (YUHUAN, CITY):  # another county, or the city itself
        refused = await gql(client, CREATE, {"input": activity_input(localCode=other)}, token)
        assert codes(refused) == ["FORBIDDEN"] and refused["data"] is None
    assert await counts(settings) == (1, 1, 1)


async def test_graphql_partner_may_not_record_and_anonymous_is_unauthenticated(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    partner = await make_token(settings, "nanchong-liaison", "partner", NANCHONG)
    assert codes(await gql(client, CREATE, {"input": activity_input()}, partner)) == ["FORBIDDEN"]
    assert codes(await gql(client, CREATE, {"input": activity_input()})) == ["UNAUTHENTICATED"]
    assert codes(await gql(client, LIST, {})) == ["UNAUTHENTICATED"]
    assert codes(await gql(client, DUE, {})) == ["UNAUTHENTICATED"]
    assert await counts(settings) == (0, 0, 0)


async def test_graphql_admin_records_any_and_bad_input_is_coded(
    client: httpx.AsyncClient, settings: Settings, admin_token: str
) -> None:
    for local in (CITY, YUHUAN):
        body = await gql(
            client,
            CREATE,
            {"input": activity_input(localCode=local, kind="GUIDANCE", partnerCode=ALAR)},
            admin_token,
        )
        assert "errors" not in body, body
    future = (today() + dt.timedelta(days=2)).isoformat()
    for bad in (
        activity_input(partnerCode="331004"),
        activity_input(localCode="331004001"),
        activity_input(heldOn=future),
        activity_input(participants=-1),
        activity_input(partnerCode="000000"),
        activity_input(title="  "),
    ):
        refused = await gql(client, CREATE, {"input": bad}, admin_token)
        assert codes(refused) == ["BAD_INPUT"], (bad, refused)
    assert await counts(settings) == (2, 2, 2)


async def test_graphql_update_checks_the_version_and_both_counties(
    client: httpx.AsyncClient, settings: Settings, county_token: Any
) -> None:
    luqiao = await county_token(LUQIAO)
    yuhuan = await county_token(YUHUAN)
    made = (await gql(client, CREATE, {"input": activity_input()}, luqiao))["data"]["createActivity"]
    update = """mutation($id: ID!, $v: Int!, $input: ActivityInput!) { updateActivity(id: $id, version: $v, input: $input) { version title } }"""
    ok = await gql(
        client, update, {"id": made["id"], "v": 1, "input": activity_input(title="会商纪要")}, luqiao
    )
    assert ok["data"]["updateActivity"] == {"version": 2, "title": "会商纪要"}
    assert codes(
        await gql(client, update, {"id": made["id"], "v": 1, "input": activity_input()}, luqiao)
    ) == ["CONFLICT"]
    # 玉环 may neither change 路桥's record nor take it over
    assert codes(
        await gql(
            client, update, {"id": made["id"], "v": 2, "input": activity_input(localCode=YUHUAN)}, yuhuan
        )
    ) == ["FORBIDDEN"]
    assert await counts(settings) == (1, 2, 2)


# ------------------------------------------------------------------ GraphQL: who reads what


async def test_graphql_partner_reads_only_its_own_regions_work(
    client: httpx.AsyncClient, settings: Settings, admin_token: str
) -> None:
    for partner, kind in (
        (NANCHONG, "CONSULTATION"),
        ("511302", "REVIEW"),
        (BIJIE, "CONSULTATION"),
        ("510000", "JOINT_TRAINING"),
    ):
        body = await gql(
            client, CREATE, {"input": activity_input(partnerCode=partner, kind=kind)}, admin_token
        )
        assert "errors" not in body, body
    everything = (await gql(client, LIST, {}, admin_token))["data"]["activities"]
    assert everything["totalCount"] == 4
    county = await make_token(settings, "tiantai-staff", "county", "331023")
    assert (await gql(client, LIST, {}, county))["data"]["activities"]["totalCount"] == 4

    nanchong = await make_token(settings, "nanchong-liaison", "partner", NANCHONG)
    seen = (await gql(client, LIST, {}, nanchong))["data"]["activities"]
    # its own city, a district inside it, and its province's meeting; not 毕节's
    assert sorted(e["node"]["partner"]["code"] for e in seen["edges"]) == ["510000", NANCHONG, "511302"]
    assert seen["totalCount"] == 3
    assert (await gql(client, LIST, {"partner": BIJIE}, nanchong))["data"]["activities"]["totalCount"] == 0
    by_kind = (await gql(client, LIST, {"kind": "REVIEW"}, nanchong))["data"]["activities"]
    assert [e["node"]["partner"]["code"] for e in by_kind["edges"]] == ["511302"]


async def test_consultations_due_on_fixed_dates(
    client: httpx.AsyncClient, settings: Settings, admin_token: str
) -> None:
    """The demo's RED partners are 南充 and 毕节 (sample indices): due until consulted, and due again
    once the consultation is more than 12 months old."""
    before = await gql(client, DUE, {"on": "2026-06-01"}, admin_token)
    assert [r["code"] for r in before["data"]["consultationsDue"]] == [NANCHONG, BIJIE]
    assert all(r["tier"] == "RED" for r in before["data"]["consultationsDue"])
    await gql(client, CREATE, {"input": activity_input(heldOn="2025-06-01")}, admin_token)
    assert [
        r["code"]
        for r in (await gql(client, DUE, {"on": "2026-06-01"}, admin_token))["data"]["consultationsDue"]
    ] == [BIJIE]
    assert [
        r["code"]
        for r in (await gql(client, DUE, {"on": "2026-06-02"}, admin_token))["data"]["consultationsDue"]
    ] == [NANCHONG, BIJIE]
    assert [
        r["code"]
        for r in (await gql(client, DUE, {"on": "2025-05-31"}, admin_token))["data"]["consultationsDue"]
    ] == [NANCHONG, BIJIE]
    nanchong = await make_token(settings, "nanchong-liaison", "partner", NANCHONG)
    assert (await gql(client, DUE, {"on": "2026-06-01"}, nanchong))["data"]["consultationsDue"] == []


# ------------------------------------------------------------------ staff forms


async def test_form_county_records_own_and_a_forged_post_for_another_county_changes_nothing(
    app: Any, settings: Settings
) -> None:
    async with signed_in(app, settings, "county", LUQIAO) as luqiao:
        page = await luqiao.get("/staff/activities/new?partner=511300&kind=CONSULTATION")
        assert page.status_code == 200
        # only its own county is offered
        assert (
            'value="331004"' in page.text
            and 'value="331083"' not in page.text
            and 'value="331000"' not in page.text
        )
        fields = with_values(
            read_form(page.text, "/staff/activities/new"),
            heldOn="2026-03-10",
            title="南充—路桥会商",
            participants="8",
        )
        saved = await luqiao.post("/staff/activities/new", data=fields)
        assert (
            saved.status_code == 303
            and saved.headers["location"] == "/staff/activities/partner/511300?saved=1"
        )
        assert await counts(settings) == (1, 1, 1)

        forged = with_values(fields, localCode=YUHUAN)
        refused = await luqiao.post("/staff/activities/new", data=forged)
        assert refused.status_code == 403
        # a bad field: shown next to it, what was typed kept, nothing stored
        bad = with_values(fields, participants="很多", title="保留的标题")
        shown = await luqiao.post("/staff/activities/new", data=bad)
        assert shown.status_code == 422 and "应为整数" in shown.text and "保留的标题" in shown.text
        assert await counts(settings) == (1, 1, 1)

        partner_page = await luqiao.get("/staff/activities/partner/511300")
        assert partner_page.status_code == 200 and "南充—路桥会商" in partner_page.text
        assert (
            "四川省南充市与浙江省台州市路桥区政务服务“跨省通办”合作协议" in partner_page.text
        )  # its agreements beside
        listing = await luqiao.get("/staff/activities")
        assert "南充—路桥会商" in listing.text and re.search(r"/staff/activities/\d+/edit", listing.text)

    async with signed_in(app, settings, "county", YUHUAN) as yuhuan:
        database = Database(settings.database_url)
        async with database.read() as session:
            activity = (await session.execute(select(Activity))).scalar_one()
        await database.dispose()
        assert (await yuhuan.get(f"/staff/activities/{activity.id}/edit")).status_code == 403
        listing = await yuhuan.get("/staff/activities")
        assert "南充—路桥会商" in listing.text and f"/staff/activities/{activity.id}/edit" not in listing.text

    async with signed_in(app, settings, "admin", CITY) as admin:
        edit = await admin.get(f"/staff/activities/{activity.id}/edit")
        assert edit.status_code == 200
        changed = with_values(
            read_form(edit.text, f"/staff/activities/{activity.id}/edit"), outcome="互认材料清单"
        )
        assert (await admin.post(f"/staff/activities/{activity.id}/edit", data=changed)).status_code == 303
        stale = await admin.post(f"/staff/activities/{activity.id}/edit", data=changed)
        assert stale.status_code == 409 and "他人已先保存" in stale.text
        history = await admin.get(f"/staff/history/activity/{activity.id}")
        assert history.status_code == 200 and "互认材料清单" in history.text
    assert await counts(settings) == (1, 2, 2)


async def test_form_partner_reads_its_own_region_only(app: Any, settings: Settings) -> None:
    async with signed_in(app, settings, "admin", CITY) as admin:
        for partner in (NANCHONG, BIJIE):
            page = await admin.get(f"/staff/activities/new?partner={partner}")
            fields = with_values(
                read_form(page.text, "/staff/activities/new"), heldOn="2026-01-05", title=f"会商{partner}"
            )
            assert (await admin.post("/staff/activities/new", data=fields)).status_code == 303
    async with signed_in(app, settings, "partner", NANCHONG) as nanchong:
        assert (await nanchong.get("/staff/activities/new")).status_code == 403
        listing = await nanchong.get("/staff/activities")
        assert listing.status_code == 200
        assert "会商511300" in listing.text and "会商520500" not in listing.text
        assert (await nanchong.get("/staff/activities/partner/511300")).status_code == 200
        assert (await nanchong.get(f"/staff/activities/partner/{BIJIE}")).status_code == 403


async def test_tier_view_and_activity_page_list_what_is_due(app: Any, settings: Settings) -> None:
    async with signed_in(app, settings, "admin", CITY) as admin:
        tiers = await admin.get("/staff/partners")
        assert tiers.status_code == 200
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", tiers.text))
        assert "近12个月未会商" in text and "今年尚未业务指导" in text
        due = text.split("近12个月未会商", 1)[1].split("今年尚未业务指导", 1)[0]
        assert "南充市" in due and "毕节市" in due
        pairing = text.split("今年尚未业务指导", 1)[1].split("通办后总结", 1)[0]
        for name in ("阿拉尔市", "通化市", "南充市"):
            assert name in pairing
        page = await admin.get("/staff/activities")
        assert "近12个月未会商" in page.text


@pytest.mark.parametrize(
    "path", ["/staff/activities", "/staff/activities/new", "/staff/activities/partner/511300"]
)
async def test_pages_need_sign_in(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 303 and response.headers["location"].startswith("/staff/login")


# ------------------------------------------------------------------ 一表 and the dashboard


async def test_table_export_and_dashboard_count_activities(
    app: Any, settings: Settings, client: httpx.AsyncClient, admin_token: str
) -> None:
    for kind, local, day, title in (
        ("CONSULTATION", LUQIAO, "2025-11-02", "较早的会商"),
        ("REVIEW", LUQIAO, "2026-02-01", "通办后总结会"),
        ("GUIDANCE", CITY, "2026-01-15", "业务指导"),
    ):
        body = await gql(
            client,
            CREATE,
            {"input": activity_input(kind=kind, localCode=local, heldOn=day, title=title)},
            admin_token,
        )
        assert "errors" not in body, body
    async with signed_in(app, settings, "admin", CITY) as admin:
        export = await admin.get("/staff/table.csv")
        lines = export.content.decode("utf-8-sig").splitlines()
        header = lines[0].split(",")
        assert header[-1] == "最近合作交流"
        nanchong = [line for line in lines[1:] if line.startswith("四川省南充市,")]
        assert nanchong and all(
            line.endswith("2026-02-01 通办后总结: 通办后总结会(路桥区)") for line in nanchong
        )
        others = [line for line in lines[1:] if not line.startswith("四川省南充市,")]
        assert others and all(line.endswith(",") for line in others)  # no activity with them: empty cell

        board = await admin.get("/staff/dashboard")
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", board.text))
        assert "合作交流活动次数×2" in text  # the formula shown with the ranking
        activities = text.split("合作交流活动: 按县(市、区)和类型", 1)[1].split("需求调查", 1)[0]
        # 路桥区: 1 会商, 0, 0, 0, 0 业务指导, 1 总结 → 2; 市本级: 1 业务指导
        assert "路桥区 1 0 0 0 0 1 2" in activities and "台州市(市本级) 0 0 0 0 1 0 1" in activities
        ranking = text.split("比学赶超: 县(市、区)排名", 1)[1].split("服务大厅分布", 1)[0]
        assert re.search(r"路桥区 \d+ \S+ \S+ \S+ \S+ 2 ", ranking), ranking[:600]
