"""CONTRACT.md §5 as a table: one row per rule and per edge.

The region tree is built by hand from real GB/T 2260 codes, so the tests need
no database and no bundled data, and the same rules are run again with 温州市
as the home city to prove nothing is tied to 台州市.
"""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from api.rules import (
    AgreementFacts,
    CoverageResult,
    HallFacts,
    MatterFacts,
    Place,
    RegionTree,
    UnknownRegion,
    coverage_for,
    covers_matter,
    exposed_status,
    format_date_cn,
    great_circle_km,
    hall_options,
    hall_options_counted,
    in_force,
    is_late_registration,
    local_county_of,
    local_reach,
    partner_covers,
    partner_tier,
)

TAIZHOU = "331000"
WENZHOU = "330300"
TAIZHOU_COUNTIES = (
    "331002", "331003", "331004", "331022", "331023", "331024", "331081", "331082", "331083",
)  # fmt: skip

PLACES = [
    Place("330000", "浙江省", "PROVINCE", None),
    Place("331000", "台州市", "CITY", "330000"),
    Place("331002", "椒江区", "COUNTY", "331000"),
    Place("331003", "黄岩区", "COUNTY", "331000"),
    Place("331004", "路桥区", "COUNTY", "331000"),
    Place("331022", "三门县", "COUNTY", "331000"),
    Place("331023", "天台县", "COUNTY", "331000"),
    Place("331024", "仙居县", "COUNTY", "331000"),
    Place("331081", "温岭市", "COUNTY", "331000"),
    Place("331082", "临海市", "COUNTY", "331000"),
    Place("331083", "玉环市", "COUNTY", "331000"),
    Place("331081001", "太平街道", "TOWN", "331081"),
    Place("331002001", "海门街道", "TOWN", "331002"),
    Place("330300", "温州市", "CITY", "330000"),
    Place("330302", "鹿城区", "COUNTY", "330300"),
    Place("330303", "龙湾区", "COUNTY", "330300"),
    Place("510000", "四川省", "PROVINCE", None),
    Place("511300", "南充市", "CITY", "510000"),
    Place("511302", "顺庆区", "COUNTY", "511300"),
    Place("511303", "高坪区", "COUNTY", "511300"),
    Place("310000", "上海市", "PROVINCE", None),
    Place("310110", "杨浦区", "COUNTY", "310000"),
    Place("310115", "浦东新区", "COUNTY", "310000"),
    Place("340000", "安徽省", "PROVINCE", None),
    Place("341600", "亳州市", "CITY", "340000"),
    Place("341621", "涡阳县", "COUNTY", "341600"),
    Place("341622", "蒙城县", "COUNTY", "341600"),
    Place("440000", "广东省", "PROVINCE", None),
    Place("441900", "东莞市", "CITY", "440000"),
    Place("441900003", "东城街道", "TOWN", "441900"),
]
TREE = RegionTree(PLACES)

SOCIAL_CARD = MatterFacts("M-001", "社会保障卡申领", "CROSS_PROVINCE")
PENSION = MatterFacts("M-002", "养老保险关系转移", "CROSS_PROVINCE")
DRIVING = MatterFacts("M-010", "机动车驾驶证补证", "PROVINCE_WIDE")
PARKING = MatterFacts("M-020", "居民停车证办理", "CITYWIDE")
CROSS = (SOCIAL_CARD, PENSION)

D = date(2024, 6, 1)


def agreement(**changes: object) -> AgreementFacts:
    """南充市 × 路桥区, signed 2023-05-10, shared citywide, all matters; override per row."""
    base = AgreementFacts(
        id=1,
        key="nanchong-luqiao-2023",
        title="南充市—台州市路桥区跨省通办合作协议",
        partner_code="511300",
        local_code="331004",
        signed_on=date(2023, 5, 10),
        effective_from=date(2023, 5, 10),
        expires_on=None,
        stored_status="ACTIVE",
        citywide_shared=True,
        matter_codes=None,
    )
    return dataclasses.replace(base, **changes)


# --------------------------------------------------------------------------- regions


def test_region_tree_navigation() -> None:
    assert TREE.get("999999") is None
    assert TREE.ancestors("331081001") == ("331081", "331000", "330000")
    assert TREE.ancestors("310110") == ("310000",)
    assert TREE.province_of("331081001") == "330000"
    assert TREE.province_of("330000") == "330000"
    assert TREE.county_of("331081001") == "331081"
    assert TREE.county_of("331081") == "331081"
    assert TREE.county_of("331000") is None
    assert TREE.county_of("441900003") is None
    assert TREE.children("331081") == ("331081001",)
    assert TREE.children("310000") == ("310110", "310115")
    assert TREE.full_name("511302") == "四川省南充市顺庆区"
    assert TREE.full_name("331081001") == "浙江省台州市温岭市太平街道"
    assert TREE.full_name("310110") == "上海市杨浦区"
    assert TREE.local_counties(TAIZHOU) == TAIZHOU_COUNTIES
    assert TREE.local_counties(WENZHOU) == ("330302", "330303")


def test_region_tree_city_without_counties_is_its_own_local_unit() -> None:
    assert TREE.local_counties("441900") == ("441900",)
    assert local_county_of(TREE, "441900", "441900003") == "441900"


def test_region_tree_is_immutable_and_strict() -> None:
    with pytest.raises(AttributeError):
        TREE._places = {}  # type: ignore[misc]
    with pytest.raises(ValueError, match="duplicate"):
        RegionTree([Place("330000", "浙江省", "PROVINCE"), Place("330000", "浙江省", "PROVINCE")])
    with pytest.raises(ValueError, match="not in the tree"):
        RegionTree([Place("331000", "台州市", "CITY", "330000")])
    with pytest.raises(ValueError, match="cycle"):
        RegionTree([Place("1", "a", "CITY", "2"), Place("2", "b", "CITY", "1")])
    with pytest.raises(ValueError, match="level"):
        Place("1", "a", "VILLAGE", None)  # type: ignore[arg-type]
    with pytest.raises(UnknownRegion):
        TREE.ancestors("999999")
    assert not TREE.contains("999999", "999999")


@pytest.mark.parametrize(
    ("home_city", "code", "county"),
    [
        pytest.param(TAIZHOU, "331081", "331081", id="local county is its own county"),
        pytest.param(TAIZHOU, "331081001", "331081", id="local town lies in its county"),
        pytest.param(TAIZHOU, "331000", None, id="home city itself is in no county"),
        pytest.param(TAIZHOU, "330302", None, id="another city's county is not local"),
        pytest.param(WENZHOU, "330302", "330302", id="same rule with Wenzhou as home"),
    ],
)
def test_local_county_of(home_city: str, code: str, county: str | None) -> None:
    assert local_county_of(TREE, home_city, code) == county


# --------------------------------------------------------------------------- §5.2


@pytest.mark.parametrize(
    ("changes", "day", "expected"),
    [
        pytest.param({}, date(2023, 5, 9), False, id="5.2 not in force the day before effectiveFrom"),
        pytest.param({}, date(2023, 5, 10), True, id="5.2 in force on effectiveFrom"),
        pytest.param({}, date(2099, 1, 1), True, id="5.2 no expiresOn: in force forever"),
        pytest.param(
            {"expires_on": date(2024, 6, 1)}, date(2024, 6, 1), True, id="5.2 expiresOn is inclusive"
        ),
        pytest.param(
            {"expires_on": date(2024, 6, 1)},
            date(2024, 6, 2),
            False,
            id="5.2 not in force the day after expiresOn",
        ),
        pytest.param({"stored_status": "SUSPENDED"}, D, False, id="5.2 SUSPENDED is never in force"),
        pytest.param({"stored_status": "TERMINATED"}, D, False, id="5.2 TERMINATED is never in force"),
        pytest.param({"stored_status": "DRAFT"}, D, False, id="5.2 DRAFT is never in force"),
        pytest.param({"stored_status": "PENDING"}, D, False, id="5.2 stored PENDING is never in force"),
    ],
)
def test_in_force(changes: dict[str, object], day: date, expected: bool) -> None:
    assert in_force(agreement(**changes), day) is expected


@pytest.mark.parametrize(
    ("changes", "today", "expected"),
    [
        pytest.param(
            {"effective_from": date(2024, 7, 1)},
            D,
            "PENDING",
            id="5.2 ACTIVE shows PENDING before effectiveFrom",
        ),
        pytest.param({}, D, "ACTIVE", id="5.2 ACTIVE shows ACTIVE while in force"),
        pytest.param({"expires_on": D}, D, "ACTIVE", id="5.2 ACTIVE on the expiry day"),
        pytest.param(
            {"expires_on": date(2024, 5, 31)}, D, "EXPIRED", id="5.2 ACTIVE shows EXPIRED after expiresOn"
        ),
        pytest.param(
            {"stored_status": "SUSPENDED", "expires_on": date(2020, 1, 1)},
            D,
            "SUSPENDED",
            id="5.2 SUSPENDED shown unchanged even when past expiry",
        ),
        pytest.param({"stored_status": "TERMINATED"}, D, "TERMINATED", id="5.2 TERMINATED shown unchanged"),
        pytest.param(
            {"stored_status": "DRAFT", "effective_from": date(2030, 1, 1)},
            D,
            "DRAFT",
            id="5.2 DRAFT unchanged",
        ),
    ],
)
def test_exposed_status(changes: dict[str, object], today: date, expected: str) -> None:
    assert exposed_status(agreement(**changes), today) == expected


# --------------------------------------------------------------------------- §5.3


@pytest.mark.parametrize(
    ("partner", "home", "expected"),
    [
        pytest.param("511300", "511300", True, id="5.3 partner city covers itself"),
        pytest.param("510000", "511302", True, id="5.3 province covers its county"),
        pytest.param("510000", "511300", True, id="5.3 province covers its city"),
        pytest.param("511300", "511302", True, id="5.3 city covers its county"),
        pytest.param("331000", "331081001", True, id="5.3 city covers its towns"),
        pytest.param("511302", "511303", False, id="5.3 county does not cover its sibling"),
        pytest.param("511302", "511300", False, id="5.3 county does not cover its parent city"),
        pytest.param("511300", "510000", False, id="5.3 city does not cover its province"),
        pytest.param("341621", "341622", False, id="5.3 涡阳县 does not cover 蒙城县"),
        pytest.param("310000", "310110", True, id="5.3 municipality covers its district"),
        pytest.param("310110", "310115", False, id="5.3 municipality district does not cover another"),
        pytest.param(
            "310110", "310000", False, id="5.3 municipality district does not cover the municipality"
        ),
        pytest.param("511300", "341621", False, id="5.3 unrelated region"),
        pytest.param("999999", "511302", False, id="5.3 unknown partner covers nothing"),
    ],
)
def test_partner_covers(partner: str, home: str, expected: bool) -> None:
    assert partner_covers(TREE, partner, home) is expected


# --------------------------------------------------------------------------- §5.4


@pytest.mark.parametrize(
    ("changes", "reach"),
    [
        pytest.param(
            {"citywide_shared": True}, TAIZHOU_COUNTIES, id="5.4 shared citywide: all local counties"
        ),
        pytest.param(
            {"local_code": TAIZHOU, "citywide_shared": False},
            TAIZHOU_COUNTIES,
            id="5.4 home city as signatory: all local counties even if not shared",
        ),
        pytest.param({"citywide_shared": False}, ("331004",), id="5.4 not shared: only the signatory county"),
        pytest.param(
            {"local_code": "331081001", "citywide_shared": False},
            ("331081",),
            id="5.4 town signatory not shared: its county",
        ),
        pytest.param(
            {"local_code": "331081001", "citywide_shared": True},
            TAIZHOU_COUNTIES,
            id="5.4 town signatory shared: all local counties",
        ),
        pytest.param({"local_code": "330302"}, (), id="5.4 signatory outside the home city: nothing"),
        pytest.param({"local_code": "999999"}, (), id="5.4 unknown signatory: nothing"),
    ],
)
def test_local_reach(changes: dict[str, object], reach: tuple[str, ...]) -> None:
    assert local_reach(TREE, TAIZHOU, agreement(**changes)) == reach


# --------------------------------------------------------------------------- §5.5


@pytest.mark.parametrize(
    ("matter_codes", "matter", "expected"),
    [
        pytest.param(None, SOCIAL_CARD, True, id="5.5 no list covers every cross-province matter"),
        pytest.param({"M-001"}, SOCIAL_CARD, True, id="5.5 listed matter covered"),
        pytest.param({"M-001"}, PENSION, False, id="5.5 unlisted matter not covered"),
        pytest.param(set(), SOCIAL_CARD, False, id="5.5 empty list covers nothing"),
        pytest.param(None, DRIVING, False, id="5.5 PROVINCE_WIDE never via agreement"),
        pytest.param({"M-010"}, DRIVING, False, id="5.5 PROVINCE_WIDE never via agreement even if listed"),
        pytest.param(None, PARKING, False, id="5.5 CITYWIDE never via agreement"),
    ],
)
def test_covers_matter(matter_codes: set[str] | None, matter: MatterFacts, expected: bool) -> None:
    assert covers_matter(agreement(matter_codes=matter_codes), matter) is expected


def test_matter_codes_are_frozen() -> None:
    assert agreement(matter_codes=["M-001"]).matter_codes == frozenset({"M-001"})


# --------------------------------------------------------------------------- §5.6

SHUNQING = "511302"
NANCHONG_SHARED = agreement()
NANCHONG_LUQIAO_ONLY = agreement(id=2, key="nc-lq-2", citywide_shared=False, signed_on=date(2023, 6, 1),
                                 effective_from=date(2023, 6, 1))  # fmt: skip
SICHUAN_WENLING = agreement(id=3, key="sc-wl", partner_code="510000", local_code="331081",
                            citywide_shared=False, signed_on=date(2022, 3, 1), effective_from=date(2022, 3, 1))  # fmt: skip
NANCHONG_JIAOJIANG_M1 = agreement(id=4, key="nc-jj", local_code="331002", citywide_shared=False,
                                  matter_codes={"M-001"}, signed_on=date(2023, 1, 1),
                                  effective_from=date(2023, 1, 1))  # fmt: skip
NANCHONG_EXPIRED = agreement(id=5, key="nc-old", expires_on=date(2024, 5, 31))
NANCHONG_PENDING = agreement(id=6, key="nc-new", effective_from=date(2024, 7, 1))
NANCHONG_SUSPENDED = agreement(id=7, key="nc-susp", stored_status="SUSPENDED")
WENZHOU_SIGNED = agreement(id=8, key="nc-lc", local_code="330302")
GUOYANG_CITY = agreement(id=9, key="gy-tz", partner_code="341621", local_code=TAIZHOU, citywide_shared=False,
                         title="涡阳县—台州市跨省通办合作协议")  # fmt: skip


@pytest.mark.parametrize(
    ("home", "matter", "agreements", "covered", "kind", "regions", "ids"),
    [
        pytest.param("331081001", PARKING, [], True, "LOCAL", TAIZHOU_COUNTIES, (), id="5.6 local town home: covered"),
        pytest.param("331004", SOCIAL_CARD, [], True, "LOCAL", TAIZHOU_COUNTIES, (), id="5.6 local county home"),
        pytest.param(TAIZHOU, DRIVING, [], True, "LOCAL", TAIZHOU_COUNTIES, (), id="5.6 home city itself: local"),
        pytest.param("330302", DRIVING, [], True, "PROVINCE", TAIZHOU_COUNTIES, (),
                     id="5.6 in-province home: PROVINCE_WIDE covered (全省通办)"),
        pytest.param("330302", SOCIAL_CARD, [], True, "PROVINCE", TAIZHOU_COUNTIES, (),
                     id="5.6 in-province home: CROSS_PROVINCE covered without agreement"),
        pytest.param("330302", PARKING, [], False, "SCOPE_EXCLUDED", (), (),
                     id="5.6 in-province home: CITYWIDE not covered"),
        pytest.param(SHUNQING, SOCIAL_CARD, [NANCHONG_SHARED], True, "AGREEMENT", TAIZHOU_COUNTIES, (1,),
                     id="5.6 out-of-province: shared agreement reaches all counties"),
        pytest.param(SHUNQING, SOCIAL_CARD, [NANCHONG_LUQIAO_ONLY], True, "AGREEMENT", ("331004",), (2,),
                     id="5.6 out-of-province: non-shared agreement reaches its county"),
        pytest.param(SHUNQING, SOCIAL_CARD, [NANCHONG_LUQIAO_ONLY, SICHUAN_WENLING, NANCHONG_JIAOJIANG_M1],
                     True, "AGREEMENT", ("331002", "331004", "331081"), (3, 4, 2),
                     id="5.6 union over several agreements, sorted by signedOn"),
        pytest.param(SHUNQING, PENSION, [NANCHONG_LUQIAO_ONLY, NANCHONG_JIAOJIANG_M1], True, "AGREEMENT",
                     ("331004",), (2,), id="5.6 agreement listing other matters does not count"),
        pytest.param(SHUNQING, SOCIAL_CARD, [NANCHONG_EXPIRED, NANCHONG_PENDING, NANCHONG_SUSPENDED], False,
                     "NONE", (), (), id="5.6 out-of-province: only expired/pending/suspended agreements"),
        pytest.param("341622", SOCIAL_CARD, [NANCHONG_SHARED, GUOYANG_CITY], False, "NONE", (), (),
                     id="5.6 out-of-province: no agreement for that region"),
        pytest.param("341621", SOCIAL_CARD, [GUOYANG_CITY], True, "AGREEMENT", TAIZHOU_COUNTIES, (9,),
                     id="5.6 home city signed: reaches all counties"),
        pytest.param(SHUNQING, SOCIAL_CARD, [WENZHOU_SIGNED], False, "NONE", (), (),
                     id="5.6 agreement signed by another city does not count here"),
        pytest.param(SHUNQING, DRIVING, [NANCHONG_SHARED], False, "SCOPE_EXCLUDED", (), (),
                     id="5.6 out-of-province: PROVINCE_WIDE excluded"),
        pytest.param(SHUNQING, PARKING, [NANCHONG_SHARED], False, "SCOPE_EXCLUDED", (), (),
                     id="5.6 out-of-province: CITYWIDE excluded"),
        pytest.param("310110", SOCIAL_CARD, [agreement(id=10, partner_code="310000")], True, "AGREEMENT",
                     TAIZHOU_COUNTIES, (10,), id="5.6 municipality agreement covers its district"),
        pytest.param(SHUNQING, None, [NANCHONG_JIAOJIANG_M1], True, "AGREEMENT", ("331002",), (4,),
                     id="5.6 no matter: covered when any cross-province matter is covered"),
        pytest.param(SHUNQING, None, [agreement(id=11, matter_codes={"M-999"})], False, "NONE", (), (),
                     id="5.6 no matter: list of unknown matters covers nothing"),
        pytest.param("330302", None, [], True, "PROVINCE", TAIZHOU_COUNTIES, (), id="5.6 no matter in province"),
        pytest.param("331004", None, [], True, "LOCAL", TAIZHOU_COUNTIES, (), id="5.6 no matter local"),
    ],
)  # fmt: skip
def test_coverage_for(
    home: str,
    matter: MatterFacts | None,
    agreements: list[AgreementFacts],
    covered: bool,
    kind: str,
    regions: tuple[str, ...],
    ids: tuple[int, ...],
) -> None:
    result = coverage_for(TREE, TAIZHOU, home, matter, agreements, D, CROSS)
    assert (result.covered, result.kind, result.local_regions) == (covered, kind, regions)
    assert tuple(a.id for a in result.agreements) == ids
    assert result.explanation.endswith("。")
    assert TREE.full_name(home) in result.explanation


def test_coverage_explanation_names_the_chain() -> None:
    result = coverage_for(TREE, TAIZHOU, SHUNQING, SOCIAL_CARD, [NANCHONG_SHARED], D, CROSS)
    assert result.explanation == (
        "四川省南充市顺庆区属于四川省南充市；四川省南充市于2023年5月10日与浙江省台州市路桥区签订"
        "《南充市—台州市路桥区跨省通办合作协议》，按“一地签约、全市共享”，"
        "协议效力及于台州市全部9个县（市、区），可在其中任一地办理“社会保障卡申领”。"
    )


@pytest.mark.parametrize(
    ("agreements", "phrases"),
    [
        pytest.param([NANCHONG_LUQIAO_ONLY], ["未实行全市共享，仅在路桥区生效", "可在路桥区办理"],
                     id="non-shared county"),
        pytest.param([GUOYANG_CITY], ["由台州市本级签订"], id="home city signatory"),
        pytest.param([agreement(local_code="331081001", citywide_shared=False)],
                     ["浙江省台州市温岭市太平街道", "签约乡镇（街道）所在的温岭市生效"], id="town signatory"),
        pytest.param([NANCHONG_LUQIAO_ONLY, SICHUAN_WENLING], ["属于四川省、四川省南充市；", "综上", "可在路桥区、温岭市办理"],
                     id="several agreements"),
    ],
)  # fmt: skip
def test_coverage_explanation_says_why_it_reaches(
    agreements: list[AgreementFacts], phrases: list[str]
) -> None:
    home = "341621" if agreements == [GUOYANG_CITY] else SHUNQING
    result = coverage_for(TREE, TAIZHOU, home, SOCIAL_CARD, agreements, D, CROSS)
    assert result.covered
    for a in agreements:
        assert TREE.full_name(a.partner_code) in result.explanation
        assert TREE.full_name(a.local_code) in result.explanation
        assert format_date_cn(a.signed_on) in result.explanation
    for phrase in phrases:
        assert phrase in result.explanation


@pytest.mark.parametrize(
    ("home", "matter", "agreements", "phrases"),
    [
        pytest.param("341622", SOCIAL_CARD, [], ["2024年6月1日没有有效的跨省通办协议覆盖安徽省亳州市蒙城县",
                                                  "异地咨询", "安徽省亳州市"], id="no agreement"),
        pytest.param(SHUNQING, SOCIAL_CARD, [NANCHONG_EXPIRED], ["已于2024年5月31日到期", "异地咨询"],
                     id="expired"),
        pytest.param(SHUNQING, SOCIAL_CARD, [NANCHONG_PENDING], ["自2024年7月1日起生效", "2024年6月1日尚未生效"],
                     id="pending"),
        pytest.param(SHUNQING, SOCIAL_CARD, [NANCHONG_SUSPENDED], ["目前状态为“已中止”"], id="suspended"),
        pytest.param(SHUNQING, PENSION, [NANCHONG_JIAOJIANG_M1], ["仅约定1项事项，不包括“养老保险关系转移”"],
                     id="matter not in the agreement's list"),
        pytest.param(SHUNQING, PARKING, [], ["该事项（“居民停车证办理”）为全市通办事项，仅限台州市"],
                     id="citywide matter out of city"),
        pytest.param("330302", PARKING, [], ["为全市通办事项，仅限台州市", "浙江省温州市"],
                     id="citywide matter in province"),
        pytest.param(SHUNQING, DRIVING, [], ["为全省通办事项，仅限浙江省"], id="province-wide matter out of province"),
    ],
)  # fmt: skip
def test_coverage_explanation_when_not_covered(
    home: str, matter: MatterFacts, agreements: list[AgreementFacts], phrases: list[str]
) -> None:
    result = coverage_for(TREE, TAIZHOU, home, matter, agreements, D, CROSS)
    assert not result.covered
    assert result.agreements == () and result.local_regions == ()
    for phrase in phrases:
        assert phrase in result.explanation, result.explanation


def test_coverage_unknown_region() -> None:
    with pytest.raises(UnknownRegion):
        coverage_for(TREE, TAIZHOU, "999999", SOCIAL_CARD, [], D)
    with pytest.raises(UnknownRegion):
        coverage_for(TREE, "999999", SHUNQING, SOCIAL_CARD, [], D)


def test_coverage_takes_a_one_shot_iterable() -> None:
    result = coverage_for(TREE, TAIZHOU, SHUNQING, SOCIAL_CARD, iter([NANCHONG_SHARED]), D)
    assert result.covered


def test_same_rules_with_wenzhou_as_home_city() -> None:
    """Nothing is tied to 台州市: 温州市 and its own counties follow the same rules."""
    lucheng_only = agreement(local_code="330302", citywide_shared=False, title="南充市—温州市鹿城区合作协议")
    shared = agreement(id=2, local_code="330303")
    assert TREE.local_counties(WENZHOU) == ("330302", "330303")
    assert local_reach(TREE, WENZHOU, lucheng_only) == ("330302",)
    assert local_reach(TREE, WENZHOU, shared) == ("330302", "330303")
    assert local_reach(TREE, WENZHOU, NANCHONG_SHARED) == ()

    local = coverage_for(TREE, WENZHOU, "330303", PARKING, [], D)
    assert (local.kind, local.local_regions) == ("LOCAL", ("330302", "330303"))
    in_province = coverage_for(TREE, WENZHOU, "331004", DRIVING, [], D)
    assert in_province.kind == "PROVINCE"
    assert coverage_for(TREE, WENZHOU, "331004", PARKING, [], D).kind == "SCOPE_EXCLUDED"

    result = coverage_for(TREE, WENZHOU, SHUNQING, SOCIAL_CARD, [lucheng_only, NANCHONG_SHARED], D, CROSS)
    assert (result.covered, result.local_regions) == (True, ("330302",))
    assert [a.id for a in result.agreements] == [1]
    assert "浙江省温州市鹿城区" in result.explanation and "台州" not in result.explanation

    halls = [
        HallFacts(1, None, "鹿城区行政服务中心", "330302", 28.0, 120.65, True),
        HallFacts(2, None, "龙湾区行政服务中心", "330303", 27.93, 120.81, True),
        HallFacts(3, None, "路桥区行政服务中心", "331004", 28.58, 121.37, True),
    ]
    assert [o.hall.id for o in hall_options(TREE, WENZHOU, result, SOCIAL_CARD, halls)] == [1]
    assert [o.hall.id for o in hall_options(TREE, WENZHOU, local, PARKING, halls)] == []


# --------------------------------------------------------------------------- §5.7

JIAOJIANG_XY = (28.676, 121.442)
WENLING_XY = (28.372, 121.386)

HALLS = [
    HallFacts(10, "tz-city", "台州市人民政府行政服务中心", TAIZHOU, 28.656, 121.421, True),
    HallFacts(11, "jj", "椒江区行政服务中心", "331002", *JIAOJIANG_XY, True),
    HallFacts(12, "jj-hm", "海门街道便民服务中心", "331002001", 28.68, 121.45, False, frozenset({"M-001"})),
    HallFacts(13, "lq", "路桥区行政服务中心", "331004", 28.582, 121.365, True),
    HallFacts(14, "wl", "温岭市行政服务中心", "331081", *WENLING_XY, True, frozenset({"M-020"})),
    HallFacts(15, "wl-tp", "太平街道便民服务中心", "331081001", 28.37, 121.37, False, frozenset({"M-020"})),
    HallFacts(16, "hy", "黄岩区行政服务中心", "331003", None, None, True),
    HallFacts(17, "lc", "鹿城区行政服务中心", "330302", 28.0, 120.65, True),
]


def options(
    coverage: CoverageResult, matter: MatterFacts, **kwargs: object
) -> list[tuple[int | str, str, float | None]]:
    found = hall_options(TREE, TAIZHOU, coverage, matter, HALLS, **kwargs)  # type: ignore[arg-type]
    return [(o.hall.id, o.county_code, o.distance_km) for o in found]


def test_distance_sanity() -> None:
    assert great_circle_km(*JIAOJIANG_XY, *JIAOJIANG_XY) == 0.0
    assert 30.0 < great_circle_km(*JIAOJIANG_XY, *WENLING_XY) < 40.0
    assert great_circle_km(0, 0, 0, 180) == pytest.approx(3.14159265 * 6371.0088, rel=1e-6)
    assert great_circle_km(*JIAOJIANG_XY, *WENLING_XY) == great_circle_km(*WENLING_XY, *JIAOJIANG_XY)


@pytest.mark.parametrize(
    ("agreements", "matter", "ids"),
    [
        pytest.param([NANCHONG_SHARED], SOCIAL_CARD, [10, 11, 12, 16, 13, 14],
                     id="5.7 shared: every window hall, the hall listing it, the city hall"),
        pytest.param([NANCHONG_LUQIAO_ONLY], SOCIAL_CARD, [13], id="5.7 non-shared: only the signatory county"),
        pytest.param([NANCHONG_JIAOJIANG_M1], SOCIAL_CARD, [11, 12],
                     id="5.7 county and its town; no city hall when not citywide"),
        pytest.param([NANCHONG_EXPIRED], SOCIAL_CARD, [], id="5.7 not covered: empty list"),
    ],
)  # fmt: skip
def test_hall_options_by_agreement(
    agreements: list[AgreementFacts], matter: MatterFacts, ids: list[int]
) -> None:
    coverage = coverage_for(TREE, TAIZHOU, SHUNQING, matter, agreements, D, CROSS)
    assert [i for i, _, _ in options(coverage, matter)] == ids


def test_hall_options_local_citywide_matter_needs_the_hall_to_list_it() -> None:
    coverage = coverage_for(TREE, TAIZHOU, "331004", PARKING, [], D)
    assert options(coverage, PARKING) == [(15, "331081", None), (14, "331081", None)]  # 太 < 温


def test_hall_options_nearest_first_and_first() -> None:
    coverage = coverage_for(TREE, TAIZHOU, SHUNQING, SOCIAL_CARD, [NANCHONG_SHARED], D, CROSS)
    near_wenling = options(coverage, SOCIAL_CARD, lat=28.37, lon=121.38)
    assert [i for i, _, _ in near_wenling] == [14, 13, 10, 11, 12, 16]
    distances = [d for _, _, d in near_wenling]
    assert distances[-1] is None  # no coordinates: last
    assert distances[:-1] == sorted(distances[:-1])  # type: ignore[type-var]
    assert 0 < distances[0] < 1.0  # type: ignore[operator]
    assert [i for i, _, _ in options(coverage, SOCIAL_CARD, lat=28.37, lon=121.38, first=2)] == [14, 13]
    assert options(coverage, SOCIAL_CARD, first=0) == []
    assert [i for i, _, _ in options(coverage, SOCIAL_CARD, first=1)] == [10]
    for first in (None, 0, 1, 2, 6, 10):  # the results page: the nearest few and how many in all
        shown, total = hall_options_counted(TREE, TAIZHOU, coverage, SOCIAL_CARD, HALLS, 28.37, 121.38, first)
        assert shown == hall_options(TREE, TAIZHOU, coverage, SOCIAL_CARD, HALLS, 28.37, 121.38, first)
        assert total == 6
    not_covered = coverage_for(TREE, TAIZHOU, SHUNQING, SOCIAL_CARD, [NANCHONG_EXPIRED], D, CROSS)
    assert hall_options_counted(TREE, TAIZHOU, not_covered, SOCIAL_CARD, HALLS) == ([], 0)


def test_hall_options_ties_break_by_name_then_id() -> None:
    coverage = coverage_for(TREE, TAIZHOU, "331004", SOCIAL_CARD, [], D)
    twins = [
        HallFacts(2, None, "乙中心", "331004", 28.5, 121.3, True),
        HallFacts(1, None, "乙中心", "331004", 28.5, 121.3, True),
        HallFacts(3, None, "甲中心", "331004", 28.5, 121.3, True),
    ]
    by_place = hall_options(TREE, TAIZHOU, coverage, SOCIAL_CARD, twins)
    by_distance = hall_options(TREE, TAIZHOU, coverage, SOCIAL_CARD, twins, lat=28.0, lon=121.0)
    expected = sorted(twins, key=lambda h: (h.name, h.id))
    assert [o.hall for o in by_place] == expected
    assert [o.hall for o in by_distance] == expected


def test_hall_option_reasons_and_agreements() -> None:
    coverage = coverage_for(
        TREE, TAIZHOU, SHUNQING, SOCIAL_CARD, [NANCHONG_LUQIAO_ONLY, NANCHONG_JIAOJIANG_M1], D, CROSS
    )
    found = {o.hall.id: o for o in hall_options(TREE, TAIZHOU, coverage, SOCIAL_CARD, HALLS)}
    assert set(found) == {11, 12, 13}
    assert [a.id for a in found[13].agreements] == [2]
    assert [a.id for a in found[12].agreements] == [4]
    assert "设有跨区域通办窗口" in found[13].explanation
    assert "浙江省台州市路桥区" in found[13].explanation and "2023年6月1日" in found[13].explanation
    assert "受理“社会保障卡申领”" in found[12].explanation
    assert "浙江省台州市椒江区海门街道" in found[12].explanation

    local = coverage_for(TREE, TAIZHOU, "331004", SOCIAL_CARD, [], D)
    assert all(o.agreements == () for o in hall_options(TREE, TAIZHOU, local, SOCIAL_CARD, HALLS))


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"lat": 28.0}, id="latitude without longitude"),
        pytest.param({"lat": 91.0, "lon": 121.0}, id="latitude out of range"),
        pytest.param({"first": -1}, id="negative first"),
    ],
)
def test_hall_options_bad_arguments(kwargs: dict[str, object]) -> None:
    coverage = coverage_for(TREE, TAIZHOU, "331004", SOCIAL_CARD, [], D)
    with pytest.raises(ValueError):
        hall_options(TREE, TAIZHOU, coverage, SOCIAL_CARD, HALLS, **kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- §5.8, §5.9


@pytest.mark.parametrize(
    ("population", "cooperation", "tier"),
    [
        pytest.param(80, 75, "RED", id="5.8 both high: RED"),
        pytest.param(60, 60, "RED", id="5.8 at the threshold counts as high"),
        pytest.param(60, 59.999, "GREEN", id="5.8 population only: GREEN"),
        pytest.param(59.999, 60, "BLUE", id="5.8 cooperation only: BLUE"),
        pytest.param(59.999, 59.999, "YELLOW", id="5.8 neither: YELLOW"),
        pytest.param(0, 0, "YELLOW", id="5.8 zero indices: YELLOW"),
        pytest.param(None, None, None, id="5.8 no indices: null"),
        pytest.param(80, None, None, id="5.8 only population known: null"),
        pytest.param(None, 80, None, id="5.8 only cooperation known: null"),
    ],
)
def test_partner_tier(population: float | None, cooperation: float | None, tier: str | None) -> None:
    assert partner_tier(population, cooperation) == tier


def test_partner_tier_custom_thresholds() -> None:
    assert partner_tier(50, 50, pop_threshold=50, coop_threshold=70) == "GREEN"
    assert partner_tier(50, 70, pop_threshold=50, coop_threshold=70) == "RED"


@pytest.mark.parametrize(
    ("registered_on", "late"),
    [
        pytest.param(date(2023, 5, 10), False, id="5.9 same day: on time"),
        pytest.param(date(2023, 5, 13), False, id="5.9 3 days after: on time"),
        pytest.param(date(2023, 5, 14), True, id="5.9 4 days after: late"),
        pytest.param(date(2023, 5, 9), False, id="5.9 registered before signing: not late"),
        pytest.param(None, False, id="5.9 no registration date: not flagged"),
    ],
)
def test_is_late_registration(registered_on: date | None, late: bool) -> None:
    assert is_late_registration(date(2023, 5, 10), registered_on) is late


def test_format_date_cn() -> None:
    assert format_date_cn(date(2023, 5, 10)) == "2023年5月10日"
    assert format_date_cn(date(2024, 12, 1)) == "2024年12月1日"
