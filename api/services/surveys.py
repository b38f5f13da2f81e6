"""The public needs survey (需求调研, seed §四.(二)): companies and residents say which matters they
needed to handle away from home, where they are from, and what got in the way.

Anonymous by design: no name, phone, address or IP address is asked for or stored, and free text that
looks like personal data (a mobile number, an ID number) or like markup or a link is refused with a
message, so nothing of the kind is stored or shown. The staff dashboard summarises the answers by
matter and by home province; the export writes them out with the other tables. An answer is not a
change to a record, so it gets no change-log entry (the staff history stays readable); the row
keeps when it was given.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.models import SurveyResponse
from api.services.base import BadInput, FieldError, ServiceContext
from api.services.fields import Reader

RESPONDENTS: dict[str, str] = {"PERSON": "个人", "COMPANY": "企业"}
OBSTACLES: dict[str, str] = {
    "UNAWARE": "不知道可以异地办理",
    "MATERIALS": "材料要求说不清或两地不一致",
    "TRAVEL": "还要回户籍地(参保地)跑",
    "ONLINE": "网上办不了或系统不通",
    "WINDOW": "窗口不受理或答复不清楚",
    "SLOW": "办理时间太长",
    "OTHER": "其他",
}
MAX_MATTERS = 10
OTHER_MATTER_MAX = 100
COMMENT_MAX = 500

_MARKUP = re.compile(r"[<>]|&#|&[a-zA-Z]+;")
_LINK = re.compile(r"(?i)https?://|www\.|\.(?:com|cn|net|top|xyz)\b")
_PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_ID_NUMBER = re.compile(r"(?<![0-9Xx])\d{17}[\dXx](?![0-9Xx])")


def plain_text_problem(text: str) -> str | None:
    """Why a free-text answer cannot be kept: markup, a link, or something that identifies a person."""
    if _MARKUP.search(text):
        return "请只填写文字, 不要包含尖括号或网页代码"
    if _LINK.search(text):
        return "请不要填写网址"
    if _PHONE.search(text) or _ID_NUMBER.search(text):
        return "本调查是匿名的: 请不要填写电话号码、身份证号等个人信息"
    return None


@dataclass(frozen=True)
class SurveyData:
    values: dict[str, Any]


def parse_survey(
    raw: Any, ctx: ServiceContext, matter_codes: set[str]
) -> tuple[SurveyData | None, list[FieldError]]:
    """Every answer checked, every problem collected; `matter_codes` are the matters one may pick."""
    reader = Reader(raw)
    tree = ctx.tree
    respondent = reader.text("respondent", required=True, max_len=20)
    if respondent is not None and respondent not in RESPONDENTS:
        reader.fail("respondent", "请选择个人或企业")
    province = reader.text("homeProvince", required=True, max_len=12)
    if province is not None and (province not in tree or tree.place(province).level != "PROVINCE"):
        reader.fail("homeProvince", "请从列表中选择省份")
        province = None
    home_text = reader.text("homeRegion", max_len=20)
    home_region = None
    if home_text is not None and province is not None:
        home_region = _region_in(tree, province, home_text)
        if home_region is None:
            reader.fail(
                "homeRegion", f"在{tree.name(province)}没有找到“{home_text}”, 请填写市或县的名称, 也可以不填"
            )
    chosen = reader.string_list("matterCodes", max_items=MAX_MATTERS, max_len=40)
    unknown = [code for code in chosen if code not in matter_codes]
    if unknown:
        reader.fail("matterCodes", "请从列表中选择事项")
    other = reader.text("otherMatter", max_len=OTHER_MATTER_MAX)
    comment = reader.text("comment", max_len=COMMENT_MAX)
    for field, text in (("otherMatter", other), ("comment", comment)):
        problem = plain_text_problem(text) if text else None
        if problem:
            reader.fail(field, problem)
    if other is not None and "\n" in other:
        reader.fail("otherMatter", "请写在一行内")
    if not chosen and not other and not reader.errors:
        reader.fail("matterCodes", "请至少选择一个事项, 或在“其他事项”中填写")
    obstacles = reader.string_list("obstacles", max_items=len(OBSTACLES), max_len=20)
    if any(o not in OBSTACLES for o in obstacles):
        reader.fail("obstacles", "请从列表中选择")
    if reader.errors:
        return None, reader.errors
    values = {
        "respondent": respondent,
        "home_province": province,
        "home_region": home_region,
        "matter_codes": chosen,
        "other_matter": other,
        "obstacles": obstacles,
        "comment": comment,
    }
    return SurveyData(values), []


def _region_in(tree: Any, province: str, text: str) -> str | None:
    """A city or county of `province` named `text` (with or without 市/县/区), or None."""
    wanted = text.strip()
    stack = list(tree.children(province))
    found: list[str] = []
    while stack:
        code = stack.pop()
        place = tree.get(code)
        if place is None or place.level not in ("CITY", "COUNTY"):
            continue
        name = place.name
        if wanted in (name, name.rstrip("市县区")) or wanted == code:
            found.append(code)
        stack.extend(tree.children(code))
    return sorted(found)[0] if found else None


async def submit_survey(
    session: AsyncSession, ctx: ServiceContext, raw: Any, matter_codes: set[str]
) -> SurveyResponse:
    data, errors = parse_survey(raw, ctx, matter_codes)
    if data is None:
        raise BadInput("问卷填写有误", errors)
    response = SurveyResponse(**data.values)
    session.add(response)
    await session.flush()
    return response


async def list_responses(session: AsyncSession) -> list[SurveyResponse]:
    return list((await session.execute(select(SurveyResponse).order_by(SurveyResponse.id))).scalars())


@dataclass(frozen=True)
class SurveySummary:
    total: int
    by_matter: list[tuple[str, str, int]]
    other_matters: int
    by_province: list[tuple[str, str, int]]
    by_obstacle: list[tuple[str, str, int]]
    by_respondent: list[tuple[str, str, int]]


def summarise(responses: list[SurveyResponse], catalog: Any) -> SurveySummary:
    """Counts by matter (each chosen matter once per answer), home province, obstacle and respondent."""
    tree = catalog.tree
    matters: Counter[str] = Counter()
    provinces: Counter[str] = Counter()
    obstacles: Counter[str] = Counter()
    respondents: Counter[str] = Counter()
    other = 0
    for response in responses:
        matters.update(set(response.matter_codes or []))
        other += bool(response.other_matter)
        provinces[response.home_province] += 1
        obstacles.update(set(response.obstacles or []))
        respondents[response.respondent] += 1

    def matter_name(code: str) -> str:
        facts = catalog.matters.get(code)
        return facts.name if facts is not None else code

    return SurveySummary(
        total=len(responses),
        by_matter=[(c, matter_name(c), n) for c, n in sorted(matters.items(), key=lambda i: (-i[1], i[0]))],
        other_matters=other,
        by_province=[
            (c, tree.name(c) if c in tree else c, n)
            for c, n in sorted(provinces.items(), key=lambda i: (-i[1], i[0]))
        ],
        by_obstacle=[
            (c, OBSTACLES.get(c, c), n) for c, n in sorted(obstacles.items(), key=lambda i: (-i[1], i[0]))
        ],
        by_respondent=[
            (c, RESPONDENTS.get(c, c), n) for c, n in sorted(respondents.items(), key=lambda i: (-i[1], i[0]))
        ],
    )


async def survey_summary(session: AsyncSession, catalog: Any) -> SurveySummary:
    return summarise(await list_responses(session), catalog)
