"""The bundled data files: region counts and hierarchy, and the demo document's integrity and honesty.

These check the shipped files themselves (what `tongban init --demo` loads), so a bad rebuild of
`api/data/` is caught before any database is involved.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from api import bundled
from tools import build_demo

TAIZHOU = "331000"
TAIZHOU_COUNTIES = {"331002", "331003", "331004", "331022", "331023", "331024", "331081", "331082", "331083"}
PLACEHOLDERS = {"110100", "120100", "310100", "500100", "500200", "419000", "429000", "469000", "659000"}
TOWNS_PER_COUNTY = {
    "331002": 12,
    "331003": 19,
    "331004": 12,
    "331022": 10,
    "331023": 15,
    "331024": 20,
    "331081": 17,
    "331082": 19,
    "331083": 12,
}
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

MODES = {"FULL_ONLINE", "REMOTE_PROXY", "MULTI_SITE"}
SCOPES = {"CROSS_PROVINCE", "PROVINCE_WIDE", "CITYWIDE"}
STATUSES = {"DRAFT", "PENDING", "ACTIVE", "SUSPENDED", "TERMINATED", "EXPIRED"}
HALL_LEVELS = {"CITY", "COUNTY", "TOWN", "VILLAGE"}
WINDOW_SERVICES = {"CONSULT", "ASSIST", "SEND_RECEIVE"}
RELATION_KINDS = {"AID_XINJIANG", "EAST_WEST", "COOPERATION"}


@pytest.fixture(scope="module")
def regions() -> dict[str, bundled.RegionRow]:
    return {r["code"]: r for r in bundled.iter_regions()}


@pytest.fixture(scope="module")
def demo() -> dict[str, Any]:
    return bundled.demo_document()


def children(regions: dict[str, bundled.RegionRow], code: str) -> set[str]:
    return {c for c, r in regions.items() if r["parent_code"] == code}


# ------------------------------------------------------------------------------------------- regions


def test_files_are_package_data() -> None:
    assert bundled.regions_path().is_file()
    assert bundled.regions_path().parent == bundled.DATA_DIR
    assert (bundled.DATA_DIR / "__init__.py").is_file()
    assert (bundled.DATA_DIR / "SOURCES.md").is_file()


def test_region_counts_per_level(regions: dict[str, bundled.RegionRow]) -> None:
    assert Counter(r["level"] for r in regions.values()) == {
        "PROVINCE": 31,
        "CITY": 333,
        "COUNTY": 2851,
        "TOWN": 136,
    }


def test_region_hierarchy_is_consistent(regions: dict[str, bundled.RegionRow]) -> None:
    allowed_parents = {
        "PROVINCE": {None},
        "CITY": {"PROVINCE"},
        "COUNTY": {"CITY", "PROVINCE"},
        "TOWN": {"COUNTY"},
    }
    codes = list(regions)
    assert codes == sorted(codes), "parents must come before children"
    for code, r in regions.items():
        parent = regions.get(r["parent_code"]) if r["parent_code"] else None
        assert (r["parent_code"] is None) == (parent is None), f"{code}: parent {r['parent_code']} missing"
        assert (parent["level"] if parent else None) in allowed_parents[r["level"]], code
        assert len(code) == (9 if r["level"] == "TOWN" else 6), code
        if parent:
            assert code.startswith(parent["code"][:2]), code


def test_no_placeholders_or_function_zones(regions: dict[str, bundled.RegionRow]) -> None:
    assert not PLACEHOLDERS & set(regions)
    assert not {
        c for c, r in regions.items() if r["name"] in ("市辖区", "县") or "直辖县级行政区划" in r["name"]
    }
    # NBS function zones (e.g. 130171) have a 7 as 5th digit; GB/T 2260 counties never do.
    assert not [c for c, r in regions.items() if r["level"] == "COUNTY" and c[4] == "7"]


def test_placeholder_children_hang_under_the_province(regions: dict[str, bundled.RegionRow]) -> None:
    assert regions["659002"]["name"] == "阿拉尔市"
    assert regions["659002"]["parent_code"] == "650000"
    assert regions["110101"]["parent_code"] == "110000"
    assert regions["310110"]["parent_code"] == "310000"
    assert regions["500101"]["parent_code"] == "500000"
    assert regions["500229"]["parent_code"] == "500000"  # a former child of 县 500200
    assert regions["429004"]["parent_code"] == "420000"  # 仙桃市


def test_taizhou_has_nine_counties_and_136_towns(regions: dict[str, bundled.RegionRow]) -> None:
    assert regions[TAIZHOU] == {"code": TAIZHOU, "name": "台州市", "level": "CITY", "parent_code": "330000"}
    assert children(regions, TAIZHOU) == TAIZHOU_COUNTIES
    assert all(regions[c]["level"] == "COUNTY" for c in TAIZHOU_COUNTIES)
    towns = [r for r in regions.values() if r["level"] == "TOWN"]
    assert len(towns) == 136
    assert Counter(r["parent_code"] for r in towns) == TOWNS_PER_COUNTY
    assert all(r["code"].startswith(r["parent_code"] or "-") for r in towns)


def test_partner_regions_present(regions: dict[str, bundled.RegionRow]) -> None:
    for code, name in {
        "220500": "通化市",
        "511300": "南充市",
        "341600": "亳州市",
        "341621": "涡阳县",
        "341622": "蒙城县",
        "320505": "虎丘区",
        "310110": "杨浦区",
    }.items():
        assert regions[code]["name"] == name


# ---------------------------------------------------------------------------------------- demo document


def test_demo_document_is_a_fresh_copy() -> None:
    first = bundled.demo_document()
    first["matters"].clear()
    assert bundled.demo_document()["matters"]


def test_demo_counts(demo: dict[str, Any]) -> None:
    matters = demo["matters"]
    assert sum(not m["sample"] for m in matters) == 36
    assert Counter(m["scope"] for m in matters if m["sample"]) == {"PROVINCE_WIDE": 1, "CITYWIDE": 3}
    assert sum(not h["sample"] for h in demo["halls"]) == 5
    assert sum(not a["sample"] for a in demo["agreements"]) == 9
    assert len(demo["relations"]) == 6


def test_keys_and_codes_are_unique(demo: dict[str, Any]) -> None:
    for section, field in (
        ("matters", "code"),
        ("halls", "key"),
        ("agreements", "key"),
        ("partners", "regionCode"),
        ("relations", "key"),
        ("contacts", "key"),
    ):
        values = [record[field] for record in demo[section]]
        assert len(values) == len(set(values)), section
    names = [m["name"] for m in demo["matters"]]
    assert len(names) == len(set(names))
    aliases = [a for m in demo["matters"] for a in m["aliases"]]
    assert not set(aliases) & set(names)


def test_matter_codes_follow_first_appearance(demo: dict[str, Any]) -> None:
    real = [m for m in demo["matters"] if not m["sample"]]
    assert [m["code"] for m in real] == [f"M-{i:03d}" for i in range(1, len(real) + 1)]
    assert all(m["code"].startswith("S-") for m in demo["matters"] if m["sample"])
    by_code = {m["code"]: m["name"] for m in real}
    assert by_code["M-001"] == "企业等各类市场主体登记注册"
    assert by_code["M-002"] == "养老保险关系转移接续"
    assert by_code["M-008"] == "社会保障卡申领"


def test_merged_names_become_aliases(demo: dict[str, Any]) -> None:
    by_name = {m["name"]: m for m in demo["matters"]}
    assert by_name["5种门诊慢特病费用结算"]["aliases"] == ["门诊慢特病费用结算"]
    assert by_name["异地电子缴税"]["aliases"] == ["电子缴税"]
    assert by_name["开具税收完税证明"]["aliases"] == ["完税证明开具"]
    assert by_name["单位社会保险费申报"]["aliases"] == ["社保费申报"]
    assert by_name["城乡居民养老保险参保登记和待遇申请"]["aliases"] == ["城乡居民养老保险登记和待遇申请"]
    assert "社保卡申领" in by_name["社会保障卡申领"]["aliases"]
    assert sum(m["name"] == "正常退休提取住房公积金" for m in demo["matters"]) == 1
    assert sum(m["name"] == "临时居民身份证办理" for m in demo["matters"]) == 1


def test_matter_fields(demo: dict[str, Any]) -> None:
    for m in demo["matters"]:
        assert m["scope"] in SCOPES and set(m["modes"]) <= MODES, m["code"]
        assert m["department"] and m["keywords"] and m["source"], m["code"]
        assert m["nationalList"] in (None, "2020-35", "2022-34"), m["code"]
        assert m["modesSample"] is True or not m["modes"], m["code"]  # no source gives modes
        if m["sample"]:
            assert m["sourceUrl"] is None and m["nationalList"] is None, m["code"]
        else:
            assert m["scope"] == "CROSS_PROVINCE" and m["sourceUrl"], m["code"]


def test_guides(demo: dict[str, Any]) -> None:
    guides = {m["code"]: m["guide"] for m in demo["matters"] if "guide" in m}
    real = {c for c, g in guides.items() if not g["sample"]}
    assert real == {"M-002", "M-008"}
    assert guides["M-008"]["timeLimitDays"] == 10 and guides["M-008"]["fee"] == "不收费"
    assert "panzhihua" in guides["M-002"]["sourceUrl"] and "gdzwfw" in guides["M-002"]["sourceUrl"]
    for code, g in guides.items():
        assert g["materials"] and all(
            {"name", "required", "copies", "note"} <= set(x) for x in g["materials"]
        ), code
        if g["sample"]:
            assert g["publisher"] is None and g["sourceUrl"] is None and g["walkthrough"], code
            assert 3 <= len(g["steps"]) <= 5 and 2 <= len(g["materials"]) <= 4, code
        else:
            assert g["publisher"] and g["sourceUrl"], code


def test_region_references_exist(demo: dict[str, Any], regions: dict[str, bundled.RegionRow]) -> None:
    refs = [h["regionCode"] for h in demo["halls"]]
    refs += [c for a in demo["agreements"] for c in (a["partnerCode"], a["localCode"])]
    refs += [p["regionCode"] for p in demo["partners"]]
    refs += [c for r in demo["relations"] for c in (r["partnerCode"], r["localCode"])]
    refs += [c["regionCode"] for c in demo["contacts"]]
    assert not [c for c in refs if c not in regions]


def in_taizhou(regions: dict[str, bundled.RegionRow], code: str) -> bool:
    while code:
        if code == TAIZHOU:
            return True
        code = regions[code]["parent_code"] or ""
    return False


def test_local_sides_are_in_taizhou(demo: dict[str, Any], regions: dict[str, bundled.RegionRow]) -> None:
    assert all(in_taizhou(regions, h["regionCode"]) for h in demo["halls"])
    assert all(in_taizhou(regions, a["localCode"]) for a in demo["agreements"])
    assert not any(in_taizhou(regions, a["partnerCode"]) for a in demo["agreements"])


def test_matter_references_exist(demo: dict[str, Any]) -> None:
    codes = {m["code"] for m in demo["matters"]}
    refs = [c for h in demo["halls"] for c in h["matterCodes"]]
    refs += [c for a in demo["agreements"] for c in (a["matterCodes"] or [])]
    assert refs and not [c for c in refs if c not in codes]
    cross = {m["code"] for m in demo["matters"] if m["scope"] == "CROSS_PROVINCE"}
    assert all(set(a["matterCodes"]) <= cross for a in demo["agreements"] if a["matterCodes"])


def test_halls(demo: dict[str, Any], regions: dict[str, bundled.RegionRow]) -> None:
    for h in demo["halls"]:
        assert h["level"] in HALL_LEVELS and set(h["windowServices"]) <= WINDOW_SERVICES, h["key"]
        assert h["address"] is None and h["coordinatesApproximate"] is True, h["key"]
        assert 27.5 < h["latitude"] < 29.5 and 120.3 < h["longitude"] < 122.0, h["key"]
        assert h["hasCrossRegionWindow"] == bool(h["windowServices"]), h["key"]
        assert h["level"] == regions[h["regionCode"]]["level"], h["key"]
    real = {h["key"]: h for h in demo["halls"] if not h["sample"]}
    assert set(real) == {
        "taizhou-city-centre",
        "jiaojiang-centre",
        "huangyan-centre",
        "luqiao-centre",
        "linhai-approval-office",
    }
    assert real["taizhou-city-centre"]["level"] == "CITY" and real["taizhou-city-centre"]["openingHours"]
    assert all(h["hasCrossRegionWindow"] and "地址未公开收录" in h["source"] for h in real.values())
    towns = [h for h in demo["halls"] if h["level"] == "TOWN"]
    assert towns and all(h["sample"] and not h["hasCrossRegionWindow"] and h["matterCodes"] for h in towns)


def test_agreements(demo: dict[str, Any]) -> None:
    for a in demo["agreements"]:
        assert a["status"] in STATUSES, a["key"]
        assert a["signedOn"] <= a["effectiveFrom"], a["key"]
        assert a["expiresOn"] is None or a["effectiveFrom"] <= a["expiresOn"], a["key"]
    real = [a for a in demo["agreements"] if not a["sample"]]
    assert all(a["sourceUrl"] and a["source"] and a["note"] and a["matterCodes"] is None for a in real)
    assert {a["partnerCode"] for a in real} == {"310110", "320505", "341600", "341621", "341622"}
    by_key = {a["key"]: a for a in demo["agreements"]}
    assert by_key["yangpu-taizhou-2020-10"]["signedOn"] == "2020-10-01"
    assert by_key["yangpu-taizhou-2020-10"]["itemsCount"] == 22
    assert by_key["bozhou-taizhou-2021-04-20"]["itemsCount"] == 72
    assert by_key["nanchong-luqiao-2023"]["signedOn"] == "2023-05-10"
    samples = [a for a in demo["agreements"] if a["sample"]]
    assert any(not a["citywideShared"] for a in samples)
    assert any(a["matterCodes"] for a in samples)
    assert any(a["expiresOn"] and a["expiresOn"] < "2025-01-01" for a in samples)
    assert any(a["effectiveFrom"] == "2027-01-01" for a in samples)
    late = [
        a
        for a in samples
        if (date.fromisoformat(a["registeredOn"]) - date.fromisoformat(a["signedOn"])).days > 3
    ]
    assert len(late) == 1


def test_relations_are_not_agreements(demo: dict[str, Any]) -> None:
    assert {r["kind"] for r in demo["relations"]} == RELATION_KINDS
    assert all(r["source"] and r["sourceUrl"] and r["sample"] is False for r in demo["relations"])
    agreement_partners = {a["partnerCode"] for a in demo["agreements"] if not a["sample"]}
    assert not agreement_partners & {"659002", "220500", "511300"}


def test_partner_indices_show_all_four_tiers(demo: dict[str, Any]) -> None:
    def tier(p: dict[str, Any]) -> str:
        pop, coop = p["populationIndex"] >= 60, p["cooperationIndex"] >= 60
        return {(True, True): "RED", (True, False): "GREEN", (False, True): "BLUE", (False, False): "YELLOW"}[
            pop, coop
        ]

    assert all(p["sample"] for p in demo["partners"])
    assert {tier(p) for p in demo["partners"]} == {"RED", "GREEN", "BLUE", "YELLOW"}


def test_contacts_are_obviously_fake(demo: dict[str, Any]) -> None:
    contacts = demo["contacts"]
    assert {c["regionCode"] for c in contacts} >= TAIZHOU_COUNTIES | {TAIZHOU}
    assert all(
        c["sample"] and c["name"].startswith("示例") and c["phone"].startswith("000-") for c in contacts
    )


def test_every_unsourced_record_is_sample(demo: dict[str, Any]) -> None:
    for section in ("matters", "halls", "agreements", "partners", "relations", "contacts"):
        for record in demo[section]:
            assert isinstance(record["sample"], bool), section
            if not record.get("sourceUrl"):
                assert record["sample"] is True, (section, record)
            if record["sample"] and "source" in record:
                assert record["source"].startswith("示例数据"), (section, record)


# -------------------------------------------------------------------------------------------- rebuild


def test_the_runtime_never_needs_the_offline_build_tool() -> None:
    """`tongban init --demo` reads api/data/ only: tools/ (build_demo.py and its samples) is neither
    imported by the packages nor shipped in them."""
    import re
    import tomllib
    from fnmatch import fnmatchcase

    root = Path(__file__).resolve().parents[1]
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    assert any(fnmatchcase("api.data", pattern) for pattern in include)
    assert not any(fnmatchcase("tools", pattern) for pattern in include)
    uses_tools = re.compile(r"^\s*(from\s+tools\b|import\s+tools\b)|[\"']tools[\"'/]", re.MULTILINE)
    offenders = [
        str(path.relative_to(root))
        for package in ("api", "web", "search_index", "migrations")
        for path in (root / package).rglob("*.py")
        if uses_tools.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
    assert bundled.demo_path().parent == root / "api" / "data"


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="the shared data folder is not beside this checkout")
def test_committed_files_are_the_build_output() -> None:
    for path, text in build_demo.outputs(SHARED_DATA).items():
        assert path.read_text(encoding="utf-8") == text, f"{path.name} is stale: rerun tools/build_demo.py"


# Matters handled anywhere in China (so a sample marking them 全省通办 or 全市通办 would mislead): the
# policy and year, and the national-list matter a narrower sample would contradict.
NATIONWIDE = [
    ("机动车驾驶证期满换证", "公安部 驾驶证业务“全国通办”, 2019年6月起"),
    ("机动车驾驶证补证", "公安部 驾驶证业务“全国通办”, 2019年6月起"),
    ("个体工商户设立登记", "国办发〔2020〕35号 跨省通办清单: 企业等各类市场主体登记注册"),
]


@pytest.mark.parametrize(("name", "policy"), NATIONWIDE)
def test_no_sample_narrows_a_matter_that_is_handled_nationwide(
    demo: dict[str, Any], name: str, policy: str
) -> None:
    narrow = [
        m["code"]
        for m in demo["matters"]
        if m["sample"] and m["scope"] != "CROSS_PROVINCE" and m["name"] == name
    ]
    assert not narrow, f"{name}: {policy}; the sample {narrow} marks it narrower and misleads"


def test_sample_matters_do_not_repeat_a_national_list_matter(demo: dict[str, Any]) -> None:
    national = {m["name"] for m in demo["matters"] if not m["sample"]}
    samples = [m for m in demo["matters"] if m["sample"]]
    assert len(samples) <= 4  # fewer, better
    assert not [m["name"] for m in samples if m["name"] in national]
