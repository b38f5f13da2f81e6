"""Read models for the staff dashboard (驾驶舱) and the cooperation table (通办合作表, 一表).

Nothing here writes. The figures are computed from the same facts the public pages use: agreements
and tiers through the `Catalog` snapshot and `api.rules` (reach, status today, the 3-day rule), and
feedback, outreach visits and halls read in a handful of batched queries. Everything returned is
plain data, so the HTML pages, the SVG charts and the XLSX/CSV export all draw on one computation.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from api import rules
from api.enums import FeedbackStatus, label, value_of
from api.models import Activity, Agreement, Contact, Feedback, Hall, OutreachVisit
from api.records import AGREEMENT
from api.services.feedback import response_overdue

TIERS = ("RED", "GREEN", "BLUE", "YELLOW")
NO_TIER = "NONE"


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


# ------------------------------------------------------------------ contacts


@dataclass(frozen=True)
class ContactView:
    id: int
    name: str
    region_code: str
    region_name: str
    organisation: str | None
    role: str | None
    phone: str | None
    email: str | None
    sample: bool


def contact_view(contact: Contact, tree: rules.RegionTree) -> ContactView:
    code = contact.region_code
    return ContactView(
        id=contact.id,
        name=contact.name,
        region_code=code,
        region_name=tree.full_name(code) if code in tree else code,
        organisation=contact.organisation,
        role=contact.role,
        phone=contact.phone,
        email=contact.email,
        sample=bool(contact.is_sample),
    )


def contacts_for_region(
    contacts: Iterable[Contact], tree: rules.RegionTree, region_code: str
) -> list[Contact]:
    """Liaisons who speak for a region: those of the region itself or of a region containing it
    (a city's liaison answers for its counties), nearest first."""
    if region_code not in tree:
        return []
    chain = (region_code, *tree.ancestors(region_code))
    found = [c for c in contacts if c.region_code in chain]
    return sorted(found, key=lambda c: (chain.index(c.region_code), c.name))


async def all_contacts(session: AsyncSession) -> list[Contact]:
    return list(
        (await session.execute(select(Contact).order_by(Contact.region_code, Contact.name))).scalars()
    )


# ------------------------------------------------------------------ the cooperation table


@dataclass(frozen=True)
class TableRow:
    """One agreement as a row of the cooperation table."""

    id: int
    key: str | None
    title: str
    partner_code: str
    partner_name: str
    province_code: str
    province_name: str
    tier: str | None
    local_code: str
    local_name: str
    signed_on: dt.date
    effective_from: dt.date
    expires_on: dt.date | None
    status: str
    citywide_shared: bool
    reach: tuple[str, ...]
    reach_names: tuple[str, ...]
    matters: str
    items_count: int | None
    registered_on: dt.date | None
    days_to_register: int | None
    late: bool
    liaisons: tuple[str, ...]
    document_ref: str | None
    sample: bool
    version: int
    latest_activity: str = ""

    @property
    def reach_text(self) -> str:
        return (
            "全市各县(市、区)"
            if self.citywide_shared or not self.reach_names
            else "、".join(self.reach_names)
        )

    @property
    def registration_text(self) -> str:
        if self.registered_on is None:
            return "未记录登记日"
        if self.late:
            return f"逾期(签约后第{self.days_to_register}天登记)"
        return f"按时(签约后第{self.days_to_register}天登记)"


@dataclass(frozen=True)
class TableFilters:
    province: str = ""
    county: str = ""
    status: str = ""
    tier: str = ""
    year: str = ""
    late: str = ""
    q: str = ""

    @classmethod
    def from_query(cls, params: Any) -> TableFilters:
        def get(name: str) -> str:
            return str(params.get(name, "") or "").strip()[:40]

        return cls(
            get("province"), get("county"), get("status"), get("tier"), get("year"), get("late"), get("q")
        )

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}

    def accepts(self, row: TableRow) -> bool:
        if self.province and row.province_code != self.province:
            return False
        if self.county and self.county not in row.reach and row.local_code != self.county:
            return False
        if self.status and row.status != self.status:
            return False
        if self.tier and (row.tier or NO_TIER) != self.tier:
            return False
        if self.year and str(row.signed_on.year) != self.year:
            return False
        if self.late == "1" and not row.late:
            return False
        return not (
            self.q and self.q not in f"{row.title}{row.partner_name}{row.local_name}{row.document_ref or ''}"
        )


async def load_agreements(session: AsyncSession) -> list[Agreement]:
    query = (
        select(Agreement).options(selectinload(Agreement.matters)).order_by(Agreement.signed_on, Agreement.id)
    )
    return list((await session.execute(query)).scalars())


def latest_activity_text(tree: rules.RegionTree, activities: Sequence[Activity], partner_code: str) -> str:
    """The latest cooperation activity with a partner (or with a region containing it), one line."""
    found = [
        a for a in activities if a.partner_code == partner_code or tree.contains(a.partner_code, partner_code)
    ]
    if not found:
        return ""
    latest = max(found, key=lambda a: (a.held_on, a.id))
    local = tree.name(latest.local_code) if latest.local_code in tree else latest.local_code
    return f"{latest.held_on.isoformat()} {label(latest.kind)}: {latest.title}({local})"


def table_rows(
    agreements: Sequence[Agreement],
    contacts: Sequence[Contact],
    catalog: Any,
    today: dt.date,
    activities: Sequence[Activity] = (),
) -> list[TableRow]:
    """Every agreement as a table row, newest signing first; with `activities`, each row carries the
    latest cooperation activity with its partner (一表 gains it, issue 21)."""
    from api.services.catalog import agreement_facts

    tree: rules.RegionTree = catalog.tree
    home = catalog.home_city
    rows: list[TableRow] = []
    latest_by_partner: dict[str, str] = {}
    for agreement in agreements:
        codes = None if agreement.covers_all_matters else [m.code for m in agreement.matters]
        facts = agreement_facts(agreement, codes)
        reach = rules.local_reach(tree, home, facts)
        province = tree.province_of(agreement.partner_code) or agreement.partner_code
        registered = agreement.registered_on
        liaisons = tuple(
            f"{c.name} {c.phone or ''}".strip()
            for c in contacts_for_region(contacts, tree, agreement.partner_code)
        )
        rows.append(
            TableRow(
                id=agreement.id,
                key=agreement.key,
                title=agreement.title,
                partner_code=agreement.partner_code,
                partner_name=tree.full_name(agreement.partner_code),
                province_code=province,
                province_name=tree.name(province) if province in tree else province,
                tier=catalog.tier(agreement.partner_code),
                local_code=agreement.local_code,
                local_name=tree.full_name(agreement.local_code).removeprefix(
                    tree.name(tree.province_of(home) or home)
                ),
                signed_on=agreement.signed_on,
                effective_from=agreement.effective_from,
                expires_on=agreement.expires_on,
                status=rules.exposed_status(facts, today),
                citywide_shared=bool(agreement.citywide_shared),
                reach=reach,
                reach_names=tuple(tree.name(c) for c in reach),
                matters="全部跨省通办事项" if codes is None else f"{len(codes)}项",
                items_count=agreement.items_count,
                registered_on=registered,
                days_to_register=(registered - agreement.signed_on).days if registered else None,
                late=rules.is_late_registration(agreement.signed_on, registered),
                liaisons=liaisons,
                document_ref=agreement.document_ref,
                sample=bool(agreement.is_sample),
                version=agreement.version,
                latest_activity=latest_by_partner.setdefault(
                    agreement.partner_code, latest_activity_text(tree, activities, agreement.partner_code)
                )
                if activities
                else "",
            )
        )
    rows.sort(key=lambda r: (r.signed_on, r.id), reverse=True)
    return rows


# The cooperation table's columns; an agreement's own fields are headed by its field table (api/records.py).
TABLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("partner_name", AGREEMENT.label("partnerCode")),
    ("province_name", "所属省份"),
    ("tier", "分级"),
    ("local_name", AGREEMENT.label("localCode")),
    ("title", AGREEMENT.label("title")),
    ("signed_on", AGREEMENT.label("signedOn")),
    ("effective_from", AGREEMENT.label("effectiveFrom")),
    ("expires_on", AGREEMENT.label("expiresOn")),
    ("status", AGREEMENT.label("status")),
    ("reach_text", "效力范围"),
    ("matters", AGREEMENT.label("matterCodes")),
    ("items_count", AGREEMENT.label("itemsCount")),
    ("registered_on", AGREEMENT.label("registeredOn")),
    ("registration_text", "3日内更新"),
    ("liaisons", "合作地联络人"),
    ("document_ref", AGREEMENT.label("documentRef")),
    ("latest_activity", "最近合作交流"),
)
#: which agreement field each cooperation-table column shows (tests/test_records.py holds them together)
TABLE_FIELDS: dict[str, str] = {
    "partner_name": "partnerCode",
    "local_name": "localCode",
    "title": "title",
    "signed_on": "signedOn",
    "effective_from": "effectiveFrom",
    "expires_on": "expiresOn",
    "status": "status",
    "matters": "matterCodes",
    "items_count": "itemsCount",
    "registered_on": "registeredOn",
    "document_ref": "documentRef",
}


def table_cell(row: TableRow, attribute: str) -> Any:
    """A table cell as plain text/number/date for the export (and the printable page)."""
    value = getattr(row, attribute)
    if attribute in ("tier", "status"):
        return label(value) if value else "—"
    if attribute == "liaisons":
        return "; ".join(value)
    return value


# ------------------------------------------------------------------ the dashboard


@dataclass
class CountyFigures:
    code: str
    name: str
    signed: int = 0
    on_time: int = 0
    registered: int = 0
    partners_reached: int = 0
    feedback: int = 0
    resolved: int = 0
    overdue: int = 0
    response_hours: list[float] = field(default_factory=list)
    visits: int = 0
    people: int = 0
    score: float = 0.0
    activities: int = 0

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.registered if self.registered else None

    @property
    def resolved_rate(self) -> float | None:
        return self.resolved / self.feedback if self.feedback else None

    @property
    def median_response_hours(self) -> float | None:
        return statistics.median(self.response_hours) if self.response_hours else None


@dataclass(frozen=True)
class NotShared:
    """An agreement recorded as not shared citywide: an exception to 一地签约、全市共享 that needs the
    clause (建立“一地签约、全市共享”机制) when it is next renewed, with the reason staff gave (if any)."""

    id: int | str
    title: str
    signatory: str
    reach: str
    reason: str | None


def not_shared_agreements(catalog: Any) -> list[NotShared]:
    """The snapshot's agreements (not drafts) that a county signed without sharing them citywide."""
    tree: rules.RegionTree = catalog.tree
    found = []
    for facts in catalog.agreements:
        if facts.stored_status == "DRAFT" or facts.citywide_shared or facts.local_code == catalog.home_city:
            continue
        row = catalog.agreement_row(facts.id)
        found.append(
            NotShared(
                facts.id,
                facts.title,
                tree.full_name(facts.local_code) if facts.local_code in tree else facts.local_code,
                "、".join(tree.name(c) for c in catalog.local_reach(facts)),
                getattr(row, "not_shared_reason", None) if row is not None else None,
            )
        )
    return found


@dataclass
class Dashboard:
    today: dt.date
    partners_total: int
    tier_totals: dict[str, int]
    by_province: list[tuple[str, str, dict[str, int], int]]
    per_year: list[tuple[int, int]]
    agreements_total: int
    in_force: int
    counties: list[CountyFigures]
    three_day: dict[str, int]
    feedback_status: dict[str, int]
    response_hours: dict[str, float | None]
    resolution_hours: dict[str, float | None]
    overdue: int
    visits_total: int
    people_total: int
    halls: list[dict[str, Any]]
    ranking: list[CountyFigures]
    activity_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    """Cooperation activities per local side (each county, and the city itself) and kind (issue 21)."""
    not_shared: list[NotShared] = field(default_factory=list)

    @property
    def three_day_rate(self) -> float | None:
        known = self.three_day["on_time"] + self.three_day["late"]
        return self.three_day["on_time"] / known if known else None


def _hours(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    start, end = _aware(start), _aware(end)
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds() / 3600)


def _summary(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "mean": None, "count": 0}
    return {"median": statistics.median(values), "mean": statistics.fmean(values), "count": len(values)}


RANKING_RULE = (
    "比学赶超积分 = 本地签约协议数×10 + 3日内更新率×20 + 反馈办结率×20 − 首次响应超时件数×5 "
    "+ 上门服务次数×3 + 服务人数÷50(最多20分)"
)
ACTIVITY_POINTS, ACTIVITY_CAP = 2.0, 20.0
RANKING_RULE += f" + 合作交流活动次数×{ACTIVITY_POINTS:g}(最多{ACTIVITY_CAP:g}分; 会商、挂职交流、同步培训、跟班学习、业务指导、通办后总结)"


def _score(county: CountyFigures) -> float:
    score = county.signed * 10.0
    score += 20.0 * (county.on_time_rate or 0.0)
    score += 20.0 * (county.resolved_rate or 0.0)
    score -= 5.0 * county.overdue
    score += 3.0 * county.visits
    score += min(20.0, county.people / 50.0)
    score += min(ACTIVITY_CAP, ACTIVITY_POINTS * county.activities)
    return round(score, 1)


async def build_dashboard(session: AsyncSession, catalog: Any, today: dt.date) -> Dashboard:
    tree: rules.RegionTree = catalog.tree
    home = catalog.home_city
    counties = {code: CountyFigures(code, tree.name(code)) for code in tree.local_counties(home)}

    facts = [a for a in catalog.agreements if a.stored_status != "DRAFT"]
    in_force = [a for a in facts if rules.in_force(a, today)]

    # partner regions (those with an agreement in force), by province and tier
    partners = sorted({a.partner_code for a in in_force})
    tier_totals: Counter[str] = Counter()
    provinces: dict[str, Counter[str]] = defaultdict(Counter)
    for code in partners:
        tier = catalog.tier(code) or NO_TIER
        tier_totals[tier] += 1
        provinces[tree.province_of(code) or code][tier] += 1
    by_province = sorted(
        (
            (code, tree.name(code) if code in tree else code, dict(counts), sum(counts.values()))
            for code, counts in provinces.items()
        ),
        key=lambda item: (-item[3], item[0]),
    )

    per_year = sorted(Counter(a.signed_on.year for a in facts).items())

    # reach per county; signatures and the 3-day rule per signing county
    three_day = {"on_time": 0, "late": 0, "unknown": 0}
    for county in counties.values():
        county.partners_reached = len(
            {a.partner_code for a in in_force if county.code in catalog.local_reach(a)}
        )
    for agreement in facts:
        if agreement.registered_on is None:
            three_day["unknown"] += 1
        elif rules.is_late_registration(agreement.signed_on, agreement.registered_on):
            three_day["late"] += 1
        else:
            three_day["on_time"] += 1
        signer = rules.local_county_of(tree, home, agreement.local_code)
        if signer in counties:
            figures = counties[signer]
            figures.signed += 1
            if agreement.registered_on is not None:
                figures.registered += 1
                if not rules.is_late_registration(agreement.signed_on, agreement.registered_on):
                    figures.on_time += 1

    # feedback: status, first response, resolution, overdue; per county
    feedback = list((await session.execute(select(Feedback))).scalars())
    status_counts = Counter(value_of(f.status) for f in feedback)
    response: list[float] = []
    resolution: list[float] = []
    overdue = 0
    for item in feedback:
        first = _hours(item.created_at, item.first_response_at)
        done = _hours(item.created_at, item.resolved_at)
        late = response_overdue(item, today)
        overdue += late
        if first is not None:
            response.append(first)
        if done is not None:
            resolution.append(done)
        if item.county_code in counties:
            figures = counties[item.county_code]
            figures.feedback += 1
            figures.resolved += value_of(item.status) == FeedbackStatus.RESOLVED.value
            figures.overdue += late
            if first is not None:
                figures.response_hours.append(first)

    visits = list((await session.execute(select(OutreachVisit))).scalars())
    for visit in visits:
        if visit.county_code in counties:
            counties[visit.county_code].visits += 1
            counties[visit.county_code].people += visit.people_served or 0

    # cooperation work with partner regions (issue 21), per local side and kind
    activity_counts: dict[str, dict[str, int]] = {}
    for local_code, kind in (await session.execute(select(Activity.local_code, Activity.kind))).all():
        per_kind = activity_counts.setdefault(local_code, {})
        per_kind[value_of(kind)] = per_kind.get(value_of(kind), 0) + 1
        if local_code in counties:
            counties[local_code].activities += 1

    for county in counties.values():
        county.score = _score(county)
    ranking = sorted(counties.values(), key=lambda c: (-c.score, c.code))

    hall_rows = (await session.execute(select(Hall).order_by(Hall.id))).scalars()
    halls = [
        {
            "id": h.id,
            "name": h.name,
            "lat": h.latitude,
            "lon": h.longitude,
            "window": bool(h.has_cross_region_window),
            "level": value_of(h.level),
            "approximate": bool(h.coordinates_approximate),
            "county": tree.name(rules.local_county_of(tree, home, h.region_code) or h.region_code)
            if h.region_code in tree
            else h.region_code,
        }
        for h in hall_rows
        if h.latitude is not None and h.longitude is not None
    ]

    return Dashboard(
        today=today,
        partners_total=len(partners),
        tier_totals={tier: tier_totals.get(tier, 0) for tier in (*TIERS, NO_TIER)},
        by_province=by_province,
        per_year=per_year,
        agreements_total=len(facts),
        in_force=len(in_force),
        counties=list(counties.values()),
        three_day=three_day,
        feedback_status={s.value: status_counts.get(s.value, 0) for s in FeedbackStatus},
        response_hours=_summary(response),
        resolution_hours=_summary(resolution),
        overdue=overdue,
        visits_total=len(visits),
        people_total=sum(v.people_served or 0 for v in visits),
        halls=halls,
        ranking=ranking,
        activity_counts=activity_counts,
        not_shared=not_shared_agreements(catalog),
    )
