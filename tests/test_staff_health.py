"""数据体检, 核实日期, pasted hall coordinates and the citywide clause, through the staff forms and
pages (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from api.db import Database
from api.models import Agreement, Hall
from api.services.base import today
from api.services.geo import CoordinateError, outside_county, parse_coordinates
from api.settings import Settings
from tests.test_staff_helpers import read_form, signed_in, with_values


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


async def _one(settings: Settings, model: Any, *where: Any) -> Any:
    database = Database(settings.database_url)
    try:
        async with database.read() as session:
            return (await session.execute(select(model).where(*where))).scalar_one()
    finally:
        await database.dispose()


def _section(html: str, code: str) -> str:
    match = re.search(rf'<section id="health-{code}".*?</section>', html, re.S)
    assert match, f"no section for {code}"
    return match.group(0)


async def test_data_health_lists_what_is_missing_with_links_to_the_forms_that_fix_it(
    app: Any, settings: Settings
) -> None:
    hall = await _one(settings, Hall, Hall.key == "luqiao-centre")
    async with signed_in(app, settings, "admin", "331000") as admin:
        page = await admin.get("/staff/health")
        assert page.status_code == 200
        luqiao = _section(page.text, "331004")
        # the demo hall has no address or phone and only approximate coordinates; never verified
        assert f'href="/staff/halls/{hall.id}/edit"' in luqiao
        assert "缺地址、电话" in _text(luqiao) and "精确坐标" in _text(luqiao) and "从未核实" in _text(luqiao)
        city = _text(_section(page.text, "331000"))
        assert "缺办事指南" in city
        assert re.search(r'href="/staff/matters/[^"/]+/guide"', _section(page.text, "331000"))
        figure_before = int(re.search(r"路桥区: (\d+) 条待完善", _text(page.text)).group(1))  # type: ignore[union-attr]

        # the dashboard and its 比学赶超 ranking carry the same figure per county
        board = _text((await admin.get("/staff/dashboard")).text)
        assert re.search(rf"路桥区 .*?{figure_before} 条", board)

        # fixing the hall (address, phone, hours, pasted exact coordinates, verified today) removes its lines
        form = read_form(
            (await admin.get(f"/staff/halls/{hall.id}/edit")).text, f"/staff/halls/{hall.id}/edit"
        )
        saved = await admin.post(
            f"/staff/halls/{hall.id}/edit",
            data=with_values(
                form,
                address="路桥区路桥街道腾达路1号",
                phone="0576-82400000",
                openingHours="工作日 8:30-12:00, 13:30-17:00",
                coordinates="28.5812°N, 121.3745°E",
                verifiedOn=today().isoformat(),
            ),
        )
        assert saved.status_code == 303, _text(saved.text)
        after = await admin.get("/staff/health")
        assert f'href="/staff/halls/{hall.id}/edit"' not in _section(after.text, "331004")
        figure_after = int(re.search(r"路桥区: (\d+) 条待完善", _text(after.text)).group(1))  # type: ignore[union-attr]
        assert figure_after == figure_before - 2  # the incomplete-hall line and the never-verified line
        # the public hall page shows 核实日期 (the one macro), apart from the site's update time
        public = _text((await admin.get(f"/halls/{hall.id}")).text)
        day = today()
        assert f"核实日期 {day.year}年{day.month}月{day.day}日" in public

    fixed = await _one(settings, Hall, Hall.id == hall.id)
    assert (fixed.latitude, fixed.longitude, fixed.coordinates_approximate) == (28.5812, 121.3745, False)
    assert fixed.verified_on == today()


async def test_a_county_sees_only_its_own_county(app: Any, settings: Settings) -> None:
    async with signed_in(app, settings, "county", "331083") as yuhuan:
        page = await yuhuan.get("/staff/health")
        assert page.status_code == 200
        assert 'id="health-331083"' in page.text
        assert 'id="health-331004"' not in page.text and 'id="health-331000"' not in page.text
        # a town without a centre links to a new-hall form for that town
        town = re.search(r'href="/staff/halls/new\?regionCode=(\d{9})"', _section(page.text, "331083"))
        assert town, "no town line"
        form = read_form(
            (await yuhuan.get(f"/staff/halls/new?regionCode={town.group(1)}")).text, "/staff/halls/new"
        )
        assert form["regionCode"] == [town.group(1)] and form["level"] == ["TOWN"]


async def test_pasted_coordinates_outside_the_county_are_refused_next_to_the_field(
    app: Any, settings: Settings
) -> None:
    hall = await _one(settings, Hall, Hall.key == "luqiao-centre")
    async with signed_in(app, settings, "county", "331004") as luqiao:
        form = read_form(
            (await luqiao.get(f"/staff/halls/{hall.id}/edit")).text, f"/staff/halls/{hall.id}/edit"
        )
        for pasted, message in [
            ("29.143,121.007", "天台县"),
            ("hello", "无法识别坐标"),
            ("28.58,200", "不在中国境内"),
        ]:
            response = await luqiao.post(
                f"/staff/halls/{hall.id}/edit", data=with_values(form, coordinates=pasted)
            )
            assert response.status_code == 422, pasted
            assert message in _text(response.text), pasted
            assert f'value="{pasted}"' in response.text  # what was typed is kept
    unchanged = await _one(settings, Hall, Hall.id == hall.id)
    assert unchanged.coordinates_approximate and unchanged.version == hall.version


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("28.66,121.42", (28.66, 121.42)),
        ("28.66, 121.42", (28.66, 121.42)),
        ("28.66°N, 121.42°E", (28.66, 121.42)),
        ("121.42°E 28.66°N", (28.66, 121.42)),
        ("121.42,28.66", (28.66, 121.42)),  # 高德 / 百度 copy longitude first
        ("北纬28.66° 东经121.42°", (28.66, 121.42)),
        ("28°39′36″N 121°25′12″E", (28.66, 121.42)),
        ("28.66，121.42", (28.66, 121.42)),
    ],
)
def test_map_app_coordinates_are_read(text: str, expected: tuple[float, float]) -> None:
    assert parse_coordinates(text) == expected


@pytest.mark.parametrize("text", ["", "28.66", "28.66,121.42,5", "-28.66,121.42", "28.66°S, 121.42°E", "x,y"])
def test_unreadable_coordinates_are_refused(text: str) -> None:
    with pytest.raises(CoordinateError):
        parse_coordinates(text)


async def test_county_check_uses_county_seats(settings: Settings) -> None:
    from api.services.regions import load_tree

    database = Database(settings.database_url)
    async with database.read() as session:
        tree = await load_tree(session)
    await database.dispose()
    assert outside_county(tree, "331000", "331004", 28.58, 121.37) is None  # 路桥 itself
    assert outside_county(tree, "331000", "331004002", 28.57, 121.38) is None  # a town of 路桥
    assert "天台县" in (outside_county(tree, "331000", "331004", 29.143, 121.007) or "")
    assert outside_county(tree, "331000", "331004", 31.23, 121.47)  # Shanghai


async def test_clause_and_verified_date_are_recorded_through_the_agreement_form(
    app: Any, settings: Settings
) -> None:
    agreement = await _one(settings, Agreement, Agreement.key == "nanchong-luqiao-2023")
    async with signed_in(app, settings, "county", "331004") as luqiao:
        action = f"/staff/agreements/{agreement.id}/edit"
        form = read_form((await luqiao.get(action)).text, action)
        assert form.get("includesClause") == [""]  # not checked yet
        saved = await luqiao.post(
            action, data=with_values(form, includesClause="no", verifiedOn="2026-11-30")
        )
        assert saved.status_code == 303, _text(saved.text)
        health = await luqiao.get("/staff/health")
        lines = _text(_section(health.text, "331004"))
        assert "缺“一地签约、全市共享”条款, 待补充" in lines and agreement.title in lines
    saved_row = await _one(settings, Agreement, Agreement.id == agreement.id)
    assert saved_row.includes_clause is False and saved_row.verified_on.isoformat() == "2026-11-30"
