"""数据导入 in the browser: .xlsx (the template, filled in), .csv, .zip of CSVs and .json; `check`
previews and writes nothing, `apply` writes all or nothing through the services, audited as 导入;
a county account imports only its own county's rows. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import zipfile
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from api.db import Database
from api.models import ChangeLog, Hall
from api.services.imports import HEADINGS, SECTION_TITLES
from api.settings import Settings
from tests.test_staff_helpers import count, csrf_token, signed_in

NEW_HALL = {
    "key": "t-luqiao-xinqiao",
    "name": "路桥区新桥镇便民服务中心",
    "regionCode": "331004",
    "level": "TOWN",
    "address": "路桥区新桥镇新桥大道1号",
    "phone": "0576-82000000",
    "hasCrossRegionWindow": True,
}
CHANGED_HALL = {
    "key": "luqiao-centre",
    "name": "路桥区行政服务中心",
    "regionCode": "331004",
    "level": "COUNTY",
    "phone": "0576-82400000",
}
FIELDS = ["key", "name", "regionCode", "level", "address", "phone", "hasCrossRegionWindow"]


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def as_json(halls: list[dict[str, Any]]) -> tuple[str, bytes]:
    return "data.json", json.dumps({"halls": halls}, ensure_ascii=False).encode()


def _csv_bytes(halls: list[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(FIELDS)
    for hall in halls:
        writer.writerow(["true" if hall.get(f) is True else hall.get(f, "") for f in FIELDS])
    return ("\ufeff" + buffer.getvalue()).encode()


def as_csv(halls: list[dict[str, Any]]) -> tuple[str, bytes]:
    return "台州.halls.csv", _csv_bytes(halls)


def as_zip(halls: list[dict[str, Any]]) -> tuple[str, bytes]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("export/halls.csv", _csv_bytes(halls))
    return "sections.zip", buffer.getvalue()


def as_template(template: bytes, halls: list[dict[str, Any]]) -> tuple[str, bytes]:
    """The downloaded template filled in as a person would: Chinese headings, drop-down labels."""
    book = load_workbook(io.BytesIO(template))
    sheet = book[SECTION_TITLES["halls"]]
    headings = [c.value for c in sheet[1]]
    labels = {"TOWN": "乡镇(街道)", "COUNTY": "县级"}
    names = {"331004": "331004 路桥区"}
    for hall in halls:
        by_heading = {HEADINGS["halls"][f]: hall.get(f) for f in FIELDS}
        by_heading[HEADINGS["halls"]["level"]] = labels[hall["level"]]
        by_heading[HEADINGS["halls"]["regionCode"]] = names.get(hall["regionCode"], hall["regionCode"])
        if "hasCrossRegionWindow" in hall:
            by_heading[HEADINGS["halls"]["hasCrossRegionWindow"]] = (
                "是" if hall["hasCrossRegionWindow"] else "否"
            )
        sheet.append([by_heading.get(h) for h in headings])
    buffer = io.BytesIO()
    book.save(buffer)
    return "模板.xlsx", buffer.getvalue()


async def start(client: httpx.AsyncClient, mode: str, file: tuple[str, bytes]) -> httpx.Response:
    page = await client.get("/staff/import")
    assert page.status_code == 200
    return await client.post(
        "/staff/import",
        data={"csrf_token": csrf_token(page.text), "mode": mode},
        files={"file": (file[0], file[1], "application/octet-stream")},
    )


async def finished(client: httpx.AsyncClient, job_url: str, seconds: float = 60) -> httpx.Response:
    """The job's page once the job is over (it runs in the app's event loop, beside the test)."""
    for _ in range(int(seconds / 0.05)):
        page = await client.get(job_url)
        assert page.status_code == 200, page.text
        if 'id="import-job"' not in page.text:
            return page
        await asyncio.sleep(0.05)
    raise AssertionError(f"{job_url} still running after {seconds} s")


async def upload(client: httpx.AsyncClient, mode: str, file: tuple[str, bytes]) -> httpx.Response:
    """Upload, follow to the job's page, wait for the result: what the staff member ends up seeing."""
    started = await start(client, mode, file)
    if started.status_code != 303:
        return started  # refused before a job started (no file, an unsupported kind, …)
    assert re.fullmatch(r"/staff/import/jobs/[0-9a-f]{32}", started.headers["location"])
    return await finished(client, started.headers["location"])


async def _hall(settings: Settings, key: str) -> Hall | None:
    database = Database(settings.database_url)
    try:
        async with database.read() as session:
            return (await session.execute(select(Hall).where(Hall.key == key))).scalar_one_or_none()
    finally:
        await database.dispose()


@pytest.mark.parametrize("kind", ["xlsx", "csv", "zip", "json"])
async def test_check_previews_and_writes_nothing_then_apply_writes_through_the_services(
    kind: str, app: Any, settings: Settings
) -> None:
    halls = [NEW_HALL, CHANGED_HALL]
    async with signed_in(app, settings, "admin", "331000") as admin:
        if kind == "xlsx":
            template = await admin.get("/staff/import/template.xlsx")
            assert template.status_code == 200
            file = as_template(template.content, halls)
        else:
            file = {"csv": as_csv, "zip": as_zip, "json": as_json}[kind](halls)
        logs = await count(settings, ChangeLog)

        checked = await upload(admin, "check", file)
        assert checked.status_code == 200, _text(checked.text)
        text = _text(checked.text)
        assert "检查通过, 尚未写入" in text
        # counts per section: 2 rows, 1 created, 1 changed (the phone), 0 unchanged
        counts = re.search(r'id="import-counts".*?</table>', checked.text, re.S)
        assert counts and re.sub(r"\s+", " ", _text(counts.group(0))).count("服务大厅 2 1 1 0") == 1
        assert "电话(phone)" in text and "0576-82400000" in text
        assert await _hall(settings, NEW_HALL["key"]) is None
        assert await count(settings, ChangeLog) == logs

        applied = await upload(admin, "apply", file)
        assert applied.status_code == 200, _text(applied.text)
        assert "已导入" in _text(applied.text)
        created = await _hall(settings, NEW_HALL["key"])
        assert created is not None and created.region_code == "331004" and created.has_cross_region_window
        assert (await _hall(settings, "luqiao-centre")).phone == "0576-82400000"  # type: ignore[union-attr]
        assert await count(settings, ChangeLog, ChangeLog.via == "import", ChangeLog.entity == "hall") == 2

        again = await upload(admin, "check", file)  # the same file twice changes nothing
        assert (
            re.sub(
                r"\s+", " ", _text(re.search(r'id="import-counts".*?</table>', again.text, re.S).group(0))
            ).count("服务大厅 2 0 0 2")
            == 1
        )
        logs = await count(settings, ChangeLog)
        reapplied = await upload(admin, "apply", file)
        assert reapplied.status_code == 200 and "已导入" in _text(reapplied.text)
        assert await count(settings, ChangeLog) == logs


async def test_a_bad_sheet_writes_nothing_and_names_every_bad_row_and_field(
    app: Any, settings: Settings
) -> None:
    bad = [
        NEW_HALL,
        {**CHANGED_HALL, "regionCode": "999999"},
        {"key": "t-no-name", "regionCode": "331004", "level": "TOWN"},
    ]
    async with signed_in(app, settings, "admin", "331000") as admin:
        logs = await count(settings, ChangeLog)
        for mode in ("check", "apply"):
            response = await upload(admin, mode, as_json(bad))
            assert response.status_code == 200
            errors = _text(re.search(r'id="import-errors".*?</table>', response.text, re.S).group(0))
            assert "第2条 luqiao-centre 所在地区(regionCode) 未知行政区划代码 999999" in errors
            assert "第3条 t-no-name 大厅名称(name) 必填" in errors
        assert await _hall(settings, NEW_HALL["key"]) is None
        assert await count(settings, ChangeLog) == logs


async def test_a_county_account_imports_only_rows_of_its_own_county(app: Any, settings: Settings) -> None:
    foreign = {
        "key": "yuhuan-centre",
        "name": "玉环市行政服务中心",
        "regionCode": "331004",
        "level": "COUNTY",
    }
    async with signed_in(app, settings, "county", "331004") as luqiao:
        logs = await count(settings, ChangeLog)
        refused = await upload(
            luqiao,
            "apply",
            as_json([NEW_HALL, {**NEW_HALL, "key": "t-other", "regionCode": "331083"}, foreign]),
        )
        assert refused.status_code == 200 and "未写入任何数据" in _text(refused.text)
        errors = _text(re.search(r'id="import-errors".*?</table>', refused.text, re.S).group(0))
        assert "第2条 t-other" in errors and "玉环市" in errors
        assert "第3条 yuhuan-centre" in errors  # moving another county's hall into one's own is refused too
        assert "第1条" not in errors
        assert await count(settings, ChangeLog) == logs
        assert (await _hall(settings, "yuhuan-centre")).region_code == "331083"  # type: ignore[union-attr]

        own = await upload(luqiao, "apply", as_json([NEW_HALL]))
        assert own.status_code == 200 and "已导入" in _text(own.text)
        assert await _hall(settings, NEW_HALL["key"]) is not None


async def test_the_template_has_instructions_one_sheet_per_section_and_drop_downs(
    app: Any, settings: Settings
) -> None:
    async with signed_in(app, settings, "county", "331004") as luqiao:
        response = await luqiao.get("/staff/import/template.xlsx")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["填写说明", *SECTION_TITLES.values()]
    halls = book[SECTION_TITLES["halls"]]
    assert [c.value for c in halls[1]] == list(HEADINGS["halls"].values())
    lists = {
        str(dv.sqref).split(":")[0].rstrip("0123456789"): dv.formula1
        for dv in halls.data_validations.dataValidation
    }
    level_column = halls.cell(row=1, column=list(HEADINGS["halls"]).index("level") + 1).column_letter
    region_column = halls.cell(row=1, column=list(HEADINGS["halls"]).index("regionCode") + 1).column_letter
    assert "乡镇(街道)" in lists[level_column]
    assert "331004 路桥区" in lists[region_column]
    matters = book[SECTION_TITLES["matters"]]
    matter_lists = " ".join(dv.formula1 for dv in matters.data_validations.dataValidation)
    assert "跨省通办" in matter_lists and "全程网办" in matter_lists


async def test_unreadable_files_are_refused_with_a_message(app: Any, settings: Settings) -> None:
    async with signed_in(app, settings, "admin", "331000") as admin:
        for name, content, message in [
            ("data.txt", b"x", "不支持的文件类型"),
            ("data.json", b"{not json", "不是有效的 JSON"),
            ("mystery.csv", b"a,b\n1,2\n", "无法判断"),
            ("broken.zip", b"PK\x03\x04junk", "不是有效的 ZIP"),
            ("broken.xlsx", b"junk", "不是有效的 XLSX"),
        ]:
            response = await upload(admin, "check", (name, content))
            assert response.status_code in (200, 422), name  # refused at once, or the job failed
            assert message in _text(response.text), name
            assert 'role="alert"' in response.text, name


def test_template_headings_and_labels_read_back_as_the_import_format() -> None:
    """The instructions sheet is skipped (not an unknown section); headings, labels and "code name" map back."""
    from api.services.imports import normalise_document

    assert normalise_document(
        {"填写说明": [], "服务大厅": [{"大厅标识": "k", "层级": "县级", "所在地区": "331004 路桥区"}]}
    ) == {"halls": [{"key": "k", "level": "COUNTY", "regionCode": "331004"}]}
