"""Build the bundled data files (`regions.csv`, `demo.json`) from the team's sourced data folder.

Why a script: the product reads only the files in this folder at run time, never the shared data
folder, so every transformation from the sourced CSV/JSON to what we ship has to be repeatable and
reviewable in one place. The real records keep their sources; everything we made up for the demo is
written here, by hand, with ``sample: true`` (see SOURCES.md beside this file).

    python api/data/build_demo.py /path/to/shared/data           # (re)write regions.csv and demo.json here
    python api/data/build_demo.py --check /path/to/shared/data   # exit 1 when the committed files differ
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

# One matter per group_key. `name` is the canonical name: the fullest official wording that still names
# the whole group (umbrella names stay canonical where the other names are sub-variants). Departments are
# OUR categorisation (the local department a citizen meets), not source data. Modes are illustrative
# (modesSample true): no source gives the handling mode of an item.
GROUPS: dict[str, dict[str, Any]] = {
    "market_entity_registration": {
        "name": "企业等各类市场主体登记注册",
        "department": "市场监督管理局",
        "modes": ["FULL_ONLINE", "REMOTE_PROXY"],
        "keywords": ["营业执照", "开公司", "注册公司", "企业开办", "个体户"],
    },
    "pension_transfer": {
        "name": "养老保险关系转移接续",
        "department": "人力资源社会保障局",
        "modes": ["FULL_ONLINE", "MULTI_SITE"],
        "keywords": ["社保转移", "养老保险转移", "社保", "转社保", "养老金"],
    },
    "qualification_cert_verification": {
        "name": "职业资格证书核验",
        "department": "人力资源社会保障局",
        "modes": ["FULL_ONLINE"],
        "keywords": ["职业资格", "资格证", "证书核验", "职称"],
    },
    "notarization_diploma": {
        "name": "学历公证",
        "department": "司法局(公证处)",
        "modes": ["FULL_ONLINE", "REMOTE_PROXY"],
        "keywords": ["公证", "学历", "毕业证公证", "学位公证"],
    },
    "notarization_driver_license": {
        "name": "机动车驾驶证公证",
        "department": "司法局(公证处)",
        "modes": ["FULL_ONLINE", "REMOTE_PROXY"],
        "keywords": ["公证", "驾照", "驾驶证", "驾照公证"],
    },
    "industrial_product_license": {
        "name": "工业产品生产许可证",
        "department": "市场监督管理局",
        "modes": ["FULL_ONLINE"],
        "keywords": ["生产许可证", "工业产品", "许可证"],
    },
    "medical_settlement_filing": {
        "name": "异地就医登记备案和结算",
        "department": "医疗保障局",
        "modes": ["FULL_ONLINE"],
        "keywords": ["异地就医", "医保", "备案", "看病报销", "医保结算"],
    },
    "social_security_card_apply": {
        "name": "社会保障卡申领",
        "department": "人力资源社会保障局",
        "modes": ["FULL_ONLINE", "REMOTE_PROXY"],
        "keywords": ["社保卡", "社会保障卡", "办社保卡", "申领社保卡"],
    },
    "hukou_transfer": {
        "name": "户口迁移",
        "department": "公安局",
        "modes": ["MULTI_SITE"],
        "keywords": ["户口", "迁户口", "落户", "户籍"],
    },
    "newborn_hukou": {
        "name": "新生儿入户",
        "department": "公安局",
        "modes": ["MULTI_SITE"],
        "keywords": ["户口", "新生儿", "报户口", "上户口", "出生登记"],
    },
    "social_insurance_payment_query": {
        "name": "社保参保缴费查询",
        "department": "人力资源社会保障局",
        "modes": ["FULL_ONLINE"],
        "keywords": ["社保", "社保查询", "缴费记录", "参保证明"],
    },
    "unemployment_registration": {
        "name": "失业登记",
        "department": "人力资源社会保障局",
        "modes": ["FULL_ONLINE"],
        "keywords": ["失业", "失业金", "就业", "失业保险"],
    },
    "housing_fund_withdraw_retirement": {
        "name": "正常退休提取住房公积金",
        "department": "住房公积金中心",
        "modes": ["FULL_ONLINE", "REMOTE_PROXY"],
        "keywords": ["公积金", "退休", "提取公积金", "取公积金"],
    },
    "pollutant_discharge_permit": {
        "name": "排污许可",
        "department": "生态环境局",
        "modes": ["FULL_ONLINE"],
        "keywords": ["排污许可证", "排污", "环保"],
    },
    "real_estate_mortgage_registration": {
        "name": "不动产抵押登记",
        "department": "自然资源和规划局(不动产登记)",
        "modes": ["REMOTE_PROXY"],
        "keywords": ["抵押", "房产抵押", "不动产", "房贷"],
    },
    "housing_fund_withdraw_purchase": {
        "name": "购房提取住房公积金",
        "department": "住房公积金中心",
        "modes": ["FULL_ONLINE", "REMOTE_PROXY"],
        "keywords": ["公积金", "买房", "购房", "提取公积金"],
    },
    "housing_fund_transfer": {
        "name": "住房公积金转移接续",
        "department": "住房公积金中心",
        "modes": ["FULL_ONLINE"],
        "keywords": ["公积金", "公积金转移", "换工作", "转公积金"],
    },
    "business_operating_permits": {
        "name": "涉企经营许可",
        "department": "市场监督管理局",
        "modes": ["FULL_ONLINE", "REMOTE_PROXY"],
        "keywords": ["经营许可", "许可证", "企业"],
    },
    "social_security_card_activate": {
        "name": "社保卡启用",
        "department": "人力资源社会保障局",
        "modes": ["FULL_ONLINE"],
        "keywords": ["社保卡", "社会保障卡", "激活社保卡"],
    },
    "social_security_card_replace": {
        "name": "社保卡补换",
        "department": "人力资源社会保障局",
        "modes": ["FULL_ONLINE", "REMOTE_PROXY"],
        "keywords": ["社保卡", "社会保障卡", "补办社保卡", "换卡", "补卡"],
    },
    "social_security_card_report_loss": {
        "name": "社保卡临时挂失",
        "department": "人力资源社会保障局",
        "modes": ["FULL_ONLINE"],
        "keywords": ["社保卡", "社会保障卡", "挂失", "社保卡丢了"],
    },
    "tax_e_payment": {
        "name": "异地电子缴税",
        "department": "税务局",
        "modes": ["FULL_ONLINE"],
        "keywords": ["缴税", "交税", "纳税", "税务"],
    },
    "tax_payment_certificate": {
        "name": "开具税收完税证明",
        "department": "税务局",
        "modes": ["FULL_ONLINE"],
        "keywords": ["完税证明", "纳税证明", "税务", "个税证明"],
    },
    "employer_social_insurance_declaration": {
        "name": "单位社会保险费申报",
        "department": "税务局",
        "modes": ["FULL_ONLINE"],
        "keywords": ["社保费", "社保申报", "单位社保", "社保"],
    },
    "temporary_id_card": {
        "name": "临时居民身份证办理",
        "department": "公安局",
        "modes": ["REMOTE_PROXY"],
        "keywords": ["身份证", "临时身份证", "临时证"],
    },
    "rural_urban_pension_enrol_and_benefit": {
        "name": "城乡居民养老保险参保登记和待遇申请",
        "department": "人力资源社会保障局",
        "modes": ["FULL_ONLINE", "REMOTE_PROXY"],
        "keywords": ["养老保险", "城乡居民养老", "退休", "养老金", "社保"],
    },
    "outpatient_chronic_disease_settlement": {
        "name": "5种门诊慢特病费用结算",
        "department": "医疗保障局",
        "modes": ["FULL_ONLINE"],
        "keywords": ["慢特病", "门诊", "医保", "异地就医", "慢性病"],
    },
}

# Rows of matters_national_more.csv that name a matter already in matters_national.csv (same item,
# the other source's wording). Every other row of that file is a matter of its own.
MORE_MERGE: dict[str, str] = {
    "正常退休提取住房公积金": "housing_fund_withdraw_retirement",
    "临时居民身份证办理": "temporary_id_card",
    "城乡居民养老保险登记和待遇申请": "rural_urban_pension_enrol_and_benefit",
    "门诊慢特病费用结算": "outpatient_chronic_disease_settlement",
    "电子缴税": "tax_e_payment",
    "完税证明开具": "tax_payment_certificate",
    "社保费申报": "employer_social_insurance_declaration",
}

MORE_GROUPS: dict[str, dict[str, Any]] = {
    "开具无犯罪记录证明": {
        "department": "公安局",
        "modes": ["REMOTE_PROXY"],
        "keywords": ["无犯罪记录证明", "无犯罪证明", "犯罪记录", "政审"],
    },
    "开具户籍类证明": {
        "department": "公安局",
        "modes": ["REMOTE_PROXY"],
        "keywords": ["户籍证明", "户口证明", "户口", "亲属关系证明"],
    },
    "工作调动户口迁移": {
        "department": "公安局",
        "modes": ["MULTI_SITE"],
        "keywords": ["户口", "迁户口", "工作调动", "落户"],
    },
    "大中专院校录取学生户口迁移": {
        "department": "公安局",
        "modes": ["MULTI_SITE"],
        "keywords": ["户口", "迁户口", "大学生", "录取", "学生户口"],
    },
    "大中专学生毕业户口迁移": {
        "department": "公安局",
        "modes": ["MULTI_SITE"],
        "keywords": ["户口", "迁户口", "毕业生", "毕业落户"],
    },
    "夫妻投靠户口迁移": {
        "department": "公安局",
        "modes": ["MULTI_SITE"],
        "keywords": ["户口", "迁户口", "夫妻投靠", "结婚落户"],
    },
    "父母投靠子女户口迁移": {
        "department": "公安局",
        "modes": ["MULTI_SITE"],
        "keywords": ["户口", "迁户口", "父母投靠", "老人落户"],
    },
    "个人住房公积金缴存贷款等信息查询": {
        "department": "住房公积金中心",
        "modes": ["FULL_ONLINE"],
        "keywords": ["公积金", "公积金查询", "公积金贷款", "缴存"],
    },
    "出具贷款职工住房公积金缴存使用证明": {
        "department": "住房公积金中心",
        "modes": ["FULL_ONLINE"],
        "keywords": ["公积金", "公积金证明", "贷款证明", "缴存证明"],
    },
}


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


SAMPLE_MATTER_SOURCE = (
    "示例数据：为演示“{list}”清单而拟写的事项，并非官方公布的清单内容（未找到浙江或台州清单的具体事项）"
)

# Fewer, better samples (issue 17): each one plausible and none contradicting national policy. Dropped:
# 机动车驾驶证期满换证 (handled anywhere in China since 2019: marking it 全省通办 misleads people),
# 个体工商户设立登记 (covered by the national list's 企业等各类市场主体登记注册, 跨省通办), and
# 不动产登记资料查询 / 城乡居民基本医疗保险参保登记 (national 跨省通办 lists reach them). The codes
# of the samples kept stay as they were, so links and references do not move.
SAMPLE_MATTERS: list[dict[str, Any]] = [
    {
        "code": "S-001",
        "name": "居民户口簿补领",
        "department": "公安局",
        "scope": "PROVINCE_WIDE",
        "modes": ["REMOTE_PROXY"],
        "keywords": ["户口本", "户口簿", "补办户口本", "户口"],
    },
    {
        "code": "S-006",
        "name": "灵活就业人员参保登记",
        "department": "人力资源社会保障局",
        "scope": "CITYWIDE",
        "modes": ["FULL_ONLINE"],
        "keywords": ["社保", "灵活就业", "自由职业", "个人交社保"],
    },
    {
        "code": "S-007",
        "name": "居住证申领",
        "department": "公安局",
        "scope": "CITYWIDE",
        "modes": ["REMOTE_PROXY"],
        "keywords": ["居住证", "暂住证", "外地人"],
    },
    {
        "code": "S-008",
        "name": "老年人优待证办理",
        "department": "民政局",
        "scope": "CITYWIDE",
        "modes": ["REMOTE_PROXY"],
        "keywords": ["老年证", "老年人", "优待证", "敬老卡"],
    },
]


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


def sample_guide(
    conditions: str,
    materials: list[dict[str, Any]],
    steps: list[str],
    days: int | None,
    fee: str,
    legal: str,
    walkthrough: str,
) -> dict[str, Any]:
    return {
        "conditions": conditions,
        "materials": materials,
        "steps": steps,
        "timeLimitDays": days,
        "fee": fee,
        "legalBasis": legal,
        "walkthrough": walkthrough,
        "publisher": None,
        "sourceUrl": None,
        "sample": True,
    }


ID_CARD = "居民身份证"
HUKOU_LAW = "《中华人民共和国户口登记条例》"
FUND_LAW = "《住房公积金管理条例》"
CARD_LAW = "《中华人民共和国社会保险法》；《关于印发“中华人民共和国社会保障卡”管理办法的通知》"
HUKOU_STEPS = [
    "向迁入地公安派出所（或跨区域通办窗口）提出迁入申请，迁出地无需再跑",
    "迁入地公安机关审核材料，并与迁出地公安机关在线核验",
    "审核通过后在迁入地办理落户，迁出地同步注销原户口",
    "领取新的户口簿户主页或本人页",
]


def sample_guides() -> dict[str, dict[str, Any]]:
    """Short illustrative guides for the most asked-for matters (sample: true)."""
    return {
        "market_entity_registration": sample_guide(
            "申请设立公司、合伙企业、个体工商户等各类市场主体。",
            [
                material("登记申请书", True),
                material("公司章程或合伙协议", False, 1, "企业设立时提供"),
                material("法定代表人（负责人）及投资人身份证明", True),
                material("住所（经营场所）使用证明或承诺书", True),
            ],
            [
                "登录浙江政务服务网“企业开办一件事”或到跨区域通办窗口提交申请",
                "自主申报名称并填写登记信息",
                "登记机关审核材料",
                "审核通过后领取营业执照（可选择邮寄）",
            ],
            1,
            "不收费",
            "《中华人民共和国市场主体登记管理条例》",
            "在手机或电脑上打开浙江政务服务网，搜索“企业开办”，按提示填写名称、股东、经营范围即可在线提交。"
            "资料齐全的一般1个工作日办结，营业执照可以寄到家。",
        ),
        "medical_settlement_filing": sample_guide(
            "参加基本医疗保险，因长期居住、工作或转诊需在参保省份以外就医的参保人员。",
            [
                material("居民身份证或医保电子凭证", True),
                material(
                    "异地长期居住或工作证明（或个人承诺书）", False, 1, "异地长期居住、常驻异地工作人员提供"
                ),
                material("转诊转院证明", False, 1, "异地转诊人员提供"),
            ],
            [
                "通过国家医保服务平台APP、浙里办或参保地医保窗口提交备案申请",
                "选择备案类型、就医地和备案期限",
                "医保经办机构审核（多数即时办结）",
                "在就医地定点医疗机构凭医保电子凭证或社保卡直接结算",
            ],
            1,
            "不收费",
            "《国家医保局 财政部关于进一步做好基本医疗保险跨省异地就医直接结算工作的通知》",
            "打开国家医保服务平台APP，搜索“异地就医备案”，选好备案类型和就医城市后提交，多数马上就能备案成功。"
            "看病时带上医保电子凭证或社保卡，出院结算时医保部分直接报销。",
        ),
        "housing_fund_withdraw_retirement": sample_guide(
            "职工达到法定退休年龄并已办理退休手续。",
            [
                material(ID_CARD, True),
                material("退休证明或养老金领取证明", True),
                material("本人银行卡", True),
            ],
            [
                "通过全国住房公积金小程序或跨区域通办窗口提交提取申请",
                "公积金中心核验退休信息和账户余额",
                "审核通过后将账户余额转入本人银行卡",
                "销户并告知办理结果",
            ],
            3,
            "不收费",
            FUND_LAW,
            "退休后可以把公积金一次性取出来。在全国住房公积金小程序里选“退休提取”，核对身份和银行卡后提交，"
            "审核通过后钱直接到账，一般3个工作日内办结。",
        ),
        "housing_fund_withdraw_purchase": sample_guide(
            "职工购买、建造、翻建、大修自住住房。",
            [
                material(ID_CARD, True),
                material("购房合同或不动产权证书", True),
                material("购房发票或付款凭证", True),
                material("本人银行卡", True),
            ],
            [
                "通过全国住房公积金小程序或跨区域通办窗口提交申请",
                "上传购房材料",
                "公积金中心审核购房信息",
                "审核通过后资金转入本人银行卡",
            ],
            3,
            "不收费",
            FUND_LAW,
            "在外地买了房，也能就近提取公积金。准备好购房合同和发票，在小程序或窗口提交，审核通过后资金打到本人银行卡。",
        ),
        "housing_fund_transfer": sample_guide(
            "职工跨城市就业，已在新就业地建立住房公积金账户。",
            [material(ID_CARD, True), material("新就业地住房公积金账号", True, None, "线上办理时填写")],
            [
                "在转入地公积金中心或全国住房公积金小程序申请转入",
                "转入地向转出地发送转移接续联系函",
                "转出地核对账户信息后划转资金",
                "转入地入账并告知办理结果",
            ],
            5,
            "不收费",
            f"{FUND_LAW}；《全国住房公积金异地转移接续业务操作规程》",
            "换城市工作后，不用回原单位所在地。在新城市公积金中心或小程序里发起转入，两地中心在线对接，资金自动转过来。",
        ),
        "social_security_card_replace": sample_guide(
            "社会保障卡遗失、损坏、有效期满或个人信息变更需要补换卡的持卡人。",
            [
                material(ID_CARD, True),
                material("原社会保障卡", False, 1, "换卡时交回；遗失补卡无需提供"),
                material("代办人身份证", False, 1, "委托他人代办时提供"),
            ],
            [
                "遗失的先办理挂失",
                "通过电子社保卡或跨区域通办窗口提交补换卡申请",
                "发卡地制卡",
                "领取新卡（可邮寄）并启用",
            ],
            10,
            "按发卡地标准（部分地区免收工本费）",
            CARD_LAW,
            "卡丢了先在电子社保卡里挂失，再申请补卡；卡坏了直接申请换卡。新卡可以在窗口领，也可以寄到家，拿到后记得启用。",
        ),
        "social_security_card_report_loss": sample_guide(
            "社会保障卡遗失或被盗的持卡人。",
            [
                material("居民身份证或其他有效身份证件", True),
                material("社会保障卡卡号", False, None, "记得时提供，可加快核验"),
            ],
            [
                "通过电子社保卡、12333电话、网上服务平台或窗口申请临时挂失",
                "核验本人身份",
                "挂失即时生效",
                "找回卡片可申请解挂，否则办理补卡",
            ],
            1,
            "不收费",
            CARD_LAW,
            "发现社保卡不见了，马上打12333或在电子社保卡里点“挂失”，验证身份后立即生效，别人无法冒用。找回来了可以解挂。",
        ),
        "temporary_id_card": sample_guide(
            "居民身份证申领、换领、补领期间，急需使用身份证件的居民。",
            [
                material("居民身份证受理回执或户口簿", True),
                material("本人近期免冠照片", False, None, "现场采集"),
            ],
            [
                "到公安机关身份证受理点（或跨区域通办窗口）提出申请",
                "现场采集照片、核验身份",
                "缴纳工本费",
                "当场或约定时间内领取临时居民身份证",
            ],
            3,
            "工本费10元",
            "《中华人民共和国居民身份证法》；《临时居民身份证管理办法》",
            "身份证丢了又急着坐车、办事，可以先办临时身份证。带上受理回执或户口簿到受理点，拍照缴费后很快就能拿到。",
        ),
        "more:开具无犯罪记录证明": sample_guide(
            "因就业、出国（境）等需要证明本人无犯罪记录的中国公民。",
            [material(ID_CARD, True), material("委托书及代理人身份证", False, 1, "委托他人代办时提供")],
            [
                "向户籍地或居住地公安派出所（或跨区域通办窗口）提出申请",
                "填写查询申请，说明用途",
                "公安机关查询核实",
                "出具无犯罪记录证明（可网上打印或邮寄）",
            ],
            3,
            "不收费",
            "《公安机关办理犯罪记录查询工作规定》",
            "在外地工作要开无犯罪记录证明，不用回户籍地。带身份证到居住地派出所申请，写明用途，一般3个工作日内出证明。",
        ),
        "more:工作调动户口迁移": sample_guide(
            "因工作调动需将户口迁往调入地的人员。",
            [
                material(ID_CARD, True),
                material("居民户口簿", True),
                material("调动审批材料（调令或录用、聘用证明）", True),
                material("迁入地合法稳定住所证明", True),
            ],
            HUKOU_STEPS,
            20,
            "不收费",
            HUKOU_LAW,
            "跨省调动工作后迁户口，只需到新单位所在地派出所申请，两地公安在线核验，不用再回原籍开准迁证。",
        ),
        "more:大中专学生毕业户口迁移": sample_guide(
            "大中专院校毕业生将户口迁往就业地或原籍地。",
            [
                material(ID_CARD, True),
                material("毕业证书", True),
                material("劳动合同或就业证明", False, 1, "迁往就业地时提供"),
                material("迁入地住所证明或集体户同意接收证明", True),
            ],
            HUKOU_STEPS,
            20,
            "不收费",
            HUKOU_LAW,
            "毕业后在外地落户，拿着毕业证和就业证明到落户地派出所申请就行，学校所在地的户口由系统同步迁出。",
        ),
        "more:夫妻投靠户口迁移": sample_guide(
            "与配偶团聚，将户口迁往配偶户口所在地的人员。",
            [
                material(ID_CARD, True),
                material("结婚证", True),
                material("双方户口簿", True),
                material("迁入地住所证明（房产证明或亲属同意入户证明）", True),
            ],
            HUKOU_STEPS,
            20,
            "不收费",
            HUKOU_LAW,
            "投靠配偶迁户口，带上结婚证和双方户口簿到配偶户口所在地派出所申请，原籍派出所不用再跑。",
        ),
    }


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

    hours = "工作日 8:30-12:00，14:30-17:30"
    for code, key in (
        ("331022", "sanmen-centre"),
        ("331023", "tiantai-centre"),
        ("331024", "xianju-centre"),
        ("331081", "wenling-centre"),
        ("331083", "yuhuan-centre"),
    ):
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
                "source": "示例数据：来源中未找到该县（市）政务大厅，名称、办公时间与窗口设置为演示拟写；坐标取县城驻地近似点",
                "sourceUrl": None,
                "sample": True,
            }
        )

    towns = [
        ("wenling-taiping-town", "331081001", "331081", 0.006, -0.004, ["M-008", "M-021", "S-006", "S-008"]),
        ("luqiao-luqiao-town", "331004002", "331004", 0.004, 0.005, ["M-008", "M-007", "S-006", "S-007"]),
        ("linhai-gucheng-town", "331082001", "331082", -0.005, 0.004, ["M-013", "M-021", "S-006", "S-008"]),
    ]
    for key, town, county, dlat, dlon, codes in towns:
        seat = seats[county]
        halls.append(
            {
                "key": key,
                "name": f"{regions.name(county)}{regions.name(town)}便民服务中心",
                "regionCode": town,
                "level": "TOWN",
                "address": None,
                "phone": None,
                "openingHours": hours,
                "latitude": round(float(seat["lat"]) + dlat, 3),
                "longitude": round(float(seat["lon"]) + dlon, 3),
                "coordinatesApproximate": True,
                "hasCrossRegionWindow": False,
                "windowServices": [],
                "matterCodes": codes,
                "source": "示例数据：乡镇（街道）便民服务中心，名称、事项与坐标（县城驻地近似点略作偏移）均为演示拟写",
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


SAMPLE_AGREEMENT_SOURCE = "示例数据：为演示“一地签约、全市共享”规则而拟写，并非真实签约"
# why a sample agreement is not shared citywide (the reason staff must give; shown to citizens)
SAMPLE_NOT_SHARED_REASONS = {"shangrao-yuhuan-2024": "协议约定仅在玉环市范围内受理（示例）"}

# (key, partner, local, signedOn, effectiveFrom, expiresOn, citywideShared, matterCodes, registered delay, note)
SAMPLE_AGREEMENTS: list[tuple[str, str, str, str, str, str | None, bool, list[str] | None, int, str]] = [
    (
        "nanchong-luqiao-2023",
        "511300",
        "331004",
        "2023-05-10",
        "2023-05-10",
        None,
        True,
        None,
        1,
        "演示：区县签约、全市共享——路桥区签约，效力及于台州全部9个县（市、区）",
    ),
    (
        "shangrao-yuhuan-2024",
        "361100",
        "331083",
        "2024-03-15",
        "2024-04-01",
        None,
        False,
        None,
        1,
        "演示：未约定全市共享（citywideShared=false），只在玉环市生效",
    ),
    (
        "bijie-xianju-2023",
        "520500",
        "331024",
        "2023-08-18",
        "2023-09-01",
        None,
        True,
        ["M-002", "M-007", "M-008"],
        1,
        "演示：约定事项清单的协议，只覆盖所列3项跨省通办事项",
    ),
    (
        "zhoukou-wenling-2022",
        "411600",
        "331081",
        "2022-06-15",
        "2022-07-01",
        "2024-06-30",
        True,
        None,
        2,
        "演示：已到期的协议（expiresOn 2024-06-30），到期后不再覆盖",
    ),
    (
        "zunyi-tiantai-2026",
        "520300",
        "331023",
        "2026-11-20",
        "2027-01-01",
        None,
        True,
        None,
        1,
        "演示：已签约、尚未生效的协议（effectiveFrom 2027-01-01，此前状态为未生效）",
    ),
    (
        "ganzhou-sanmen-2023",
        "360700",
        "331022",
        "2023-11-02",
        "2023-11-02",
        None,
        True,
        None,
        6,
        "演示：签约后第6天才录入（超过“3日内在线更新”的要求，标记为逾期录入）",
    ),
]


def build_sample_agreements(regions: Regions) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for key, partner, local, signed, effective, expires, shared, codes, delay, note in SAMPLE_AGREEMENTS:
        regions.require(partner, local)
        out.append(
            {
                "key": key,
                "title": f"{regions.full_name(partner)}与{regions.full_name(local)}政务服务“跨省通办”合作协议",
                "partnerCode": partner,
                "localCode": local,
                "signedOn": signed,
                "effectiveFrom": effective,
                "expiresOn": expires,
                "status": "ACTIVE",
                "citywideShared": shared,
                **(
                    {"notSharedReason": SAMPLE_NOT_SHARED_REASONS[key]}
                    if key in SAMPLE_NOT_SHARED_REASONS
                    else {}
                ),
                "matterCodes": codes,
                "documentRef": None,
                "registeredOn": (date.fromisoformat(signed) + timedelta(days=delay)).isoformat(),
                "itemsCount": len(codes) if codes else None,
                "note": note,
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

# Illustrative 人口潜力指数 / 合作潜力指数 (0-100) chosen so that all four tiers appear (threshold 60).
SAMPLE_INDICES: list[tuple[str, int, int]] = [
    ("511300", 80, 75),  # RED
    ("520500", 68, 64),  # RED
    ("341600", 72, 50),  # GREEN
    ("341621", 66, 58),  # GREEN
    ("341622", 62, 40),  # GREEN
    ("411600", 70, 30),  # GREEN
    ("310110", 45, 82),  # BLUE
    ("320505", 40, 70),  # BLUE
    ("360700", 50, 61),  # BLUE
    ("361100", 55, 35),  # YELLOW
    ("520300", 30, 20),  # YELLOW
]


def build_partners(regions: Regions) -> list[dict[str, Any]]:
    regions.require(*(code for code, _, _ in SAMPLE_INDICES))
    return [
        {"regionCode": code, "populationIndex": pop, "cooperationIndex": coop, "sample": True}
        for code, pop, coop in SAMPLE_INDICES
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
        HERE / "regions.csv": regions_csv_text(rows),
        HERE / "demo.json": demo_json_text(build_demo(src, rows)),
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
