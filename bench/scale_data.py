"""Generate the scale data set of issue 8 as one import file (CONTRACT §3, our extended fields).

Usage::

    .venv/bin/python bench/scale_data.py OUT.json [--matters 5000] [--halls 300] [--agreements 1000]
                                                 [--offset 0] [--seed 8] [--today YYYY-MM-DD]
    .venv/bin/tongban import OUT.json          # into a database made by `tongban init [--demo]`

Why synthetic, and how it stays realistic: the real directory has a few dozen matters, far too
few to show how search, coverage and the pages behave at the size a city's full catalogue reaches.
So the names combine the real matter vocabulary (who + what + action, e.g. 灵活就业人员 +
社会保障卡 + 补领, with the department that really handles that "what"); halls sit in the nine real
Taizhou counties and their real towns (9-digit codes from ``api/data/regions.csv``), near the county
seat; agreements are signed with REAL county- or city-level regions outside Zhejiang, with a mix of
statuses, expiry dates, matter lists and "citywide shared" flags, so the coverage rules take every
branch. Everything is marked ``"sample": true``.

The file is self-contained: it references only its own matters, so it imports into a database made
by plain ``tongban init`` as well as after ``--demo``. ``--offset N`` numbers matters from N (codes
``S-<N+1>`` …) and, with ``--halls 0 --agreements 0``, adds matters to an existing scale set — the
benchmark grows 5,000 to 20,000 matters that way before timing ``tongban reindex``.
The output is a pure function of the arguments (seeded) and of ``--today`` (default: today; dates
of signing and expiry are placed around it), so runs are comparable.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REGIONS_CSV = ROOT / "api" / "data" / "regions.csv"
HOME_CITY = "331000"
HOME_PROVINCE = "330000"

# County seats of the nine local counties (the same approximate points as the bundled halls).
COUNTY_SEATS: dict[str, tuple[float, float]] = {
    "331002": (28.676, 121.442),  # 椒江区
    "331003": (28.650, 121.262),  # 黄岩区
    "331004": (28.582, 121.365),  # 路桥区
    "331022": (29.105, 121.395),  # 三门县
    "331023": (29.143, 121.007),  # 天台县
    "331024": (28.847, 120.729),  # 仙居县
    "331081": (28.372, 121.386),  # 温岭市
    "331082": (28.858, 121.145),  # 临海市
    "331083": (28.136, 121.232),  # 玉环市
}

WHO = [
    "",
    "",
    "",
    "个人",
    "企业",
    "单位",
    "城乡居民",
    "灵活就业人员",
    "退役军人",
    "老年人",
    "残疾人",
    "港澳台居民",
    "外籍人员",
    "新生儿",
    "大中专学生",
    "农村居民",
    "职工",
    "个体工商户",
    "困难群众",
    "失业人员",
    "离退休人员",
    "流动人员",
    "高层次人才",
    "异地务工人员",
    "随迁子女",
    "军人家属",
]
# what → the department that really handles it
WHAT: dict[str, str] = {
    "社会保障卡": "人力资源社会保障局",
    "养老保险": "人力资源社会保障局",
    "失业保险": "人力资源社会保障局",
    "工伤保险": "人力资源社会保障局",
    "职业资格证书": "人力资源社会保障局",
    "就业创业证": "人力资源社会保障局",
    "人事档案": "人力资源社会保障局",
    "社保关系": "人力资源社会保障局",
    "技能人才评价证书": "人力资源社会保障局",
    "住房公积金": "住房公积金中心",
    "公积金贷款": "住房公积金中心",
    "公积金缴存证明": "住房公积金中心",
    "居民身份证": "公安局",
    "临时居民身份证": "公安局",
    "户口": "公安局",
    "居民户口簿": "公安局",
    "居住证": "公安局",
    "无犯罪记录证明": "公安局",
    "户籍类证明": "公安局",
    "出入境证件": "公安局",
    "机动车驾驶证": "公安局(交警)",
    "机动车行驶证": "公安局(交警)",
    "机动车检验合格标志": "公安局(交警)",
    "营业执照": "市场监督管理局",
    "个体工商户登记": "市场监督管理局",
    "食品经营许可证": "市场监督管理局",
    "工业产品生产许可证": "市场监督管理局",
    "特种设备使用登记": "市场监督管理局",
    "医疗保险": "医疗保障局",
    "异地就医备案": "医疗保障局",
    "门诊慢特病待遇": "医疗保障局",
    "生育保险": "医疗保障局",
    "医保关系": "医疗保障局",
    "医疗费用报销": "医疗保障局",
    "完税证明": "税务局",
    "个人所得税": "税务局",
    "增值税发票": "税务局",
    "社会保险费": "税务局",
    "结婚登记": "民政局",
    "婚姻登记记录证明": "民政局",
    "老年人优待证": "民政局",
    "残疾人两项补贴": "民政局",
    "不动产登记": "自然资源和规划局(不动产登记)",
    "不动产抵押": "自然资源和规划局(不动产登记)",
    "不动产登记资料": "自然资源和规划局(不动产登记)",
    "排污许可证": "生态环境局",
    "危险废物转移": "生态环境局",
    "学历公证": "司法局(公证处)",
    "亲属关系公证": "司法局(公证处)",
    "法律援助": "司法局",
    "道路运输证": "交通运输局",
    "从业资格证": "交通运输局",
    "出生医学证明": "卫生健康委员会",
    "护士执业证书": "卫生健康委员会",
    "教师资格证": "教育局",
    "学籍": "教育局",
    "优待证": "退役军人事务局",
    "渔业船员证书": "农业农村局",
    "农机驾驶证": "农业农村局",
    "林木采伐许可证": "林业局",
}
ACTION = [
    "申领",
    "补领",
    "换领",
    "挂失",
    "注销",
    "变更",
    "查询",
    "转移接续",
    "提取",
    "备案",
    "登记",
    "核验",
    "开具",
    "延续",
    "认定",
    "待遇申请",
    "缴费",
    "迁移",
    "信息修改",
    "暂停",
    "恢复",
    "期满换证",
    "证明开具",
    "资格确认",
]
KEYWORDS: dict[str, list[str]] = {
    "社会保障卡": ["社保卡", "sbk"],
    "住房公积金": ["公积金"],
    "居民身份证": ["身份证"],
    "户口": ["落户", "户籍"],
    "机动车驾驶证": ["驾照", "驾驶证"],
    "营业执照": ["开公司", "执照"],
    "医疗保险": ["医保"],
    "异地就医备案": ["异地看病", "报销"],
    "不动产登记": ["房产证", "过户"],
    "结婚登记": ["领证", "结婚"],
    "完税证明": ["纳税证明"],
    "无犯罪记录证明": ["无犯罪证明", "良民证"],
    "出生医学证明": ["出生证"],
}
MATERIALS = [
    "居民身份证",
    "户口簿",
    "申请表",
    "近期免冠照片",
    "营业执照副本",
    "授权委托书",
    "结婚证",
    "出生医学证明",
    "劳动合同",
    "购房合同",
    "不动产权证书",
    "医疗费用票据",
    "诊断证明",
    "离职证明",
    "社会保障卡",
    "承诺书",
]
STEPS = [
    "登录浙江政务服务网或浙里办提交申请",
    "到跨区域通办窗口提交材料",
    "窗口核验身份并受理",
    "部门审核",
    "审核通过后办结并邮寄结果",
    "在线填写申请信息并上传材料",
    "按短信提示领取结果",
    "异地收件后寄送属地部门",
]
FEES = ["不收费", "不收费", "不收费", "按规定收取工本费", "免费邮寄"]
HALL_SUFFIX = ["便民服务中心", "政务服务中心", "便民服务站", "社区服务中心", "跨区域通办服务点"]
STREETS = [
    "人民路",
    "中山路",
    "解放路",
    "府前路",
    "文化路",
    "东海大道",
    "市府大道",
    "商城路",
    "兴业路",
    "环城路",
]
SCOPES = ["CROSS_PROVINCE"] * 7 + ["PROVINCE_WIDE"] * 2 + ["CITYWIDE"]
MODES = ["FULL_ONLINE", "REMOTE_PROXY", "MULTI_SITE"]


@dataclass(frozen=True)
class RegionRow:
    code: str
    name: str
    level: str
    parent: str | None


def load_regions(path: Path = REGIONS_CSV) -> dict[str, RegionRow]:
    with path.open(encoding="utf-8") as handle:
        return {
            r["code"]: RegionRow(r["code"], r["name"], r["level"], r["parent_code"] or None)
            for r in csv.DictReader(handle)
        }


def full_name(regions: dict[str, RegionRow], code: str) -> str:
    parts: list[str] = []
    current: str | None = code
    while current is not None and current in regions:
        parts.append(regions[current].name)
        current = regions[current].parent
    return "".join(reversed(parts))


def partner_candidates(regions: dict[str, RegionRow]) -> list[str]:
    """Real city- and county-level regions outside Zhejiang (where agreement partners sit)."""
    return sorted(c for c, r in regions.items() if r.level in ("CITY", "COUNTY") and not c.startswith("33"))


def local_towns(regions: dict[str, RegionRow]) -> dict[str, list[str]]:
    """The 9-digit towns of each local county."""
    towns: dict[str, list[str]] = {c: [] for c in COUNTY_SEATS}
    for code, row in regions.items():
        if row.level == "TOWN" and row.parent in towns:
            towns[row.parent].append(code)
    return {c: sorted(t) for c, t in towns.items()}


def matter_name(index: int, rng: random.Random, combos: list[tuple[str, str, str]]) -> tuple[str, str, str]:
    who, what, action = combos[index % len(combos)]
    round_ = index // len(combos)
    suffix = (
        ""
        if round_ == 0
        else f"（{['椒江', '黄岩', '路桥', '临海', '温岭', '玉环', '天台', '仙居', '三门'][round_ % 9]}试点{round_}）"
    )
    return f"{who}{what}{action}{suffix}", what, action


def generate_matters(count: int, offset: int, seed: int) -> list[dict[str, Any]]:
    combos = [(w, x, a) for w in sorted(set(WHO)) for x in WHAT for a in ACTION]
    random.Random(seed).shuffle(combos)
    matters = []
    for index in range(offset, offset + count):
        rng = random.Random(seed * 1_000_003 + index)  # per-matter stream: offsets give the same matters
        name, what, action = matter_name(index, rng, combos)
        modes = sorted(rng.sample(MODES, rng.randint(1, 3)), key=MODES.index)
        keywords = list(KEYWORDS.get(what, [])) + [f"{what}{action}"]
        materials = [
            {"name": m, "required": rng.random() < 0.8, "copies": rng.randint(1, 2), "note": None}
            for m in rng.sample(MATERIALS, rng.randint(2, 5))
        ]
        matters.append(
            {
                "code": f"S-{index + 1:05d}",
                "name": name,
                "department": WHAT[what],
                "scope": rng.choice(SCOPES),
                "modes": modes,
                "keywords": keywords[:6],
                "aliases": [f"{what}{action}"] if rng.random() < 0.2 else [],
                "nationalList": None,
                "deadline": None,
                "source": "bench/scale_data.py 合成的规模测试数据",
                "sourceUrl": None,
                "sample": True,
                "guide": {
                    "conditions": f"需要办理{name}的{rng.choice(['个人', '企业', '单位', '群众'])}, 可在线或到跨区域通办窗口申请。",
                    "materials": materials,
                    "steps": rng.sample(STEPS, rng.randint(3, 5)),
                    "timeLimitDays": rng.choice([0, 1, 3, 5, 7, 15, 20]),
                    "fee": rng.choice(FEES),
                    "legalBasis": f"《{WHAT[what].split('(')[0]}关于{what}{action}的管理办法》",
                    "walkthrough": None,
                    "publisher": None,
                    "sourceUrl": None,
                    "sample": True,
                },
            }
        )
    return matters


def generate_halls(
    count: int, rng: random.Random, regions: dict[str, RegionRow], matter_codes: list[str]
) -> list[dict[str, Any]]:
    towns = local_towns(regions)
    counties = sorted(COUNTY_SEATS)
    halls = []
    for index in range(count):
        county = counties[index % len(counties)]
        town_list = towns[county]
        at_town = bool(town_list) and rng.random() < 0.8
        region = rng.choice(town_list) if at_town else county
        level = ("TOWN" if rng.random() < 0.85 else "VILLAGE") if at_town else "COUNTY"
        lat, lon = COUNTY_SEATS[county]
        has_window = rng.random() < 0.3
        handles = (
            []
            if has_window or not matter_codes
            else rng.sample(matter_codes, min(len(matter_codes), rng.randint(10, 120)))
        )
        halls.append(
            {
                "key": f"scale-hall-{index + 1:04d}",
                "name": f"{regions[region].name}{rng.choice(HALL_SUFFIX)}{'' if index < len(counties) * 3 else f'（{index + 1}号）'}",
                "regionCode": region,
                "level": level,
                "address": f"{full_name(regions, region)}{rng.choice(STREETS)}{rng.randint(1, 999)}号",
                "phone": f"0576-8{rng.randint(1000000, 9999999)}",
                "openingHours": "周一至周五 8:30-12:00, 14:30-17:30",
                "latitude": round(lat + rng.uniform(-0.12, 0.12), 5),
                "longitude": round(lon + rng.uniform(-0.12, 0.12), 5),
                "coordinatesApproximate": True,
                "hasCrossRegionWindow": has_window,
                "windowServices": ["CONSULT", "ASSIST", "SEND_RECEIVE"] if has_window else [],
                "matterCodes": handles,
                "source": "bench/scale_data.py 合成的规模测试数据",
                "sourceUrl": None,
                "sample": True,
            }
        )
    return halls


def generate_agreements(
    count: int, rng: random.Random, regions: dict[str, RegionRow], matter_codes: list[str], today: dt.date
) -> tuple[list[dict[str, Any]], list[str]]:
    candidates = partner_candidates(regions)
    partners = rng.sample(candidates, min(len(candidates), max(1, count * 7 // 10)))
    locals_ = [HOME_CITY, *sorted(COUNTY_SEATS)]
    agreements = []
    for index in range(count):
        partner = partners[index % len(partners)]
        local = rng.choice(locals_)
        signed = today - dt.timedelta(days=rng.randint(-30, 5 * 365))
        roll = rng.random()
        expires: dt.date | None = None
        status = "ACTIVE"
        if roll < 0.10:
            expires = signed + dt.timedelta(days=rng.randint(30, 700))  # often already expired
        elif roll < 0.14:
            status = rng.choice(["SUSPENDED", "TERMINATED", "DRAFT"])
        elif roll < 0.30:
            expires = signed + dt.timedelta(days=rng.randint(3 * 365, 6 * 365))
        effective = signed + dt.timedelta(days=rng.choice([0, 0, 0, 7, 30]))
        if expires is not None and expires < effective:
            expires = effective
        listed = (
            None
            if rng.random() < 0.6 or not matter_codes
            else rng.sample(matter_codes, min(len(matter_codes), rng.randint(3, 60)))
        )
        agreements.append(
            {
                "key": f"scale-agreement-{index + 1:04d}",
                "title": f"{full_name(regions, local)}与{full_name(regions, partner)}政务服务“跨省通办”合作协议",
                "partnerCode": partner,
                "localCode": local,
                "signedOn": signed.isoformat(),
                "effectiveFrom": effective.isoformat(),
                "expiresOn": expires.isoformat() if expires else None,
                "status": status,
                "citywideShared": rng.random() < 0.85,
                "matterCodes": listed,
                "documentRef": None,
                "registeredOn": (signed + dt.timedelta(days=rng.choice([0, 1, 2, 3, 10]))).isoformat(),
                "itemsCount": len(listed) if listed else None,
                "note": None,
                "source": "bench/scale_data.py 合成的规模测试数据",
                "sourceUrl": None,
                "sample": True,
            }
        )
    return agreements, partners


def generate(
    matters: int = 5000,
    halls: int = 300,
    agreements: int = 1000,
    *,
    offset: int = 0,
    seed: int = 8,
    today: dt.date | None = None,
    regions: dict[str, RegionRow] | None = None,
) -> dict[str, Any]:
    """The import document (a dict) for the given sizes; deterministic for the same arguments."""
    regions = regions or load_regions()
    today = today or dt.date.today()
    rng = random.Random(seed)
    matter_rows = generate_matters(matters, offset, seed)
    codes = [m["code"] for m in matter_rows]
    document: dict[str, Any] = {"matters": matter_rows}
    if halls:
        document["halls"] = generate_halls(halls, rng, regions, codes)
    if agreements:
        agreement_rows, partners = generate_agreements(agreements, rng, regions, codes, today)
        document["agreements"] = agreement_rows
        document["partners"] = [
            {
                "regionCode": p,
                "populationIndex": rng.randint(20, 95),
                "cooperationIndex": rng.randint(20, 95),
                "sample": True,
            }
            for p in partners[: max(1, len(partners) // 3)]
        ]
    return document


def write(document: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Generate the scale data set (an import file) for the benchmark."
    )
    parser.add_argument("out", type=Path, help="the .json file to write")
    parser.add_argument("--matters", type=int, default=5000)
    parser.add_argument("--halls", type=int, default=300)
    parser.add_argument("--agreements", type=int, default=1000)
    parser.add_argument(
        "--offset", type=int, default=0, help="number matters from OFFSET+1 (to grow an existing set)"
    )
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument(
        "--today", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD (default: today)"
    )
    args = parser.parse_args(argv)
    for name in ("matters", "halls", "agreements", "offset"):
        if getattr(args, name) < 0:
            parser.error(f"--{name} must be ≥ 0")
    document = generate(
        args.matters, args.halls, args.agreements, offset=args.offset, seed=args.seed, today=args.today
    )
    write(document, args.out)
    counts = ", ".join(f"{k} {len(v)}" for k, v in document.items())
    print(f"wrote {args.out}: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
