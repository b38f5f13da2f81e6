"""Home places typed the way people write them (issue 15): `api.place_names`, pure functions.

Two tables: spellings generated from the bundled regions table — every form (with and without
suffixes, every concatenation of province/city/county from any level down, pinyin with and without
spaces) of every county of several provinces — each of which must find its county; and the real
ambiguities and short forms people type, each with its expected answer.
"""

from __future__ import annotations

from functools import cache

import pytest

from api.bundled import iter_regions
from api.place_names import (
    build_name_table,
    name_forms,
    normalise,
    read_place,
    spellings_of,
    stem,
)
from api.rules import Place, RegionTree
from web.regions import name_syllables

PROVINCES = ("510000", "520000", "340000", "110000", "450000", "150000")  # 四川 贵州 安徽 北京 广西 内蒙古


@cache
def tree() -> RegionTree:
    return RegionTree(Place(r["code"], r["name"], r["level"], r["parent_code"]) for r in iter_regions())


@cache
def table():  # noqa: ANN201 - the NameTable
    return build_name_table(tree(), name_syllables)


def generated() -> list[tuple[str, str, bool]]:
    """(spelling, county code, typed with a parent): every county of PROVINCES, every form."""
    rows: list[tuple[str, str, bool]] = []
    regions = tree()
    for place in regions:
        if place.level != "COUNTY" or regions.province_of(place.code) not in PROVINCES:
            continue
        own = {form for form, _ in name_forms(place.name)}
        for spelling in dict.fromkeys(spellings_of(regions, place.code, name_syllables)):
            with_parent = spelling not in own and not _single_pinyin(spelling, place.name)
            rows.append((spelling, place.code, with_parent))
    return rows


def _single_pinyin(spelling: str, name: str) -> bool:
    return spelling.isascii() and " " not in spelling and len(spelling) <= 6 * len(name)


GENERATED = generated()


def test_the_generated_table_is_large() -> None:
    assert len(GENERATED) >= 300, len(GENERATED)
    assert sum(1 for _, _, parent in GENERATED if parent) >= 300


def test_every_generated_spelling_finds_its_county() -> None:
    """Typed with a parent (四川南充顺庆, 南充顺庆区, sichuan nanchong…): that county, directly.
    Typed alone (顺庆, shunqing): the county is among the candidates (it may share its name)."""
    wrong = []
    for spelling, code, with_parent in GENERATED:
        reading = read_place(table(), spelling, limit=100)
        if with_parent and reading.chosen != code:
            wrong.append((spelling, code, reading.chosen, [c.code for c in reading.candidates][:4]))
        if not with_parent and code not in {c.code for c in reading.candidates}:
            wrong.append((spelling, code, "not among", [c.code for c in reading.candidates][:4]))
    assert not wrong, f"{len(wrong)} of {len(GENERATED)}: {wrong[:20]}"


# (typed, the region chosen directly or None when the citizen must be asked, regions offered)
REAL = [
    ("四川南充", "511300", ()),
    ("南充顺庆", "511302", ()),
    ("贵州毕节", "520500", ()),
    ("安徽亳州涡阳", "341621", ()),
    ("sichuan nanchong", "511300", ()),
    ("SiChuan NanChong", "511300", ()),
    ("sichuannanchong", "511300", ()),
    ("nanchong shunqing", "511302", ()),
    ("四川省南充市顺庆区", "511302", ()),
    ("四川 南充 顺庆", "511302", ()),
    ("四川顺庆", "511302", ()),  # a county straight after its province
    ("ｓｉｃｈｕａｎ", "510000", ()),  # full-width letters
    ("广西南宁", "450100", ()),  # 广西壮族自治区
    ("广西壮族自治区南宁市", "450100", ()),
    ("内蒙呼和浩特", "150100", ()),  # a common short form
    ("凉山", "513400", ()),  # 凉山彝族自治州
    ("重庆", "500000", ()),
    ("chongqing", "500000", ()),  # 重 read chong in this name
    ("北京朝阳", "110105", ()),
    ("朝阳市", "211300", ()),  # the suffix says which: the city in 辽宁
    ("朝阳", None, ("110105", "211300", "220104", "211321")),
    ("chaoyang", None, ("110105", "211300")),
    ("朝阳区", None, ("110105", "220104")),
    ("吉林", None, ("220000", "220200")),  # the province or its city
    ("taizhou", None, ("331000", "321200")),  # 台州 or 泰州
    ("海南", None, ("460000", "632500")),
]


@pytest.mark.parametrize(("typed", "chosen", "offered"), REAL)
def test_real_spellings_and_ambiguities(typed: str, chosen: str | None, offered: tuple[str, ...]) -> None:
    reading = read_place(table(), typed)
    assert reading.chosen == chosen, (typed, [c.full_name for c in reading.candidates])
    codes = [c.code for c in reading.candidates]
    if chosen is None:
        assert reading.ambiguous
        assert set(offered) <= set(codes), codes
    else:
        assert codes[0] == chosen


@pytest.mark.parametrize("typed", ["", "   ", "xyz", "火星", "四川南充火星", "南充四川"])
def test_nothing_found_is_an_empty_reading(typed: str) -> None:
    """Nothing matches, or the parts are in the wrong order (a county before its province)."""
    reading = read_place(table(), typed)
    assert reading.chosen is None and not reading.candidates


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("南充市", "南充"),
        ("凉山彝族自治州", "凉山"),
        ("广西壮族自治区", "广西"),
        ("新疆维吾尔自治区", "新疆"),
        ("恩施土家族苗族自治州", "恩施"),
        ("锡林郭勒盟", "锡林郭勒"),
        ("大兴安岭地区", "大兴安岭"),
        ("神农架林区", "神农架"),
        ("城区", "城区"),  # one character is no name
        ("北京市", "北京"),
    ],
)
def test_stem(name: str, expected: str) -> None:
    assert stem(name) == expected


def test_normalise() -> None:
    assert normalise(" Si-Chuan  Nan'chong ") == "sichuannanchong"
    assert normalise("四川，南充") == "四川南充"
