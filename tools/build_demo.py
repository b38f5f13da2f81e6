"""Build the bundled data files (`api/data/regions.csv`, `api/data/demo.json`) from the team's sourced
data folder and the hand-written parts in `tools/data/demo_samples.json`.

Why a script: the product reads only the files in `api/data/` at run time, never the shared data folder
nor this `tools/` folder, so every transformation from the sourced CSV/JSON to what we ship has to be
repeatable and reviewable in one place. The real records keep their sources; everything we chose or
made up for the demo is in `tools/data/demo_samples.json` (records with ``sample: true``; see
api/data/SOURCES.md). An offline tool, not part of the installed package.

    python tools/build_demo.py /path/to/shared/data           # (re)write api/data/regions.csv and demo.json
    python tools/build_demo.py --check /path/to/shared/data   # exit 1 when the committed files differ
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
#: where the built files go: the package data `tongban init` reads (api/bundled.py)
OUT = HERE.parent / "api" / "data"
#: our own choices and sample records (JSON: readable and diffable without running code)
SAMPLES: dict[str, Any] = json.loads((HERE / "data" / "demo_samples.json").read_text(encoding="utf-8"))
HOME_CITY = "331000"
TAIZHOU_COUNTIES = ("331002", "331003", "331004", "331022", "331023", "331024", "331081", "331082", "331083")

LEVELS = {"province": "PROVINCE", "city": "CITY", "county": "COUNTY", "town": "TOWN"}
ALL_WINDOW_SERVICES = ["CONSULT", "ASSIST", "SEND_RECEIVE"]

POLICY = "《构建“一地签约、全市共享”机制推进政务“跨区域通办”服务能力提升工作方案（征求意见稿）》（台州市政务服务管理办公室，2023-04-26）"


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(fh)]


def unique(items: Iterable[str | None]) -> list[str]:
    seen: list[str] = []
    for item in items:
        if item and item not in seen:
            seen.append(item)
    return seen


def join_urls(values: Iterable[str]) -> str | None:
    urls = unique(u.strip() for value in values for u in value.split(" ; "))
    return " ; ".join(urls) or None


# --------------------------------------------------------------------------------------------- regions


def build_regions(src: Path) -> list[dict[str, str]]:
    """GB/T 2260-shaped regions: placeholders dropped, their children re-parented to the province."""
    rows = read_csv(src / "regions.csv")
    placeholders = {r["code"]: r["parent_code"] for r in rows if r["note"] == "placeholder"}
    out: list[dict[str, str]] = []
    for r in rows:
        if r["code"] in placeholders:
            continue
        parent = placeholders.get(r["parent_code"], r["parent_code"])
        out.append({"code": r["code"], "name": r["name"], "level": LEVELS[r["level"]], "parent_code": parent})
    for r in read_csv(src / "regions_taizhou_towns.csv"):
        out.append({"code": r["code"], "name": r["name"], "level": "TOWN", "parent_code": r["parent_code"]})
    out.sort(key=lambda r: r["code"])

    codes = {r["code"] for r in out}
    zones = {r["code"] for r in read_csv(src / "regions_nbs_function_zones.csv")}
    if len(codes) != len(out):
        raise ValueError("duplicate region codes")
    if zones & codes:
        raise ValueError(f"function zones leaked in: {sorted(zones & codes)}")
    missing = {r["parent_code"] for r in out if r["parent_code"]} - codes
    if missing:
        raise ValueError(f"unknown parents: {sorted(missing)}")
    children = sorted(r["code"] for r in out if r["parent_code"] == HOME_CITY)
    if tuple(children) != TAIZHOU_COUNTIES:
        raise ValueError(f"台州市 children are {children}")
    return out


def regions_csv_text(rows: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["code", "name", "level", "parent_code"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


class Regions:
    """Name look-ups over the built regions, so records can say 上海市杨浦区 rather than a bare code."""

    def __init__(self, rows: list[dict[str, str]]) -> None:
        self.by_code = {r["code"]: r for r in rows}

    def name(self, code: str) -> str:
        return self.by_code[code]["name"]

    def full_name(self, code: str) -> str:
        names: list[str] = []
        row: dict[str, str] | None = self.by_code[code]
        while row is not None:
            names.append(row["name"])
            row = self.by_code.get(row["parent_code"]) if row["parent_code"] else None
        return "".join(reversed(names))

    def require(self, *codes: str) -> None:
        missing = [c for c in codes if c not in self.by_code]
        if missing:
            raise ValueError(f"unknown region codes: {missing}")


# --------------------------------------------------------------------------------------------- matters

# One matter per group_key: canonical name, our department, illustrative modes, keywords (see the file's
# "about" texts); matters_national_more.csv rows merged into a group, and those that are matters of their own.
GROUPS: dict[str, dict[str, Any]] = SAMPLES["matterGroups"]["groups"]
MORE_MERGE: dict[str, str] = SAMPLES["moreMatters"]["merge"]
MORE_GROUPS: dict[str, dict[str, Any]] = SAMPLES["moreMatters"]["groups"]


def national_list_of(row: dict[str, str]) -> str | None:
    """Which national list a matters_national.csv row belongs to, by what its source is.

    35号 for the executive meeting (except its "下一步" items) and the Inner Mongolia restatement of the
    35号 list; 34号 for the 2022 rows; None where the source is a local signing report or a ministry
    announcement that does not tie the item to either annex.
    """
    if "34号" in row["source_doc"]:
        return "2022-34"
    if row["batch_context"].startswith("会议提出"):
        return None
    if (
        row["list_scope"] in ("national", "regional restatement of national list")
        and "35号" in row["source_doc"]
    ):
        return "2020-35"
    return None


def caveat_of(row: dict[str, str]) -> str | None:
    if row["batch_context"].startswith("会议提出"):
        return "会议提出“下一步还要加快实现”，未确认属于140项附件清单"
    if row["list_scope"].startswith("regional (14"):
        return "措辞与35号正文相符，但来源为地方签约报道，未核实属于附件清单"
    if row["list_scope"] == "ministry announcement":
        return "人社部表态，来源未说明是否属于35号附件清单"
    return None


def deadline_of(text: str) -> str | None:
    return text if text.endswith("底前") else None


def build_matters(src: Path) -> list[dict[str, Any]]:
    groups: dict[str, dict[str, Any]] = {}

    def group(key: str, name: str) -> dict[str, Any]:
        if key not in groups:
            groups[key] = {
                "names": [],
                "lists": [],
                "deadlines": [],
                "sources": [],
                "urls": [],
                "ministries": [],
                "caveats": [],
            }
        g = groups[key]
        g["names"].append(name)
        return g

    for row in read_csv(src / "matters_national.csv"):
        g = group(row["group_key"], row["name"])
        g["lists"].append(national_list_of(row))
        g["deadlines"].append(deadline_of(row["target_deadline"]))
        g["sources"].append(f"{row['source_doc']}：{row['evidence']}")
        g["urls"].append(row["evidence_url"])
        g["ministries"].append(row["department"])
        g["caveats"].append(caveat_of(row))
    for row in read_csv(src / "matters_national_more.csv"):
        key = MORE_MERGE.get(row["name"], f"more:{row['name']}")
        g = group(key, row["name"])
        g["lists"].append(row["list"] or None)
        g["deadlines"].append(row["deadline"] or None)
        g["sources"].append(row["source"])
        g["urls"].append(row["source_url"])
        g["ministries"].append(row["department"])
        g["caveats"].append(None)

    matters: list[dict[str, Any]] = []
    for number, (key, g) in enumerate(groups.items(), start=1):
        if key.startswith("more:"):
            conf = {"name": key.removeprefix("more:"), **MORE_GROUPS[key.removeprefix("more:")]}
        else:
            conf = GROUPS[key]
        national_list = next((x for x in g["lists"] if x), None)
        source = " ; ".join(unique(g["sources"]))
        ministries = unique(g["ministries"])
        if ministries:
            source += f"（来源所载主管部委：{'、'.join(ministries)}）"
        if national_list is None:
            source += f"（{'；'.join(unique(g['caveats']))}）"
        if national_list == "2020-35" and key in (
            "more:个人住房公积金缴存贷款等信息查询",
            "more:出具贷款职工住房公积金缴存使用证明",
        ):
            source += "（来源未直接引用35号文号；按部委设定、2020年底前首批时限归入35号）"
        matters.append(
            {
                "code": f"M-{number:03d}",
                "name": conf["name"],
                "aliases": [n for n in unique(g["names"]) if n != conf["name"]],
                "department": conf["department"],
                "scope": "CROSS_PROVINCE",
                "modes": conf["modes"],
                "modesSample": True,
                "keywords": conf["keywords"],
                "nationalList": national_list,
                "deadline": next((d for d in g["deadlines"] if d), None),
                "source": source,
                "sourceUrl": join_urls(g["urls"]),
                "sample": False,
                "_group": key,
            }
        )
    return matters


SAMPLE_MATTER_SOURCE: str = SAMPLES["sampleMatters"]["source"]
SAMPLE_MATTERS: list[dict[str, Any]] = SAMPLES["sampleMatters"]["items"]


def build_sample_matters() -> list[dict[str, Any]]:
    labels = {"PROVINCE_WIDE": "全省通办", "CITYWIDE": "全市通办"}
    return [
        {
            "code": m["code"],
            "name": m["name"],
            "aliases": [],
            "department": m["department"],
            "scope": m["scope"],
            "modes": m["modes"],
            "modesSample": True,
            "keywords": m["keywords"],
            "nationalList": None,
            "deadline": None,
            "source": SAMPLE_MATTER_SOURCE.format(list=labels[m["scope"]]),
            "sourceUrl": None,
            "sample": True,
        }
        for m in SAMPLE_MATTERS
    ]


# ---------------------------------------------------------------------------------------------- guides


def material(name: str, required: bool, copies: int | None = 1, note: str | None = None) -> dict[str, Any]:
    return {"name": name, "required": required, "copies": copies, "note": note}


def real_guides(src: Path) -> dict[str, dict[str, Any]]:
    """The three real 办事指南 excerpts, attached to the national matter each one implements."""
    guides = {g["id"]: g for g in json.loads((src / "guides.json").read_text(encoding="utf-8"))}
    pz, zh, jl = (
        guides["panzhihua-pension-transfer"],
        guides["zhuhai-pension-transfer-in"],
        guides["jiangling-social-security-card"],
    )

    pz_conditions = "；".join(f"（{i}）{c}" for i, c in enumerate(pz["conditions"], start=1))
    pension = {
        "conditions": (
            f"以下条件摘自{pz['region']['name']}人社局办事指南（{pz['published']}，页面摘录，可能不完整），"
            f"文中“省内”指四川省，在台州办理以浙江省经办机构公布的条件为准。{pz['service_content']}。"
            f"{pz_conditions}。另据广东政务服务网（珠海）：{'；'.join(zh['notes'])}。"
        ),
        "materials": [
            material(
                pz["materials"][0]["name"],
                False,
                None,
                "男性已满50周岁、女性已满40周岁者提供（原文“第12项”，我们理解为“第1、2项”，未核实）",
            ),
            material(pz["materials"][1]["name"], True, None, "各情形均需提供（原文“第2项”）"),
            material(
                pz["materials"][2]["name"],
                False,
                None,
                "经批准调动人员提供（原文“第23项”，我们理解为“第2、3项”，未核实）",
            ),
        ],
        "steps": [
            f"{s}（网上办理流程，摘自广东政务服务网·珠海）" if i == 0 else s
            for i, s in enumerate(zh["online_process"])
        ],
        "timeLimitDays": None,
        "fee": None,
        "legalBasis": "；".join(pz["legal_basis"]),
        "walkthrough": None,
        "publisher": f"{pz['publisher']}（条件、依据、材料）；{zh['publisher']}（网上办理步骤）",
        "sourceUrl": f"{pz['url']} ; {zh['url']}",
        "sample": False,
    }
    card = {
        "conditions": (
            f"摘自{jl['region']['name']}人社局“社会保障卡制作发放及管理”服务标准（页面摘录，论坛转载，出处较弱；"
            f"摘录未载明申领条件）。承诺时限：{jl['promised_time_limit']}；法定时限：{jl['legal_time_limit']}；"
            f"数量限制：{jl['quantity_limit']}；办理时间：{jl['hours']}。"
        ),
        "materials": [
            material(jl["materials"][0]["name"], True, None),
            material(jl["materials"][1]["name"], False, None, "无民事行为能力或限制民事行为能力人申领时提供"),
            material(jl["materials"][2]["name"], True, None, "登记信息，现场或线上填写，非纸质材料"),
        ],
        "steps": [],
        "timeLimitDays": 10,
        "fee": jl["fee"],
        "legalBasis": "；".join(jl["legal_basis"]),
        "walkthrough": None,
        "publisher": jl["publisher"],
        "sourceUrl": jl["url"],
        "sample": False,
    }
    return {"pension_transfer": pension, "social_security_card_apply": card}


def sample_guides() -> dict[str, dict[str, Any]]:
    """Short illustrative guides for the most asked-for matters (sample: true), by group key."""
    guides: dict[str, dict[str, Any]] = SAMPLES["sampleGuides"]["guides"]
    return guides


# ----------------------------------------------------------------------------------------------- halls

REAL_HALL_KEYS = {
    "331000": "taizhou-city-centre",
    "331002": "jiaojiang-centre",
    "331003": "huangyan-centre",
    "331004": "luqiao-centre",
    "331082": "linhai-approval-office",
}

WINDOW_NOTE = (
    f"跨区域通办窗口及异地咨询、异地帮办、异地收发件三项服务系按{POLICY}“在通办双方市县两级政务大厅分别设置跨区域通办窗口”"
    "的要求设定，未经实地核实"
)


def build_halls(src: Path, regions: Regions, sample_codes: list[str]) -> list[dict[str, Any]]:
    seats = {r["code"]: r for r in read_csv(src / "county_seats_taizhou.csv")}
    halls: list[dict[str, Any]] = []
    for row in read_csv(src / "halls_taizhou.csv"):
        code = row["region_code"]
        seat = seats[code]
        halls.append(
            {
                "key": REAL_HALL_KEYS[code],
                "name": row["name"],
                "regionCode": code,
                "level": "CITY" if code == HOME_CITY else "COUNTY",
                "address": None,
                "phone": None,
                "openingHours": row["opening_hours"] or None,
                "latitude": float(seat["lat"]),
                "longitude": float(seat["lon"]),
                "coordinatesApproximate": True,
                "hasCrossRegionWindow": True,
                "windowServices": ALL_WINDOW_SERVICES,
                "matterCodes": [],
                "source": (
                    f"名称：{row['evidence']}。地址未公开收录（待核实）；电话未找到；"
                    f"坐标为{seat['name']}驻地近似点（county_seats_taizhou.csv，约±5 km），非大厅实测位置。{WINDOW_NOTE}。"
                    f"原始说明：{row['note']}"
                ),
                "sourceUrl": row["evidence_url"],
                "sample": False,
            }
        )

    made_up = SAMPLES["sampleHalls"]
    hours = made_up["openingHours"]
    for centre in made_up["countyCentres"]:
        code, key = centre["regionCode"], centre["key"]
        seat = seats[code]
        halls.append(
            {
                "key": key,
                "name": f"{regions.name(code)}行政服务中心",
                "regionCode": code,
                "level": "COUNTY",
                "address": None,
                "phone": None,
                "openingHours": hours,
                "latitude": float(seat["lat"]),
                "longitude": float(seat["lon"]),
                "coordinatesApproximate": True,
                "hasCrossRegionWindow": True,
                "windowServices": ALL_WINDOW_SERVICES,
                "matterCodes": sample_codes,
                "source": made_up["countyCentreSource"],
                "sourceUrl": None,
                "sample": True,
            }
        )

    for town_hall in made_up["towns"]:
        town, county = town_hall["regionCode"], town_hall["countyCode"]
        seat = seats[county]
        halls.append(
            {
                "key": town_hall["key"],
                "name": f"{regions.name(county)}{regions.name(town)}便民服务中心",
                "regionCode": town,
                "level": "TOWN",
                "address": None,
                "phone": None,
                "openingHours": hours,
                "latitude": round(float(seat["lat"]) + town_hall["offsetLat"], 3),
                "longitude": round(float(seat["lon"]) + town_hall["offsetLon"], 3),
                "coordinatesApproximate": True,
                "hasCrossRegionWindow": False,
                "windowServices": [],
                "matterCodes": town_hall["matterCodes"],
                "source": made_up["townSource"],
                "sourceUrl": None,
                "sample": True,
            }
        )
    return halls


# ------------------------------------------------------------------------------------------ agreements

PARTNER_SLUGS = {
    "310110": "yangpu",
    "320505": "suzhou-gaoxin",
    "341600": "bozhou",
    "341621": "guoyang",
    "341622": "mengcheng",
}
LOCAL_SLUGS = {
    "331000": "taizhou",
    "331002": "jiaojiang",
    "331003": "huangyan",
    "331004": "luqiao",
    "331082": "linhai",
}

SUZHOU_GAOXIN = "320505"
SUZHOU_GAOXIN_NOTE = (
    "苏州高新区在NBS数据中无独立代码（共享数据文件只给出苏州市320500）；苏州高新区与虎丘区实行“区政合一”"
    "（合署办公、管辖范围一致），故取虎丘区320505作为合作方代码，而不用会夸大合作范围的苏州市代码"
)
SUZHOU_GAOXIN_URL = "https://wikiwand.com/zh-tw/articles/%E8%8B%8F%E5%B7%9E%E9%AB%98%E6%96%B0%E5%8C%BA"


def build_real_agreements(src: Path, regions: Regions) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for row in read_csv(src / "partners_taizhou.csv"):
        if not row["relation_type"].startswith("跨省通办"):
            continue
        local = row["taizhou_region_code"]
        partner = row["partner_region_code"] or (
            SUZHOU_GAOXIN if "苏州市高新区" in row["partner_party"] else ""
        )
        regions.require(local, partner)
        notes: list[str] = []
        since = row["since"]
        if since == "2020-10":
            signed, stamp = "2020-10-01", "2020-10"
            notes.append("来源只给出月份（2020-10），signedOn 取当月1日")
        elif since == "2021-04-20":
            signed, stamp = since, since
            notes.append("四地（台州、杨浦、苏州高新区、亳州）线上签约，按台州市与各方分别记录")
        else:
            signed, stamp = "2021-04-20", "2021-04"
            notes.append(
                "报道日期：签约日期为2021年4月（具体日期未见于来源），signedOn 取中国新闻网报道日期2021-04-20"
            )
        url = row["evidence_url"]
        source = row["evidence"]
        if partner == SUZHOU_GAOXIN:
            notes.append(SUZHOU_GAOXIN_NOTE)
            source += " ; 区政合一：维基百科“苏州高新区”条目（重定向至“虎丘区”，wikiwand 镜像）"
            url += f" ; {SUZHOU_GAOXIN_URL}"
        if local != HOME_CITY:
            notes.append(
                f"协议签于2023年“一地签约、全市共享”方案之前；方案规定“凡与本市任意一地签订…即刻享受台州全市范围内的"
                f"“跨区域通办”服务”，故 citywideShared 取 true（溯及适用，{POLICY}）"
            )
        if row["items_count"]:
            notes.append(
                f"来源载明事项{row['items_count']}项，但事项清单未找到，matterCodes 为 null（按覆盖全部跨省通办事项处理，可能偏宽）"
            )
        else:
            notes.append(
                "来源未载明事项数与清单，matterCodes 为 null（按覆盖全部跨省通办事项处理，可能偏宽）"
            )
        notes.append("到期日与现行状态未见于来源，按长期有效（ACTIVE）记录")
        if row["note"] and partner != SUZHOU_GAOXIN:
            notes.append(f"来源摘要：{row['note']}")
        partner_name = row["partner_party"]
        title = (
            f"{row['taizhou_party']}与{partner_name}政务服务“跨省通办”合作协议"
            if "四地" not in row["relation_type"]
            else f"台州、杨浦、苏州高新区、亳州四地政务服务“跨省通办”合作协议（{row['taizhou_party']}—{partner_name}）"
        )
        out.append(
            {
                "key": f"{PARTNER_SLUGS[partner]}-{LOCAL_SLUGS[local]}-{stamp}",
                "title": title,
                "partnerCode": partner,
                "localCode": local,
                "signedOn": signed,
                "effectiveFrom": signed,
                "expiresOn": None,
                "status": "ACTIVE",
                "citywideShared": True,
                "matterCodes": None,
                "documentRef": None,
                "registeredOn": None,
                "itemsCount": int(row["items_count"]) if row["items_count"] else None,
                "note": "；".join(notes),
                "source": source,
                "sourceUrl": url,
                "sample": False,
            }
        )
    return out


SAMPLE_AGREEMENT_SOURCE: str = SAMPLES["sampleAgreements"]["source"]


def build_sample_agreements(regions: Regions) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for made_up in SAMPLES["sampleAgreements"]["items"]:
        key, partner, local = made_up["key"], made_up["partnerCode"], made_up["localCode"]
        codes: list[str] | None = made_up["matterCodes"]
        regions.require(partner, local)
        out.append(
            {
                "key": key,
                "title": f"{regions.full_name(partner)}与{regions.full_name(local)}政务服务“跨省通办”合作协议",
                "partnerCode": partner,
                "localCode": local,
                "signedOn": made_up["signedOn"],
                "effectiveFrom": made_up["effectiveFrom"],
                "expiresOn": made_up["expiresOn"],
                "status": "ACTIVE",
                "citywideShared": made_up["citywideShared"],
                # why it is not shared citywide (the reason staff must give; shown to citizens)
                **({"notSharedReason": made_up["notSharedReason"]} if "notSharedReason" in made_up else {}),
                "matterCodes": codes,
                "documentRef": None,
                "registeredOn": (
                    date.fromisoformat(made_up["signedOn"])
                    + timedelta(days=made_up["registeredDaysAfterSigning"])
                ).isoformat(),
                "itemsCount": len(codes) if codes else None,
                "note": made_up["note"],
                "source": SAMPLE_AGREEMENT_SOURCE,
                "sourceUrl": None,
                "sample": True,
            }
        )
    return out


# ------------------------------------------------------------------------------------------- relations

RELATION_KINDS = {"对口援疆": "AID_XINJIANG", "东西部协作": "EAST_WEST", "对口合作": "COOPERATION"}
RELATION_SLUGS = {"659002": "alar", "511300": "nanchong", "220500": "tonghua"}
LOCAL_RELATION_SLUGS = {"331000": "taizhou", "331023": "tiantai", "331081": "wenling", "331082": "linhai"}


def build_relations(src: Path, regions: Regions) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for row in read_csv(src / "partners_taizhou.csv"):
        kind = next((v for k, v in RELATION_KINDS.items() if row["relation_type"].startswith(k)), None)
        if kind is None:
            continue
        local = row["taizhou_region_code"]
        partner = row["partner_region_code"] or row["partner_city_code"]
        regions.require(local, partner)
        notes = [f"{row['relation_type'].split('(')[0]}关系，不是“跨省通办”协议，本身不产生通办覆盖"]
        since: str | None = row["since"]
        if kind == "EAST_WEST":
            since = "2022-09-22（联席会议日期，为来源所载最早日期，非结对起始日）"
        if kind == "COOPERATION":
            since = None
            notes.append("来源所载考察日期“3月17日”未给出年份")
        if not row["partner_region_code"]:
            notes.append("具体结对县（市、区）未在来源摘录中给出，partnerCode 取南充市")
        if row["note"]:
            notes.append(f"来源摘要：{row['note']}")
        out.append(
            {
                "key": f"{kind.lower().replace('_', '-')}-{RELATION_SLUGS[partner]}-{LOCAL_RELATION_SLUGS[local]}",
                "kind": kind,
                "localCode": local,
                "partnerCode": partner,
                "since": since,
                "note": "；".join(notes),
                "source": row["evidence"],
                "sourceUrl": row["evidence_url"],
                "sample": False,
            }
        )
    return out


# --------------------------------------------------------------------------------- partners and contacts


def build_partners(regions: Regions) -> list[dict[str, Any]]:
    """Illustrative 人口潜力指数 / 合作潜力指数, chosen so that all four tiers appear."""
    indices: list[dict[str, Any]] = SAMPLES["samplePartners"]["items"]
    regions.require(*(i["regionCode"] for i in indices))
    return [
        {
            "regionCode": i["regionCode"],
            "populationIndex": i["populationIndex"],
            "cooperationIndex": i["cooperationIndex"],
            "sample": True,
        }
        for i in indices
    ]


def build_contacts(regions: Regions, agreements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    locals_ = [HOME_CITY, *TAIZHOU_COUNTIES]
    partners = unique(a["partnerCode"] for a in agreements)
    out: list[dict[str, Any]] = []
    for number, code in enumerate([*locals_, *partners], start=1):
        local = code in locals_
        out.append(
            {
                "key": f"liaison-{code}",
                "name": f"示例联络人（{regions.name(code)}）",
                "regionCode": code,
                "organisation": f"{regions.full_name(code) if not local else regions.name(code)}政务服务管理部门",
                "role": "跨区域通办联络人",
                "phone": f"000-0000-{number:04d}",
                "liaisonGroup": "台州市跨区域通办联络群",
                "source": "示例数据：虚构的联络人，电话为无效号码（区号000），请替换为真实通讯录",
                "sourceUrl": None,
                "sample": True,
            }
        )
    return out


# ---------------------------------------------------------------------------------------------- document


def build_demo(src: Path, region_rows: list[dict[str, str]]) -> dict[str, Any]:
    regions = Regions(region_rows)
    matters = build_matters(src)
    guides = {**sample_guides(), **real_guides(src)}
    by_group = {m["_group"]: m for m in matters}
    unknown = set(guides) - set(by_group)
    if unknown:
        raise ValueError(f"guides for unknown matters: {sorted(unknown)}")
    for group_key, guide in guides.items():
        by_group[group_key]["guide"] = guide
    for m in matters:
        del m["_group"]
    samples = build_sample_matters()
    agreements = build_real_agreements(src, regions) + build_sample_agreements(regions)
    return {
        "matters": matters + samples,
        "halls": build_halls(src, regions, [m["code"] for m in samples]),
        "agreements": agreements,
        "partners": build_partners(regions),
        "relations": build_relations(src, regions),
        "contacts": build_contacts(regions, agreements),
    }


def demo_json_text(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def outputs(src: Path) -> dict[Path, str]:
    rows = build_regions(src)
    return {
        OUT / "regions.csv": regions_csv_text(rows),
        OUT / "demo.json": demo_json_text(build_demo(src, rows)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "source", type=Path, help="the shared data folder (regions.csv, matters_national.csv, …)"
    )
    parser.add_argument(
        "--check", action="store_true", help="compare with the committed files, write nothing"
    )
    args = parser.parse_args(argv)
    stale = []
    for path, text in outputs(args.source).items():
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print(f"out of date: {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
