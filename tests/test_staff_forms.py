"""The staff forms: county boundaries (403 and nothing changes), 一地签约、全市共享 by default with
its reach preview and the 3-day rule, errors next to the field with the input kept, stale saves
shown side by side with nothing lost, guide drafts published as new versions, and the synonym
dictionary queueing a search rebuild."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from api.db import Database
from api.enums import GuideStatus
from api.models import Agreement, ChangeLog, Contact, Hall, Matter, OutboxEvent, SearchSynonym
from api.services.base import today
from api.services.snapshots import agreement_snapshot
from api.settings import Settings
from tests.test_staff_helpers import count, read_form, signed_in, with_values


async def _agreement(settings: Settings, key: str) -> Agreement:
    database = Database(settings.database_url)
    try:
        async with database.read() as session:
            return (
                await session.execute(
                    select(Agreement).options(selectinload(Agreement.matters)).where(Agreement.key == key)
                )
            ).scalar_one()
    finally:
        await database.dispose()


async def _snapshot(settings: Settings, key: str) -> dict[str, Any]:
    agreement = await _agreement(settings, key)
    return {
        **agreement_snapshot(agreement, [m.code for m in agreement.matters]),
        "version": agreement.version,
    }


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# ------------------------------------------------------------------ county boundaries


async def test_county_cannot_open_another_countys_edit_form_and_a_forged_post_changes_nothing(
    app: Any, settings: Settings
) -> None:
    own = await _agreement(settings, "nanchong-luqiao-2023")  # 路桥区 signed it
    other = await _agreement(settings, "shangrao-yuhuan-2024")  # 玉环市 signed it
    async with signed_in(app, settings, "county", "331004") as luqiao:
        assert (await luqiao.get(f"/staff/agreements/{own.id}/edit")).status_code == 200
        refused = await luqiao.get(f"/staff/agreements/{other.id}/edit")
        assert refused.status_code == 403
        assert "玉环市" in refused.text and 'name="partnerCode"' not in refused.text

        # a forged POST: a real, valid form (with this session's CSRF token) aimed at the other county's record
        mine = read_form(
            (await luqiao.get(f"/staff/agreements/{own.id}/edit")).text, f"/staff/agreements/{own.id}/edit"
        )
        before = await _snapshot(settings, "shangrao-yuhuan-2024")
        logs, outbox = await count(settings, ChangeLog), await count(settings, OutboxEvent)
        forged = with_values(
            mine, version=other.version, partnerCode="361100", localCode="331083", note="篡改"
        )
        response = await luqiao.post(f"/staff/agreements/{other.id}/edit", data=forged)
        assert response.status_code == 403
        # moving the record into one's own county is refused as well
        stolen = with_values(forged, localCode="331004")
        assert (await luqiao.post(f"/staff/agreements/{other.id}/edit", data=stolen)).status_code == 403
        assert await _snapshot(settings, "shangrao-yuhuan-2024") == before
        assert await count(settings, ChangeLog) == logs
        assert await count(settings, OutboxEvent) == outbox

        # the same holds for halls
        database = Database(settings.database_url)
        async with database.read() as session:
            hall = (await session.execute(select(Hall).where(Hall.key == "yuhuan-centre"))).scalar_one()
        await database.dispose()
        assert (await luqiao.get(f"/staff/halls/{hall.id}/edit")).status_code == 403

    async with signed_in(app, settings, "admin", "331000") as admin:
        assert (await admin.get(f"/staff/agreements/{other.id}/edit")).status_code == 200


async def test_partner_accounts_read_but_do_not_edit(app: Any, settings: Settings) -> None:
    own = await _agreement(settings, "nanchong-luqiao-2023")
    async with signed_in(app, settings, "partner", "511300") as nanchong:
        assert (await nanchong.get(f"/staff/agreements/{own.id}")).status_code == 200
        assert (await nanchong.get(f"/staff/agreements/{own.id}/edit")).status_code == 403
        other = await _agreement(settings, "shangrao-yuhuan-2024")
        assert (await nanchong.get(f"/staff/agreements/{other.id}")).status_code == 403
        assert (await nanchong.get("/staff/table")).status_code == 403
        assert (await nanchong.get("/staff/feedback/new")).status_code == 200


# ------------------------------------------------------------------ 一地签约、全市共享 and the 3-day rule


async def test_new_agreement_is_shared_citywide_by_default_and_reaches_every_county(
    app: Any, settings: Settings
) -> None:
    async with signed_in(app, settings, "county", "331004") as luqiao:
        page = await luqiao.get("/staff/agreements/new")
        assert page.status_code == 200
        fields = read_form(page.text, "/staff/agreements/new")
        assert fields["citywideShared"] == ["y"], "the clause is on by default"
        assert fields["localCode"] == ["331004"]
        preview = _text(page.text)
        assert "一地签约、全市共享" in preview and "全市 9 个县(市、区)" in preview
        for county in (
            "椒江区",
            "黄岩区",
            "路桥区",
            "三门县",
            "天台县",
            "仙居县",
            "温岭市",
            "临海市",
            "玉环市",
        ):
            assert county in preview

        signed = today() - dt.timedelta(days=5)
        fields = with_values(fields, partnerCode="522600", signedOn=signed.isoformat())
        # the server-rendered preview (no JavaScript needed) flags a late registration and, with the
        # clause off, shows only the signing county
        preview_page = await luqiao.post(
            "/staff/agreements/new", data=with_values(fields, action="preview", citywideShared=None)
        )
        assert preview_page.status_code == 200
        text = _text(preview_page.text)
        assert "未实行全市共享" in text and "仅 1 / 9" in text
        assert "签约后第 5 天" in text and "逾期登记" in text
        assert "贵州省黔东南苗族侗族自治州" in text
        # the htmx fragment says the same
        fragment = await luqiao.post("/staff/agreements/preview", data=fields)
        assert (
            fragment.status_code == 200
            and "<html" not in fragment.text
            and "全市 9 个县(市、区)" in _text(fragment.text)
        )
        assert await count(settings, Agreement, Agreement.partner_code == "522600") == 0

        saved = await luqiao.post("/staff/agreements/new", data=fields)
        assert saved.status_code == 303, saved.text
        detail = await luqiao.get(saved.headers["location"])
        assert "逾期" in _text(detail.text)

    created = await _agreement_by_partner(settings, "522600")
    assert created.citywide_shared and created.local_code == "331004" and created.covers_all_matters
    assert created.registered_on == today()
    assert (
        await count(
            settings,
            OutboxEvent,
            OutboxEvent.entity == "agreement",
            OutboxEvent.entity_key == str(created.id),
        )
        == 1
    )
    assert await count(settings, ChangeLog, ChangeLog.entity == "agreement", ChangeLog.via == "form") == 1

    async with signed_in(app, settings, "county", "331081") as wenling:  # another county's window
        desk = await wenling.get("/staff/desk?home=凯里市&matter=M-008")
        text = _text(desk.text)
        assert "可以在本地受理" in text
        assert "一地签约、全市共享" in text and "路桥区" in text


async def _agreement_by_partner(settings: Settings, partner: str) -> Agreement:
    database = Database(settings.database_url)
    try:
        async with database.read() as session:
            return (
                await session.execute(select(Agreement).where(Agreement.partner_code == partner))
            ).scalar_one()
    finally:
        await database.dispose()


async def test_errors_are_shown_next_to_the_field_with_the_input_kept(app: Any, settings: Settings) -> None:
    async with signed_in(app, settings, "county", "331004") as luqiao:
        fields = read_form((await luqiao.get("/staff/agreements/new")).text, "/staff/agreements/new")
        typed = with_values(
            fields, partnerCode="522600", signedOn="2025-13-45", note="第一次填写的备注, 不要丢"
        )
        response = await luqiao.post("/staff/agreements/new", data=typed)
        assert response.status_code == 422
        html = response.text
        assert 'id="signedOn-error"' in html and "不是有效日期" in html
        assert re.search(
            r'<input aria-describedby="signedOn-error" aria-invalid="true"[^>]*value="2025-13-45"', html
        )
        assert "第一次填写的备注, 不要丢" in html
        assert 'value="522600"' in html

        # a partner region inside the home city, and an expiry before the start, each on its own field
        wrong = with_values(fields, partnerCode="331002", signedOn="2025-03-01", expiresOn="2025-01-01")
        response = await luqiao.post("/staff/agreements/new", data=wrong)
        assert response.status_code == 422
        assert 'id="partnerCode-error"' in response.text and 'id="expiresOn-error"' in response.text

        unknown = await luqiao.post(
            "/staff/agreements/new", data=with_values(fields, partnerCode="没有这个地方")
        )
        assert unknown.status_code == 422 and 'id="partnerCode-error"' in unknown.text
    assert await count(settings, Agreement, Agreement.local_code == "331004") == 2  # the two demo ones only


# ------------------------------------------------------------------ stale saves


async def test_stale_save_is_a_conflict_with_nothing_lost(app: Any, settings: Settings) -> None:
    agreement = await _agreement(settings, "nanchong-luqiao-2023")
    url = f"/staff/agreements/{agreement.id}/edit"
    async with (
        signed_in(app, settings, "county", "331004") as first,
        signed_in(app, settings, "admin", "331000") as second,
    ):
        mine = read_form((await first.get(url)).text, url)
        theirs = read_form((await second.get(url)).text, url)
        assert mine["version"] == theirs["version"] == [str(agreement.version)]

        saved = await second.post(url, data=with_values(theirs, note="市级先保存的备注"))
        assert saved.status_code == 303

        stale = await first.post(
            url, data=with_values(mine, note="县级后保存的备注", documentRef="路政办〔2023〕9号")
        )
        assert stale.status_code == 409
        text = _text(stale.text)
        assert "他人已先保存" in text
        assert "市级先保存的备注" in text and "县级后保存的备注" in text  # both versions side by side
        kept = read_form(stale.text, url)
        assert kept["note"] == ["县级后保存的备注"] and kept["documentRef"] == [
            "路政办〔2023〕9号"
        ]  # nothing lost
        assert kept["version"] == [str(agreement.version + 1)]
        stored = await _snapshot(settings, "nanchong-luqiao-2023")
        assert stored["note"] == "市级先保存的备注" and stored["documentRef"] is None

        # saving again after looking at both is a deliberate overwrite
        again = await first.post(url, data=kept)
        assert again.status_code == 303
        stored = await _snapshot(settings, "nanchong-luqiao-2023")
        assert stored["note"] == "县级后保存的备注" and stored["version"] == agreement.version + 2
        assert stored["registeredOn"] == "2023-05-11"  # editing never moves the 3-day-rule date

        history = await first.get(f"/staff/history/agreement/{agreement.key}")
        assert history.status_code == 200
        assert "<ins>" in history.text and "<del>" in history.text
        plain = re.sub(r"<[^>]+>", "", history.text)
        assert "县级后保存的备注" in plain and "市级先保存的备注" in plain and "路政办〔2023〕9号" in plain


async def test_stale_matter_and_hall_saves_are_conflicts_too(app: Any, settings: Settings) -> None:
    async with (
        signed_in(app, settings, "admin", "331000") as first,
        signed_in(app, settings, "admin", "331000") as second,
    ):
        url = "/staff/matters/M-008/edit"
        mine = read_form((await first.get(url)).text, url)
        theirs = read_form((await second.get(url)).text, url)
        assert (
            await second.post(url, data=with_values(theirs, department="人社局(他人)"))
        ).status_code == 303
        stale = await first.post(url, data=with_values(mine, department="人社局(我)"))
        assert stale.status_code == 409
        assert read_form(stale.text, url)["department"] == ["人社局(我)"]
        assert "人社局(他人)" in stale.text

        database = Database(settings.database_url)
        async with database.read() as session:
            hall = (await session.execute(select(Hall).where(Hall.key == "luqiao-centre"))).scalar_one()
        await database.dispose()
        url = f"/staff/halls/{hall.id}/edit"
        mine = read_form((await first.get(url)).text, url)
        theirs = read_form((await second.get(url)).text, url)
        assert (await second.post(url, data=with_values(theirs, phone="0576-1111111"))).status_code == 303
        stale = await first.post(url, data=with_values(mine, phone="0576-2222222"))
        assert stale.status_code == 409
        assert read_form(stale.text, url)["phone"] == ["0576-2222222"] and "0576-1111111" in stale.text


# ------------------------------------------------------------------ guides, contacts, partners, synonyms


async def test_guide_is_drafted_then_published_as_a_new_version_with_a_diff(
    app: Any, settings: Settings
) -> None:
    async with signed_in(app, settings, "admin", "331000") as admin:
        url = "/staff/matters/M-008/guide"
        fields = read_form((await admin.get(url)).text, url)
        assert fields["draft_version"] == [""]
        draft = await admin.post(
            url, data=with_values(fields, fee="不收费(补换卡工本费另计)", steps="窗口受理\n制卡\n领卡")
        )
        assert draft.status_code == 303
        page = await admin.get(url)
        assert "草稿与现行版本的差异" in page.text and "不收费(补换卡工本费另计)" in page.text
        assert "line-ins" in page.text and "line-del" in page.text

        database = Database(settings.database_url)
        async with database.read() as session:
            matter = (
                await session.execute(
                    select(Matter).options(selectinload(Matter.guides)).where(Matter.code == "M-008")
                )
            ).scalar_one()
        versions = {g.version: g.status for g in matter.guides}
        draft_version = max(versions)
        assert versions[draft_version] == GuideStatus.DRAFT
        outbox = await count(
            settings, OutboxEvent, OutboxEvent.entity == "matter", OutboxEvent.entity_key == "M-008"
        )

        action = read_form(page.text, "/staff/matters/M-008/guide/publish")
        published = await admin.post("/staff/matters/M-008/guide/publish", data=action)
        assert published.status_code == 303
        async with database.read() as session:
            matter = (
                await session.execute(
                    select(Matter).options(selectinload(Matter.guides)).where(Matter.code == "M-008")
                )
            ).scalar_one()
        await database.dispose()
        statuses = {g.version: g.status for g in matter.guides}
        assert statuses[draft_version] == GuideStatus.PUBLISHED
        assert list(statuses.values()).count(GuideStatus.PUBLISHED) == 1
        assert GuideStatus.ARCHIVED in statuses.values()
        assert (
            await count(
                settings, OutboxEvent, OutboxEvent.entity == "matter", OutboxEvent.entity_key == "M-008"
            )
            == outbox + 1
        )

        diff = await admin.get(f"/staff/matters/M-008/guide/diff?from={draft_version - 1}&to={draft_version}")
        assert diff.status_code == 200 and "不收费(补换卡工本费另计)" in diff.text

    async with signed_in(app, settings, "county", "331004") as luqiao:
        assert (await luqiao.get("/staff/matters/M-008/guide")).status_code == 403
        assert (await luqiao.get("/staff/matters/M-008")).status_code == 200


async def test_synonyms_are_admin_only_and_queue_a_search_rebuild(app: Any, settings: Settings) -> None:
    async with signed_in(app, settings, "county", "331004") as luqiao:
        assert (await luqiao.get("/staff/synonyms")).status_code == 403
    async with signed_in(app, settings, "admin", "331000") as admin:
        fields = read_form((await admin.get("/staff/synonyms")).text, "/staff/synonyms")
        bad = await admin.post("/staff/synonyms", data=with_values(fields, terms="孤单"))
        assert bad.status_code == 422 and 'id="terms-error"' in bad.text and 'value="孤单"' in bad.text
        ok = await admin.post("/staff/synonyms", data=with_values(fields, terms="居住证、暂住证,居住登记"))
        assert ok.status_code == 303
    database = Database(settings.database_url)
    async with database.read() as session:
        rows = (await session.execute(select(SearchSynonym))).scalars().all()
        events = (
            (await session.execute(select(OutboxEvent).where(OutboxEvent.entity == "synonym")))
            .scalars()
            .all()
        )
    await database.dispose()
    assert [r.terms for r in rows] == [["居住证", "暂住证", "居住登记"]]
    assert len(events) == 1 and events[0].entity_key == str(rows[0].id)


async def test_partner_indices_and_thresholds_are_admin_only(app: Any, settings: Settings) -> None:
    async with signed_in(app, settings, "county", "331004") as luqiao:
        assert (await luqiao.get("/staff/partners")).status_code == 403
        assert (await luqiao.get("/staff/partners/511300")).status_code == 403
    async with signed_in(app, settings, "admin", "331000") as admin:
        url = "/staff/partners/522600"
        fields = read_form((await admin.get(url)).text, url)
        bad = await admin.post(url, data=with_values(fields, populationIndex="120"))
        assert bad.status_code == 422 and 'value="120"' in bad.text
        ok = await admin.post(url, data=with_values(fields, populationIndex="70", cooperationIndex="65"))
        assert ok.status_code == 303
        listing = await admin.get("/staff/partners")
        row = next(line for line in listing.text.split("<tr>") if "522600" in line)
        assert "红色·重点" in row
        thresholds = read_form(listing.text, "/staff/partners/thresholds")
        assert (
            await admin.post("/staff/partners/thresholds", data=with_values(thresholds, population="75"))
        ).status_code == 303
        row = next(
            line for line in (await admin.get("/staff/partners")).text.split("<tr>") if "522600" in line
        )
        assert "蓝色·合作" in row


async def test_county_adds_a_local_contact_and_a_liaison_group_is_admins(
    app: Any, settings: Settings
) -> None:
    async with signed_in(app, settings, "county", "331004") as luqiao:
        fields = read_form((await luqiao.get("/staff/contacts/new")).text, "/staff/contacts/new")
        # a county puts its contact into an existing group; typing a new name does not create one (admins do)
        new_group = await luqiao.post(
            "/staff/contacts/new",
            data=with_values(fields, name="王窗口", phone="0576-8888888", liaisonGroup="路桥通办群"),
        )
        assert new_group.status_code == 422 and 'id="liaisonGroup-error"' in new_group.text
        ok = await luqiao.post(
            "/staff/contacts/new",
            data=with_values(
                fields, name="王窗口", phone="0576-8888888", liaisonGroup="台州市跨区域通办联络群"
            ),
        )
        assert ok.status_code == 303
        other = await luqiao.post(
            "/staff/contacts/new", data=with_values(fields, name="李某", regionCode="331083")
        )
        assert other.status_code == 403
        assert (await luqiao.get("/staff/groups/new")).status_code == 403
    assert await count(settings, Contact, Contact.name == "王窗口", Contact.key.is_not(None)) == 1
    assert await count(settings, Contact, Contact.name == "李某") == 0
