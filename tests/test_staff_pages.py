"""The 六个一 pages beyond the forms: the FAQ handbook (一册) compiled from resolved feedback and
published at /faq, the case collection (一集) at /cases, the cooperation table (一表) with its
filters and printable XLSX/CSV exports, and the dashboard's server-drawn SVG charts and map."""

from __future__ import annotations

import io
import re
from typing import Any

from openpyxl import load_workbook

from api.models import OutreachVisit
from api.services.base import today
from api.settings import Settings
from tests.test_staff_helpers import count, read_form, signed_in, with_values


async def _resolved_feedback(client: Any, description: str, resolution: str) -> int:
    form = read_form((await client.get("/staff/feedback/new")).text, "/staff/feedback/new")
    filed = await client.post(
        "/staff/feedback/new", data=with_values(form, description=description, countyCode="331004")
    )
    feedback_id = int(filed.headers["location"].split("/")[-1].split("?")[0])
    page = await client.get(f"/staff/feedback/{feedback_id}")
    forms = re.findall(r'<form method="post" action="/staff/feedback/\d+/move".*?</form>', page.text, re.S)
    fields = read_form(
        next(f for f in forms if 'value="RESOLVED"' in f), f"/staff/feedback/{feedback_id}/move"
    )
    moved = await client.post(
        f"/staff/feedback/{feedback_id}/move", data=with_values(fields, note=resolution)
    )
    assert moved.status_code == 303
    return feedback_id


async def test_faq_handbook_is_compiled_from_resolved_feedback_and_curated_entries(
    app: Any, settings: Settings
) -> None:
    async with (
        signed_in(app, settings, "admin", "331000") as city,
        signed_in(app, settings, "county", "331004") as luqiao,
    ):
        feedback_id = await _resolved_feedback(
            city, "外省户籍能否在台州补领社保卡?", "可以, 到任一跨区域通办窗口申请, 制卡后邮寄。"
        )
        # a county curates an entry for the next edition
        entry_form = read_form((await luqiao.get("/staff/faq/entries/new")).text, "/staff/faq/entries/new")
        bad = await luqiao.post(
            "/staff/faq/entries/new", data=with_values(entry_form, question="问", answer="")
        )
        assert (
            bad.status_code == 422 and 'id="question-error"' in bad.text and 'id="answer-error"' in bad.text
        )
        curated = await luqiao.post(
            "/staff/faq/entries/new",
            data=with_values(entry_form, question="居住证办理需要多久?", answer="一般7个工作日。"),
        )
        assert curated.status_code == 303

        home = await city.get("/staff/faq")
        assert "外省户籍能否在台州补领社保卡?" in home.text  # a candidate from resolved feedback
        compile_fields = read_form(home.text, "/staff/faq/editions")
        assert compile_fields["feedback"] == [str(feedback_id)] and compile_fields["month"][0] in ("5", "11")
        wrong_month = await city.post("/staff/faq/editions", data=with_values(compile_fields, month="7"))
        assert wrong_month.status_code in (400, 422)
        compiled = await city.post("/staff/faq/editions", data=compile_fields)
        assert compiled.status_code == 303
        edition_url = compiled.headers["location"]
        edition = await city.get(edition_url)
        assert "外省户籍能否在台州补领社保卡?" in edition.text and "居住证办理需要多久?" in edition.text

        assert "外省户籍能否在台州补领社保卡?" not in (await city.get("/faq")).text  # not yet published
        publish = read_form(edition.text, edition_url + "/publish")
        assert (await city.post(edition_url + "/publish", data=publish)).status_code == 303
        # the same edition cannot be compiled twice
        assert (await city.post("/staff/faq/editions", data=compile_fields)).status_code in (400, 422)

    public = await city_public(app, "/faq")
    assert public.status_code == 200
    assert (
        "外省户籍能否在台州补领社保卡?" in public.text
        and "制卡后邮寄" in public.text
        and "居住证办理需要多久?" in public.text
    )
    year, month = compile_fields["year"][0], compile_fields["month"][0]
    assert (await city_public(app, f"/faq/{year}-{month}")).status_code == 200
    assert (await city_public(app, "/faq/1999-5")).status_code == 404


async def city_public(app: Any, path: str) -> Any:
    from tests.test_staff_helpers import new_client

    async with new_client(app) as anonymous:
        return await anonymous.get(path)


async def test_case_collection_public_page_shows_published_cases_only(app: Any, settings: Settings) -> None:
    async with signed_in(app, settings, "county", "331004") as luqiao:
        form = read_form((await luqiao.get("/staff/cases/new")).text, "/staff/cases/new")
        assert form["countyCode"] == ["331004"]
        published = with_values(
            form,
            title="南充务工人员路桥补换社保卡",
            summary="群众在路桥区跨区域通办窗口申请, 两地联动三天办结。",
            partnerCode="南充市",
            happenedOn="2024-06-01",
            published="y",
        )
        assert (await luqiao.post("/staff/cases/new", data=published)).status_code == 303
        draft = with_values(form, title="尚未发布的案例", summary="这个案例还在整理中, 暂不公开。")
        assert (await luqiao.post("/staff/cases/new", data=draft)).status_code == 303
        other_county = with_values(
            form, title="冒充玉环的案例", summary="县级账号不能替其他县写案例。", countyCode="331083"
        )
        assert (await luqiao.post("/staff/cases/new", data=other_county)).status_code == 403
    page = await city_public(app, "/cases")
    assert "南充务工人员路桥补换社保卡" in page.text and "四川省南充市" in page.text
    assert "尚未发布的案例" not in page.text and "冒充玉环的案例" not in page.text


async def test_cooperation_table_filters_and_printable_exports(app: Any, settings: Settings) -> None:
    async with signed_in(app, settings, "county", "331004") as luqiao:
        table = await luqiao.get("/staff/table")
        assert table.status_code == 200
        assert "上饶市" in table.text and "南充市" in table.text
        guizhou = await luqiao.get("/staff/table?province=520000")
        assert "毕节市" in guizhou.text and "遵义市" in guizhou.text and "南充市" not in guizhou.text
        late = await luqiao.get("/staff/table?late=1")
        assert "赣州市" in late.text and "南充市" not in late.text  # registered 6 days after signing
        # 玉环市's agreement with 上饶 is not citywide: it does not reach 路桥区
        reach = await luqiao.get("/staff/table?county=331004")
        assert "上饶市" not in reach.text and "南充市" in reach.text and "毕节市" in reach.text

        xlsx = await luqiao.get("/staff/table.xlsx?province=520000")
        assert xlsx.status_code == 200
        assert xlsx.headers["content-type"].startswith(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
        assert "attachment" in xlsx.headers["content-disposition"]
        book = load_workbook(io.BytesIO(xlsx.content))
        sheet = book.active
        assert "通办合作表" in str(sheet["A1"].value)
        assert "贵州" in str(sheet["A2"].value)
        header = [c.value for c in sheet[3]]
        assert header[:2] == ["合作地区", "所属省份"] and "3日内更新" in header
        partners = [sheet.cell(row=r, column=1).value for r in range(4, sheet.max_row + 1)]
        assert partners and all(str(p).startswith("贵州省") for p in partners)
        assert (
            sheet.page_setup.orientation == "landscape" and sheet.print_title_rows.replace("$", "") == "3:3"
        )
        assert sheet.freeze_panes == "A4"

        csv_response = await luqiao.get("/staff/table.csv")
        assert csv_response.headers["content-type"].startswith("text/csv")
        body = csv_response.content.decode("utf-8")
        assert body.startswith("\ufeff合作地区,所属省份")
        assert len(body.strip().splitlines()) == 1 + 15


async def test_dashboard_draws_svg_without_inline_styles_and_logs_outreach(
    app: Any, settings: Settings
) -> None:
    async with signed_in(app, settings, "county", "331004") as luqiao:
        page = await luqiao.get("/staff/dashboard")
        assert page.status_code == 200
        html = page.text
        assert html.count("<svg") >= 6
        assert "style=" not in html and "<style" not in html and "<script>" not in html
        for text in (
            "合作地区按省份和四色分级",
            "各年度签订的通办协议数",
            "比学赶超",
            "服务大厅分布图",
            "3日内更新",
        ):
            assert text in html
        assert "content-security-policy" in page.headers

        form = read_form(html, "/staff/outreach")
        assert form["countyCode"] == ["331004"] and form["visitedOn"] == [today().isoformat()]
        future = await luqiao.post(
            "/staff/outreach",
            data=with_values(form, place="某工业园区", visitedOn="2999-01-01", peopleServed="30"),
        )
        assert (
            future.status_code == 422
            and 'id="visitedOn-error"' in future.text
            and "某工业园区" in future.text
        )
        ok = await luqiao.post(
            "/staff/outreach",
            data=with_values(form, place="路桥某电子厂", peopleServed="45", note="宣传社保卡跨省通办"),
        )
        assert ok.status_code == 303
        again = await luqiao.get("/staff/dashboard")
        assert "路桥某电子厂" in again.text
        elsewhere = await luqiao.post(
            "/staff/outreach", data=with_values(form, place="玉环某社区", countyCode="331083")
        )
        assert elsewhere.status_code == 403
    assert await count(settings, OutreachVisit) == 1


async def test_every_staff_page_renders_for_each_role(app: Any, settings: Settings) -> None:
    pages = [
        "/staff/",
        "/staff/desk",
        "/staff/desk?home=黔东南&matter=M-008",
        "/staff/agreements",
        "/staff/agreements/new",
        "/staff/table",
        "/staff/dashboard",
        "/staff/matters",
        "/staff/matters/M-008",
        "/staff/halls",
        "/staff/halls/new",
        "/staff/contacts",
        "/staff/contacts/new",
        "/staff/feedback",
        "/staff/feedback/new",
        "/staff/faq",
        "/staff/faq/entries/new",
        "/staff/cases",
        "/staff/cases/new",
        "/staff/history",
        "/staff/history/matter/M-008",
    ]
    admin_only = [
        "/staff/partners",
        "/staff/partners/511300",
        "/staff/synonyms",
        "/staff/groups/new",
        "/staff/matters/new",
        "/staff/matters/M-008/edit",
        "/staff/matters/M-008/guide",
        "/staff/matters/M-008/guide/diff",
    ]
    async with signed_in(app, settings, "admin", "331000") as city:
        for path in pages + admin_only:
            response = await city.get(path)
            assert response.status_code == 200, (path, response.status_code)
            assert "style=" not in response.text, path
    async with signed_in(app, settings, "county", "331004") as luqiao:
        for path in pages:
            assert (await luqiao.get(path)).status_code == 200, path
        for path in admin_only[:5]:
            assert (await luqiao.get(path)).status_code == 403, path
    async with signed_in(app, settings, "partner", "511300") as nanchong:
        for path in [
            "/staff/",
            "/staff/agreements",
            "/staff/contacts",
            "/staff/feedback",
            "/staff/faq",
            "/staff/cases",
        ]:
            assert (await nanchong.get(path)).status_code == 200, path
        for path in [
            "/staff/desk",
            "/staff/table",
            "/staff/dashboard",
            "/staff/history",
            "/staff/agreements/new",
        ]:
            assert (await nanchong.get(path)).status_code == 403, path
