"""数据体检 (data health): what is missing or stale, per county, each line pointing at the form that fixes it.

City-wide (the matter list is the city's): matters without a published guide or without 教你办.
Per county: halls missing address, phone, opening hours or exact coordinates; towns (乡镇、街道) with
no service centre recorded; records not verified (核实日期) for more than six months, or never;
sample records still published; agreements whose signed text lacks the "一地签约、全市共享" clause
(to be amended) or has not been checked for it. A county's figure is the number of its lines.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from api import rules
from api.enums import value_of
from api.models import Agreement, Contact, Hall, Matter
from api.services.snapshots import published_guide

STALE_AFTER = dt.timedelta(days=183)  # "not verified for more than six months"

KINDS = {
    "guide": "缺办事指南",
    "walkthrough": "缺教你办",
    "hall": "大厅信息不全",
    "town": "乡镇(街道)未录入便民服务中心",
    "unverified": "超过6个月未核实(或从未核实)",
    "sample": "示例数据仍在公开",
    "clause": "协议文本缺“一地签约、全市共享”条款, 待补充",
    "clause_unknown": "协议文本是否含“一地签约、全市共享”条款尚未核对",
}


@dataclass(frozen=True)
class HealthLine:
    kind: str
    text: str
    link: str

    @property
    def kind_label(self) -> str:
        return KINDS[self.kind]


@dataclass
class CountyHealth:
    code: str
    name: str
    lines: list[HealthLine] = field(default_factory=list)

    @property
    def figure(self) -> int:
        return len(self.lines)

    def of_kind(self, kind: str) -> list[HealthLine]:
        return [line for line in self.lines if line.kind == kind]


@dataclass
class HealthReport:
    today: dt.date
    city: CountyHealth
    counties: list[CountyHealth]

    def figures(self) -> dict[str, int]:
        return {c.code: c.figure for c in self.counties}


def _stale(verified_on: dt.date | None, today: dt.date) -> bool:
    return verified_on is None or verified_on < today - STALE_AFTER


def _verified_text(verified_on: dt.date | None) -> str:
    return "从未核实" if verified_on is None else f"核实日期 {verified_on.isoformat()}"


async def data_health(
    session: AsyncSession, tree: rules.RegionTree, home_city: str, today: dt.date
) -> HealthReport:
    counties = {code: CountyHealth(code, tree.name(code)) for code in tree.local_counties(home_city)}
    city = CountyHealth(home_city, f"{tree.name(home_city)}(市本级及全市事项)")

    def owner(region_code: str) -> CountyHealth | None:
        county = rules.local_county_of(tree, home_city, region_code)
        if county in counties:
            return counties[county]
        return city if region_code == home_city else None

    matters = (
        (await session.execute(select(Matter).options(selectinload(Matter.guides)).order_by(Matter.code)))
        .scalars()
        .all()
    )
    for matter in matters:
        link = f"/staff/matters/{matter.code}"
        if not matter.published:
            continue
        guide = published_guide(matter)
        if guide is None:
            city.lines.append(HealthLine("guide", f"{matter.name}({matter.code})", f"{link}/guide"))
        elif not (guide.walkthrough or "").strip():
            city.lines.append(HealthLine("walkthrough", f"{matter.name}({matter.code})", f"{link}/guide"))
        if _stale(matter.verified_on, today):
            city.lines.append(
                HealthLine(
                    "unverified", f"事项 {matter.name}: {_verified_text(matter.verified_on)}", f"{link}/edit"
                )
            )
        if matter.is_sample or (guide is not None and guide.is_sample):
            city.lines.append(
                HealthLine(
                    "sample", f"事项 {matter.name}", f"{link}/edit" if matter.is_sample else f"{link}/guide"
                )
            )

    halls = (await session.execute(select(Hall).order_by(Hall.region_code, Hall.name))).scalars().all()
    with_centre: set[str] = set()
    for hall in halls:
        with_centre.add(hall.region_code)
        place = owner(hall.region_code)
        if place is None:
            continue
        link = f"/staff/halls/{hall.id}/edit"
        missing = [
            label
            for label, absent in (
                ("地址", not (hall.address or "").strip()),
                ("电话", not (hall.phone or "").strip()),
                ("办公时间", not (hall.opening_hours or "").strip()),
                ("精确坐标", hall.latitude is None or hall.longitude is None or hall.coordinates_approximate),
            )
            if absent
        ]
        if missing:
            place.lines.append(HealthLine("hall", f"{hall.name}: 缺{'、'.join(missing)}", link))
        if _stale(hall.verified_on, today):
            place.lines.append(
                HealthLine("unverified", f"大厅 {hall.name}: {_verified_text(hall.verified_on)}", link)
            )
        if hall.is_sample:
            place.lines.append(HealthLine("sample", f"大厅 {hall.name}", link))

    for code, county in counties.items():
        for town in tree.children(code):
            if tree.place(town).level == "TOWN" and not any(
                c.startswith(town) and tree.contains(town, c) for c in with_centre
            ):
                county.lines.append(
                    HealthLine("town", tree.name(town), f"/staff/halls/new?regionCode={town}")
                )

    agreements = (await session.execute(select(Agreement).order_by(Agreement.signed_on))).scalars().all()
    for agreement in agreements:
        place = owner(agreement.local_code)
        if place is None or value_of(agreement.status) in ("TERMINATED", "EXPIRED"):
            continue
        link = f"/staff/agreements/{agreement.id}/edit"
        if agreement.includes_clause is False:
            place.lines.append(HealthLine("clause", agreement.title, link))
        elif agreement.includes_clause is None:
            place.lines.append(HealthLine("clause_unknown", agreement.title, link))
        if _stale(agreement.verified_on, today):
            place.lines.append(
                HealthLine(
                    "unverified", f"协议 {agreement.title}: {_verified_text(agreement.verified_on)}", link
                )
            )
        if agreement.is_sample:
            place.lines.append(HealthLine("sample", f"协议 {agreement.title}", link))

    contacts = (await session.execute(select(Contact).order_by(Contact.name))).scalars().all()
    for contact in contacts:
        place = owner(contact.region_code)
        if place is None:
            continue
        link = f"/staff/contacts/{contact.id}/edit"
        if _stale(contact.verified_on, today):
            place.lines.append(
                HealthLine(
                    "unverified", f"联络人 {contact.name}: {_verified_text(contact.verified_on)}", link
                )
            )
        if contact.is_sample:
            place.lines.append(HealthLine("sample", f"联络人 {contact.name}", link))

    return HealthReport(today, city, list(counties.values()))
