"""The GraphQL object types of CONTRACT.md §4 (names fixed), plus a few additive fields.

Each type wraps a plain row (a Core `Row`, immutable, session-free) or a fact of the request's
`Catalog` snapshot. Regions come entirely from the snapshot (0 statements); so do the halls, matters
and agreements of a coverage or whereToHandle answer (the snapshot holds their rows). Everything
else that nests goes through the request's DataLoaders, never through a session of its own.

Why many fields are `shown(...)` attributes and not resolver methods: strawberry calls a resolver
method through several layers of wrappers (~3 µs a field), while a plain attribute is read
directly. A whereToHandle answer has over a hundred fields, so fields that only show a stored value
(or a cheap function of it) are set once in `__post_init__`; fields that take arguments, read the
request (`info`), query the database or cost real work stay resolvers. The field order in the class
is the field order of the SDL, so `shown` fields stay where they were.

Objects built only from one snapshot (its regions, halls and agreements) are built once per snapshot
and shared by every request that reads it (`Catalog.views`): they hold nothing of a request, and
the snapshot never changes.
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


def shown(graphql_type: Any, description: str | None = None) -> Any:
    """A field read as a plain attribute, set by the type's `__post_init__` (see the module docstring).
    No class annotation on purpose: strawberry then keeps it in class order among the resolvers."""
    return strawberry.field(graphql_type=graphql_type, description=description, default=None)


def _views(catalog: Catalog, kind: str) -> dict[Any, Any]:
    views = catalog.views.get(kind)
    if views is None:
        views = catalog.views[kind] = {}
    return views


def region_of(catalog: Catalog, code: str) -> Region:
    """The snapshot's region (one shared object per code); raises UNKNOWN_REGION."""
    regions = _views(catalog, "region")
    region = regions.get(code)
    if region is None:
        region = regions[code] = Region(place=catalog.region(code), catalog=catalog)
    return region


def regions_of(catalog: Catalog, codes: Any) -> list[Region]:
    return [region_of(catalog, code) for code in codes]


def _region_field(catalog: Catalog, code: str) -> Region | Exception:
    """A `shown` region field's value: the region, or the coded error that field answers with
    (graphql-core raises an exception it finds as a field's value, at that field's path)."""
    try:
        return region_of(catalog, code)
    except Exception as exc:  # noqa: BLE001 - handed to graphql-core, which raises it for the field
        return exc


def snapshot_hall(catalog: Catalog, hall_id: int | str) -> Hall:
    """The snapshot's hall as a GraphQL object, built once per snapshot."""
    halls = _views(catalog, "hall")
    hall = halls.get(hall_id)
    if hall is None:
        hall = halls[hall_id] = Hall(row=catalog.hall_row(hall_id), catalog=catalog)
    return hall


def snapshot_agreements(catalog: Catalog, facts: Any) -> list[Agreement]:
    """The agreements behind coverage facts, from the same snapshot (no query; every fact has its row)."""
    agreements = _views(catalog, "agreement")
    found: list[Agreement] = []
    for fact in facts:
        agreement = agreements.get(fact.id)
        if agreement is None:
            row = catalog.agreement_row(fact.id)
            if row is None:
                continue
            agreement = agreements[fact.id] = Agreement(row=row, catalog=catalog)
        found.append(agreement)
    return found


def snapshot_matter(catalog: Catalog, code: str) -> Matter | None:
    """The snapshot's published matter as a GraphQL object (built per request: there are thousands
    of matters, and one answer shows one)."""
    row = catalog.matter_row(code)
    return Matter(row=row) if row is not None else None


# ---------------------------------------------------------------------------- Region


@strawberry.type(description="行政区划: 合作地区、本市或本市的县(市、区)、乡镇(街道)。")
class Region:
    place: strawberry.Private[rules.Place]
    catalog: strawberry.Private[Catalog]

    code = shown(str)
    name = shown(str)

    def __post_init__(self) -> None:
        self.code = self.place.code
        self.name = self.place.name

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

    @strawberry.field(
        description="Pairing relations (对口援疆, 东西部协作, 对口合作): real ties, not agreements."
    )
    async def relations(self, info: Info) -> list[RegionRelation]:
        rows = await info.context.loaders.relations_by_region.load(self.place.code)
        return [RegionRelation(row=row, catalog=self.catalog) for row in rows]


@strawberry.type(
    description="结对关系: 对口援疆、东西部协作或对口合作。它不是跨省通办协议, 本身不产生通办效力。"
)
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
    facts: strawberry.Private[rules.AgreementFacts | None] = None

    id = shown(strawberry.ID)
    key = shown(str | None)
    title = shown(str)
    partner = shown(Region, "The partner region that signed.")
    local_signatory = shown(Region, "The home-city signatory: the city, a county or a town.")
    signed_on = shown(dt.date)
    effective_from = shown(dt.date)
    expires_on = shown(dt.date | None)

    def __post_init__(self) -> None:
        row, catalog = self.row, self.catalog
        self.id = strawberry.ID(str(row.id))
        self.key = row.key
        self.title = row.title
        self.partner = _region_field(catalog, row.partner_code)
        self.local_signatory = _region_field(catalog, row.local_code)
        self.signed_on = row.signed_on
        self.effective_from = row.effective_from
        self.expires_on = row.expires_on
        self.stored_status = enums.AgreementStatus(value_of(row.status))
        self.citywide_shared = bool(row.citywide_shared)
        self.not_shared_reason = getattr(row, "not_shared_reason", None)
        self.covers_all_matters = bool(row.covers_all_matters)
        self.registered_on = row.registered_on
        self.late = rules.is_late_registration(row.signed_on, row.registered_on)
        self.document_ref = row.document_ref
        self.items_count = row.items_count
        self.note = row.note
        self.source = row.source
        self.source_url = row.source_url
        self.sample = bool(row.is_sample)
        self.version = int(row.version)

    def _facts(self) -> rules.AgreementFacts:
        if self.facts is None:  # made once (a snapshot's agreement objects serve many requests)
            self.facts = agreement_facts(self.row, None)
        return self.facts

    @strawberry.field(
        description="The status today: PENDING before effectiveFrom, EXPIRED after expiresOn (§5.2)."
    )
    def status(self, info: Info) -> AgreementStatus:
        return enums.AgreementStatus(rules.exposed_status(self._facts(), info.context.today))

    stored_status = shown(AgreementStatus, "The status as recorded by staff, whatever the date.")

    @strawberry.field(description="In force on the date (default today): stored ACTIVE and within its dates.")
    def in_force(self, info: Info, on_date: dt.date | None = strawberry.UNSET) -> bool:
        day = on_date if isinstance(on_date, dt.date) else info.context.today
        return rules.in_force(self._facts(), day)

    citywide_shared = shown(bool, "一地签约、全市共享: takes effect in every county of the home city.")
    not_shared_reason = shown(
        str | None,
        "Why this agreement is an exception to 一地签约、全市共享 (recorded by staff; citywideShared false).",
    )
    covers_all_matters = shown(
        bool, "True when the agreement lists no matters: it covers every CROSS_PROVINCE matter."
    )

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

    registered_on = shown(dt.date | None, "The date it was entered in this directory.")
    late = shown(bool, "Entered more than 3 days after signing (the 3-day rule, §5.9).")
    document_ref = shown(str | None)
    items_count = shown(int | None, "The number of matters the agreement text mentions, when known.")
    note = shown(str | None)
    source = shown(str | None)
    source_url = shown(str | None)
    sample = shown(bool, "Illustrative record (示例数据), not a real agreement.")
    version = shown(int, "Optimistic-lock version: pass it back to updateAgreement.")


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
                    copies=int(copies)
                    if isinstance(copies, int | float) and not isinstance(copies, bool)
                    else None,
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

    code = shown(str)
    name = shown(str)
    department = shown(str)
    scope = shown(MatterScope)

    def __post_init__(self) -> None:
        row = self.row
        self.code = row.code
        self.name = row.name
        self.department = row.department or ""
        self.scope = enums.MatterScope(value_of(row.scope))
        self.national_list = row.national_list
        self.deadline = row.deadline
        self.source = row.source
        self.source_url = row.source_url
        self.sample = bool(row.is_sample)
        self.version = int(row.version)

    @strawberry.field
    def modes(self) -> list[HandlingMode]:
        return _modes(self.row)

    @strawberry.field
    def keywords(self) -> list[str]:
        return [str(k) for k in self.row.keywords or []]

    @strawberry.field(description="Other official names merged into this matter.")
    def aliases(self) -> list[str]:
        return [str(a) for a in self.row.aliases or []]

    national_list = shown(str | None, "The national list it comes from, e.g. 2020-35 or 2022-34.")
    deadline = shown(str | None)

    @strawberry.field
    async def guide(self, info: Info) -> Guide | None:
        row = await info.context.loaders.guide_by_matter.load(self.row.id)
        return Guide(row=row) if row is not None else None

    source = shown(str | None)
    source_url = shown(str | None)
    sample = shown(bool)
    version = shown(int)


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

    id = shown(strawberry.ID)
    key = shown(str | None)
    name = shown(str)
    region = shown(Region)
    level = shown(HallLevel)
    address = shown(str | None)
    phone = shown(str | None)
    opening_hours = shown(str | None)
    latitude = shown(float | None)
    longitude = shown(float | None)
    coordinates_approximate = shown(
        bool, "True when the coordinates locate the town or county seat, not the door."
    )
    has_cross_region_window = shown(bool, "设有跨区域通办窗口: handles every CROSS_PROVINCE matter.")

    def __post_init__(self) -> None:
        row = self.row
        self.id = strawberry.ID(str(row.id))
        self.key = row.key
        self.name = row.name
        self.region = _region_field(self.catalog, row.region_code)
        self.level = enums.HallLevel(value_of(row.level))
        self.address = row.address
        self.phone = row.phone
        self.opening_hours = row.opening_hours
        self.latitude = row.latitude
        self.longitude = row.longitude
        self.coordinates_approximate = bool(row.coordinates_approximate)
        self.has_cross_region_window = bool(row.has_cross_region_window)
        self.source = row.source
        self.source_url = row.source_url
        self.sample = bool(row.is_sample)
        self.version = int(row.version)

    @strawberry.field
    def window_services(self) -> list[WindowService]:
        services = []
        for service in self.row.window_services or []:
            try:
                services.append(enums.WindowService(str(service)))
            except ValueError:
                continue
        return services

    @strawberry.field(
        description="The matters this hall lists (besides what its cross-region window handles)."
    )
    async def matters(self, info: Info) -> list[Matter]:
        rows = await info.context.loaders.hall_matters.load(self.row.id)
        return [Matter(row=row) for row in rows]

    source = shown(str | None)
    source_url = shown(str | None)
    sample = shown(bool)
    version = shown(int)


# ---------------------------------------------------------------------------- answers
# Built from the request's snapshot only, so every field is set at once (no resolver runs).


@strawberry.type(
    description="Can someone from homeRegion handle the matter here, on onDate, and where (§5.6)?"
)
class Coverage:
    result: strawberry.Private[rules.CoverageResult]
    catalog: strawberry.Private[Catalog]
    home_code: strawberry.Private[str]
    matter_code: strawberry.Private[str | None]
    day: strawberry.Private[dt.date]

    home_region = shown(Region)
    matter = shown(Matter | None)
    covered = shown(bool)
    kind = shown(
        CoverageKind, "Which rule decided: LOCAL, PROVINCE (全省通办), AGREEMENT, NONE, SCOPE_EXCLUDED."
    )
    agreements = shown(list[Agreement], "Every agreement in force that covers home and matter.")
    local_regions = shown(list[Region], "The home-city counties where it can be handled.")
    explanation = shown(
        str, "A plain Chinese sentence naming the chain: which agreement, who signed it, when, why here."
    )
    on_date = shown(dt.date)
    presumed = shown(
        bool,
        "True when every covering agreement has no item list entered, so it is presumed to cover all "
        "cross-province matters (rules.is_presumed): confirm by phone before going.",
    )

    def __post_init__(self) -> None:
        result, catalog = self.result, self.catalog
        self.home_region = _region_field(catalog, self.home_code)
        self.matter = snapshot_matter(catalog, self.matter_code) if self.matter_code is not None else None
        self.covered = result.covered
        self.kind = CoverageKind(result.kind)
        self.agreements = snapshot_agreements(catalog, result.agreements)
        self.local_regions = regions_of(catalog, result.local_regions)
        self.explanation = result.explanation
        self.on_date = self.day
        self.presumed = rules.is_presumed(result)


def _matter_modes(catalog: Catalog, code: str) -> list[enums.HandlingMode]:
    """A snapshot matter's modes, converted once per snapshot (nobody mutates the shared list)."""
    modes = _views(catalog, "modes")
    found = modes.get(code)
    if found is None:
        row = catalog.matter_row(code)
        found = modes[code] = _modes(row) if row is not None else []
    return found


@strawberry.type(description="A hall where the matter can be handled, and why (§5.7).")
class HallOption:
    option: strawberry.Private[rules.HallOption]
    catalog: strawberry.Private[Catalog]
    matter_code: strawberry.Private[str]

    hall = shown(Hall)
    distance_km = shown(
        float | None,
        "Great-circle distance from the given point, in km; null without a point or coordinates.",
    )
    modes = shown(list[HandlingMode], "How the matter is handled (the matter's modes).")
    agreements = shown(list[Agreement], "The covering agreements that take effect in this hall's county.")
    county = shown(Region, "The local county the hall stands in (the home city for a city-level hall).")
    explanation = shown(str)

    def __post_init__(self) -> None:
        option, catalog = self.option, self.catalog
        self.hall = snapshot_hall(catalog, option.hall.id)
        distance = option.distance_km
        self.distance_km = round(distance, 3) if distance is not None else None
        self.modes = _matter_modes(catalog, self.matter_code)
        self.agreements = snapshot_agreements(catalog, option.agreements)
        self.county = _region_field(catalog, option.county_code)
        self.explanation = option.explanation


@strawberry.type(description="A search result.")
class MatterHit:
    matter: Matter
    score: float
    highlight: str | None
    covered: bool | None = strawberry.field(
        default=None, description="With homeRegionCode: whether that home is covered for this matter today."
    )
