"""The GraphQL object types of CONTRACT.md §4 (names fixed), plus a few additive fields.

Each type wraps a plain row (a Core `Row`, immutable, session-free) or a fact of the request's
`Catalog` snapshot. Regions come entirely from the snapshot (0 statements); everything else that
nests goes through the request's DataLoaders, never through a session of its own.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

import strawberry

from api import enums, rules
from api.enums import value_of
from api.schema.context import Info
from api.services.catalog import Catalog, agreement_facts

RegionLevel = strawberry.enum(enums.RegionLevel, description="行政区划层级")
PartnerTier = strawberry.enum(
    enums.PartnerTier,
    description="合作地区四色分级: RED 重点 (两项指数均达阈值), GREEN 人口, BLUE 合作, YELLOW 潜力",
)
AgreementStatus = strawberry.enum(enums.AgreementStatus, description="协议状态")
MatterScope = strawberry.enum(enums.MatterScope, description="事项范围: 跨省通办 / 全省通办 / 全市通办")
HandlingMode = strawberry.enum(enums.HandlingMode, description="办理模式: 全程网办 / 异地代收代办 / 多地联办")
HallLevel = strawberry.enum(enums.HallLevel, description="服务大厅层级")
WindowService = strawberry.enum(
    enums.WindowService, description="跨区域通办窗口的服务: 异地咨询 / 异地帮办 / 异地收发件"
)
RelationKind = strawberry.enum(enums.RelationKind, description="结对关系 (不是通办协议, 不产生通办效力)")


@strawberry.enum(description="Which branch of CONTRACT §5.6 decided a coverage answer.")
class CoverageKind(StrEnum):
    LOCAL = "LOCAL"
    PROVINCE = "PROVINCE"
    AGREEMENT = "AGREEMENT"
    NONE = "NONE"
    SCOPE_EXCLUDED = "SCOPE_EXCLUDED"



def region_of(catalog: Catalog, code: str) -> Region:
    return Region(place=catalog.region(code), catalog=catalog)


def regions_of(catalog: Catalog, codes: Any) -> list[Region]:
    return [region_of(catalog, code) for code in codes]


# ---------------------------------------------------------------------------- Region


@strawberry.type(description="行政区划: 合作地区、本市或本市的县(市、区)、乡镇(街道)。")
class Region:
    place: strawberry.Private[rules.Place]
    catalog: strawberry.Private[Catalog]

    @strawberry.field
    def code(self) -> str:
        return self.place.code

    @strawberry.field
    def name(self) -> str:
        return self.place.name

    @strawberry.field(description="Province → … → the region, e.g. 四川省南充市顺庆区.")
    def full_name(self) -> str:
        return self.catalog.tree.full_name(self.place.code)

    @strawberry.field
    def level(self) -> RegionLevel:
        return enums.RegionLevel(self.place.level)

    @strawberry.field
    def parent(self) -> Region | None:
        if self.place.parent_code is None:
            return None
        return region_of(self.catalog, self.place.parent_code)

    @strawberry.field
    def children(self) -> list[Region]:
        return regions_of(self.catalog, self.catalog.tree.children(self.place.code))

    @strawberry.field(description="True for the home city and every region inside it.")
    def is_local(self) -> bool:
        return self.catalog.is_local(self.place.code)

    @strawberry.field(description="Partner tier from the two indices; null without indices (§5.8).")
    def tier(self) -> PartnerTier | None:
        tier = self.catalog.tier(self.place.code)
        return enums.PartnerTier(tier) if tier is not None else None

    @strawberry.field(description="人口潜力指数 (0–100).")
    def population_index(self) -> float | None:
        indices = self.catalog.partner_indices(self.place.code)
        return indices.population if indices else None

    @strawberry.field(description="合作潜力指数 (0–100).")
    def cooperation_index(self) -> float | None:
        indices = self.catalog.partner_indices(self.place.code)
        return indices.cooperation if indices else None

    @strawberry.field(description="Agreements this region signed itself (as partner or as local signatory).")
    async def agreements(self, info: Info) -> list[Agreement]:
        rows = await info.context.loaders.agreements_by_region.load(self.place.code)
        return [Agreement(row=row, catalog=self.catalog) for row in rows]

    @strawberry.field(description="Pairing relations (对口援疆, 东西部协作, 对口合作): real ties, not agreements.")
    async def relations(self, info: Info) -> list[RegionRelation]:
        rows = await info.context.loaders.relations_by_region.load(self.place.code)
        return [RegionRelation(row=row, catalog=self.catalog) for row in rows]


@strawberry.type(description="结对关系: 对口援疆、东西部协作或对口合作。它不是跨省通办协议, 本身不产生通办效力。")
class RegionRelation:
    row: strawberry.Private[Any]
    catalog: strawberry.Private[Catalog]

    @strawberry.field
    def kind(self) -> RelationKind:
        return enums.RelationKind(value_of(self.row.kind))

    @strawberry.field(description="The home-city side.")
    def local_region(self) -> Region:
        return region_of(self.catalog, self.row.local_code)

    @strawberry.field
    def partner(self) -> Region:
        return region_of(self.catalog, self.row.partner_code)

    @strawberry.field
    def since(self) -> str | None:
        return self.row.since

    @strawberry.field
    def note(self) -> str | None:
        return self.row.note

    @strawberry.field
    def source(self) -> str | None:
        return self.row.source

    @strawberry.field
    def source_url(self) -> str | None:
        return self.row.source_url


# ---------------------------------------------------------------------------- Agreement


@strawberry.type(description="跨省通办协议。")
class Agreement:
    row: strawberry.Private[Any]
    catalog: strawberry.Private[Catalog]

    def _facts(self) -> rules.AgreementFacts:
        return agreement_facts(self.row, None)

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field
    def key(self) -> str | None:
        return self.row.key

    @strawberry.field
    def title(self) -> str:
        return self.row.title

    @strawberry.field(description="The partner region that signed.")
    def partner(self) -> Region:
        return region_of(self.catalog, self.row.partner_code)

    @strawberry.field(description="The home-city signatory: the city, a county or a town.")
    def local_signatory(self) -> Region:
        return region_of(self.catalog, self.row.local_code)

    @strawberry.field
    def signed_on(self) -> dt.date:
        return self.row.signed_on

    @strawberry.field
    def effective_from(self) -> dt.date:
        return self.row.effective_from

    @strawberry.field
    def expires_on(self) -> dt.date | None:
        return self.row.expires_on

    @strawberry.field(description="The status today: PENDING before effectiveFrom, EXPIRED after expiresOn (§5.2).")
    def status(self, info: Info) -> AgreementStatus:
        return enums.AgreementStatus(rules.exposed_status(self._facts(), info.context.today))

    @strawberry.field(description="The status as recorded by staff, whatever the date.")
    def stored_status(self) -> AgreementStatus:
        return enums.AgreementStatus(value_of(self.row.status))

    @strawberry.field(description="In force on the date (default today): stored ACTIVE and within its dates.")
    def in_force(self, info: Info, on_date: dt.date | None = strawberry.UNSET) -> bool:
        day = on_date if isinstance(on_date, dt.date) else info.context.today
        return rules.in_force(self._facts(), day)

    @strawberry.field(description="一地签约、全市共享: takes effect in every county of the home city.")
    def citywide_shared(self) -> bool:
        return bool(self.row.citywide_shared)

    @strawberry.field(description="True when the agreement lists no matters: it covers every CROSS_PROVINCE matter.")
    def covers_all_matters(self) -> bool:
        return bool(self.row.covers_all_matters)

    @strawberry.field(
        description="The matters the agreement lists; empty when coversAllMatters (then every CROSS_PROVINCE matter)."
    )
    async def matters(self, info: Info) -> list[Matter]:
        if self.row.covers_all_matters:
            return []
        rows = await info.context.loaders.agreement_matters.load(self.row.id)
        return [Matter(row=row) for row in rows]

    @strawberry.field(description="The home-city counties where the agreement takes effect (§5.4).")
    def local_regions(self) -> list[Region]:
        return regions_of(self.catalog, self.catalog.local_reach(self._facts()))

    @strawberry.field(description="The date it was entered in this directory.")
    def registered_on(self) -> dt.date | None:
        return self.row.registered_on

    @strawberry.field(description="Entered more than 3 days after signing (the 3-day rule, §5.9).")
    def late(self) -> bool:
        return rules.is_late_registration(self.row.signed_on, self.row.registered_on)

    @strawberry.field
    def document_ref(self) -> str | None:
        return self.row.document_ref

    @strawberry.field(description="The number of matters the agreement text mentions, when known.")
    def items_count(self) -> int | None:
        return self.row.items_count

    @strawberry.field
    def note(self) -> str | None:
        return self.row.note

    @strawberry.field
    def source(self) -> str | None:
        return self.row.source

    @strawberry.field
    def source_url(self) -> str | None:
        return self.row.source_url

    @strawberry.field(description="Illustrative record (示例数据), not a real agreement.")
    def sample(self) -> bool:
        return bool(self.row.is_sample)

    @strawberry.field(description="Optimistic-lock version: pass it back to updateAgreement.")
    def version(self) -> int:
        return int(self.row.version)


# ---------------------------------------------------------------------------- Matter and Guide


@strawberry.type(description="办事指南材料。")
class GuideMaterial:
    name: str
    required: bool
    copies: int | None
    note: str | None


@strawberry.type(description="统一办事指南 (the latest published version, the same in every county).")
class Guide:
    row: strawberry.Private[Any]

    @strawberry.field
    def version(self) -> int:
        return int(self.row.version)

    @strawberry.field
    def conditions(self) -> str | None:
        return self.row.conditions

    @strawberry.field
    def materials(self) -> list[GuideMaterial]:
        result = []
        for item in self.row.materials or []:
            if isinstance(item, str):
                item = {"name": item}
            if not isinstance(item, dict) or not item.get("name"):
                continue
            copies = item.get("copies")
            result.append(
                GuideMaterial(
                    name=str(item["name"]),
                    required=bool(item.get("required", True)),
                    copies=int(copies) if isinstance(copies, int | float) and not isinstance(copies, bool) else None,
                    note=item.get("note") if isinstance(item.get("note"), str) else None,
                )
            )
        return result

    @strawberry.field
    def steps(self) -> list[str]:
        return [str(step) for step in self.row.steps or []]

    @strawberry.field
    def time_limit_days(self) -> int | None:
        return self.row.time_limit_days

    @strawberry.field
    def fee(self) -> str | None:
        return self.row.fee

    @strawberry.field
    def legal_basis(self) -> str | None:
        return self.row.legal_basis

    @strawberry.field(description="教你办: a step-by-step walk-through for citizens.")
    def walkthrough(self) -> str | None:
        return self.row.walkthrough

    @strawberry.field
    def publisher(self) -> str | None:
        return self.row.publisher

    @strawberry.field
    def source_url(self) -> str | None:
        return self.row.source_url

    @strawberry.field
    def published_at(self) -> dt.datetime | None:
        return self.row.published_at

    @strawberry.field
    def sample(self) -> bool:
        return bool(self.row.is_sample)


@strawberry.type(description="政务服务事项。")
class Matter:
    row: strawberry.Private[Any]

    @strawberry.field
    def code(self) -> str:
        return self.row.code

    @strawberry.field
    def name(self) -> str:
        return self.row.name

    @strawberry.field
    def department(self) -> str:
        return self.row.department or ""

    @strawberry.field
    def scope(self) -> MatterScope:
        return enums.MatterScope(value_of(self.row.scope))

    @strawberry.field
    def modes(self) -> list[HandlingMode]:
        return _modes(self.row)

    @strawberry.field
    def keywords(self) -> list[str]:
        return [str(k) for k in self.row.keywords or []]

    @strawberry.field(description="Other official names merged into this matter.")
    def aliases(self) -> list[str]:
        return [str(a) for a in self.row.aliases or []]

    @strawberry.field(description="The national list it comes from, e.g. 2020-35 or 2022-34.")
    def national_list(self) -> str | None:
        return self.row.national_list

    @strawberry.field
    def deadline(self) -> str | None:
        return self.row.deadline

    @strawberry.field
    async def guide(self, info: Info) -> Guide | None:
        row = await info.context.loaders.guide_by_matter.load(self.row.id)
        return Guide(row=row) if row is not None else None

    @strawberry.field
    def source(self) -> str | None:
        return self.row.source

    @strawberry.field
    def source_url(self) -> str | None:
        return self.row.source_url

    @strawberry.field
    def sample(self) -> bool:
        return bool(self.row.is_sample)

    @strawberry.field
    def version(self) -> int:
        return int(self.row.version)


def _modes(row: Any) -> list[enums.HandlingMode]:
    modes = []
    for mode in row.modes or []:
        try:
            modes.append(enums.HandlingMode(str(mode)))
        except ValueError:
            continue
    return modes


# ---------------------------------------------------------------------------- Hall


@strawberry.type(description="政务服务中心 / 便民服务中心。")
class Hall:
    row: strawberry.Private[Any]
    catalog: strawberry.Private[Catalog]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field
    def key(self) -> str | None:
        return self.row.key

    @strawberry.field
    def name(self) -> str:
        return self.row.name

    @strawberry.field
    def region(self) -> Region:
        return region_of(self.catalog, self.row.region_code)

    @strawberry.field
    def level(self) -> HallLevel:
        return enums.HallLevel(value_of(self.row.level))

    @strawberry.field
    def address(self) -> str | None:
        return self.row.address

    @strawberry.field
    def phone(self) -> str | None:
        return self.row.phone

    @strawberry.field
    def opening_hours(self) -> str | None:
        return self.row.opening_hours

    @strawberry.field
    def latitude(self) -> float | None:
        return self.row.latitude

    @strawberry.field
    def longitude(self) -> float | None:
        return self.row.longitude

    @strawberry.field(description="True when the coordinates locate the town or county seat, not the door.")
    def coordinates_approximate(self) -> bool:
        return bool(self.row.coordinates_approximate)

    @strawberry.field(description="设有跨区域通办窗口: handles every CROSS_PROVINCE matter.")
    def has_cross_region_window(self) -> bool:
        return bool(self.row.has_cross_region_window)

    @strawberry.field
    def window_services(self) -> list[WindowService]:
        services = []
        for service in self.row.window_services or []:
            try:
                services.append(enums.WindowService(str(service)))
            except ValueError:
                continue
        return services

    @strawberry.field(description="The matters this hall lists (besides what its cross-region window handles).")
    async def matters(self, info: Info) -> list[Matter]:
        rows = await info.context.loaders.hall_matters.load(self.row.id)
        return [Matter(row=row) for row in rows]

    @strawberry.field
    def source(self) -> str | None:
        return self.row.source

    @strawberry.field
    def source_url(self) -> str | None:
        return self.row.source_url

    @strawberry.field
    def sample(self) -> bool:
        return bool(self.row.is_sample)

    @strawberry.field
    def version(self) -> int:
        return int(self.row.version)


# ---------------------------------------------------------------------------- answers


async def _agreements(info: Info, catalog: Catalog, facts: Any) -> list[Agreement]:
    rows = await info.context.loaders.agreement_by_id.load_many([int(a.id) for a in facts])
    return [Agreement(row=row, catalog=catalog) for row in rows if row is not None]


@strawberry.type(description="Can someone from homeRegion handle the matter here, on onDate, and where (§5.6)?")
class Coverage:
    result: strawberry.Private[rules.CoverageResult]
    catalog: strawberry.Private[Catalog]
    home_code: strawberry.Private[str]
    matter_code: strawberry.Private[str | None]
    day: strawberry.Private[dt.date]

    @strawberry.field
    def home_region(self) -> Region:
        return region_of(self.catalog, self.home_code)

    @strawberry.field
    async def matter(self, info: Info) -> Matter | None:
        if self.matter_code is None:
            return None
        row = await info.context.loaders.matter_by_code.load(self.matter_code)
        return Matter(row=row) if row is not None else None

    @strawberry.field
    def covered(self) -> bool:
        return self.result.covered

    @strawberry.field(description="Which rule decided: LOCAL, PROVINCE (全省通办), AGREEMENT, NONE, SCOPE_EXCLUDED.")
    def kind(self) -> CoverageKind:
        return CoverageKind(self.result.kind)

    @strawberry.field(description="Every agreement in force that covers home and matter.")
    async def agreements(self, info: Info) -> list[Agreement]:
        return await _agreements(info, self.catalog, self.result.agreements)

    @strawberry.field(description="The home-city counties where it can be handled.")
    def local_regions(self) -> list[Region]:
        return regions_of(self.catalog, self.result.local_regions)

    @strawberry.field(description="A plain Chinese sentence naming the chain: which agreement, who signed it, when, why here.")
    def explanation(self) -> str:
        return self.result.explanation

    @strawberry.field
    def on_date(self) -> dt.date:
        return self.day


@strawberry.type(description="A hall where the matter can be handled, and why (§5.7).")
class HallOption:
    option: strawberry.Private[rules.HallOption]
    catalog: strawberry.Private[Catalog]
    matter_code: strawberry.Private[str]

    @strawberry.field
    async def hall(self, info: Info) -> Hall:
        row = await info.context.loaders.hall_by_id.load(int(self.option.hall.id))
        return Hall(row=row, catalog=self.catalog)

    @strawberry.field(description="Great-circle distance from the given point, in km; null without a point or coordinates.")
    def distance_km(self) -> float | None:
        distance = self.option.distance_km
        return round(distance, 3) if distance is not None else None

    @strawberry.field(description="How the matter is handled (the matter's modes).")
    async def modes(self, info: Info) -> list[HandlingMode]:
        row = await info.context.loaders.matter_by_code.load(self.matter_code)
        return _modes(row) if row is not None else []

    @strawberry.field(description="The covering agreements that take effect in this hall's county.")
    async def agreements(self, info: Info) -> list[Agreement]:
        return await _agreements(info, self.catalog, self.option.agreements)

    @strawberry.field(description="The local county the hall stands in (the home city for a city-level hall).")
    def county(self) -> Region:
        return region_of(self.catalog, self.option.county_code)

    @strawberry.field
    def explanation(self) -> str:
        return self.option.explanation


@strawberry.type(description="A search result.")
class MatterHit:
    matter: Matter
    score: float
    highlight: str | None
    covered: bool | None = strawberry.field(
        default=None, description="With homeRegionCode: whether that home is covered for this matter today."
    )
