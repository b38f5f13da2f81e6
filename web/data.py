"""What the public pages show, as view models, and the few database reads they make.

Coverage and hall choice come from the in-memory `Catalog` snapshot (api.services.catalog), and so
do the details shown beside them: halls (the directory, built once per change mark) and the
matters of a results page (from the snapshot's rows, no query). The region pages' agreement
details and relations once per snapshot; a matter's guide, the lists and a hall's own matters are
read per page, each in one batched query.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from api.enums import value_of
from api.models import Matter, RegionRelation, hall_matters
from api.rules import RegionTree
from api.services.snapshots import published_guide

# ------------------------------------------------------------------ halls


@dataclass(frozen=True)
class HallView:
    """A hall as the pages show it."""

    id: int
    key: str | None
    name: str
    level: str
    region_code: str
    region_name: str
    county_name: str
    address: str | None
    phone: str | None
    opening_hours: str | None
    latitude: float | None
    longitude: float | None
    coordinates_approximate: bool
    has_cross_region_window: bool
    window_services: tuple[str, ...]
    source: str | None
    source_url: str | None
    sample: bool
    updated_at: dt.datetime | None
    verified_on: dt.date | None = None

    @property
    def url(self) -> str:
        return f"/halls/{self.id}"

    @property
    def consults(self) -> bool:
        """Offers 异地咨询 (cross-region advice) at its cross-region window."""
        return self.has_cross_region_window and "CONSULT" in self.window_services


@dataclass(frozen=True)
class HallDirectory:
    by_id: dict[int, HallView]
    ordered: tuple[HallView, ...] = field(default=())


def _hall_views(catalog: Any) -> list[HallView]:
    tree: RegionTree = catalog.tree
    rows = sorted(catalog.hall_rows.values(), key=lambda h: (h.region_code, h.name, h.id))
    views = []
    for hall in rows:
        code = hall.region_code
        known = code in tree
        county = tree.county_of(code) if known else None
        short = (
            tree.full_name(code).removeprefix(tree.full_name(tree.province_of(code) or code))
            if known
            else code
        )
        views.append(
            HallView(
                id=hall.id,
                key=hall.key,
                name=hall.name,
                level=value_of(hall.level),
                region_code=code,
                region_name=short or code,
                county_name=tree.name(county) if county else (tree.name(code) if known else code),
                address=hall.address,
                phone=hall.phone,
                opening_hours=hall.opening_hours,
                latitude=hall.latitude,
                longitude=hall.longitude,
                coordinates_approximate=bool(hall.coordinates_approximate),
                has_cross_region_window=bool(hall.has_cross_region_window),
                window_services=tuple(str(s) for s in hall.window_services or ()),
                source=hall.source,
                source_url=hall.source_url,
                sample=bool(hall.is_sample),
                updated_at=hall.updated_at,
                verified_on=getattr(hall, "verified_on", None),
            )
        )
    return views


DIRECTORY_KEY = "web.hall_directory"


def hall_directory(catalog: Any) -> HallDirectory:
    """Every hall's display details, built from the catalog snapshot's rows once per snapshot and
    kept with it (`Catalog.views`)."""
    found = catalog.views.get(DIRECTORY_KEY)
    if found is None:
        views = _hall_views(catalog)
        found = catalog.views[DIRECTORY_KEY] = HallDirectory({v.id: v for v in views}, tuple(views))
    return found


async def hall_matter_codes(session: AsyncSession, hall_id: int) -> list[tuple[str, str]]:
    """(code, name) of the matters a hall lists itself."""
    rows = await session.execute(
        select(Matter.code, Matter.name)
        .join(hall_matters, hall_matters.c.matter_id == Matter.id)
        .where(hall_matters.c.hall_id == hall_id, Matter.published.is_(True))
        .order_by(Matter.code)
    )
    return [(code, name) for code, name in rows]


# ------------------------------------------------------------------ matters


@dataclass(frozen=True)
class MatterView:
    code: str
    name: str
    department: str
    scope: str
    modes: tuple[str, ...]
    modes_sample: bool
    keywords: tuple[str, ...]
    aliases: tuple[str, ...]
    national_list: str | None
    deadline: str | None
    source: str | None
    source_url: str | None
    sample: bool
    updated_at: dt.datetime | None
    guide: GuideView | None = None
    verified_on: dt.date | None = None

    @property
    def url(self) -> str:
        return f"/matters/{self.code}"


@dataclass(frozen=True)
class GuideView:
    version: int
    conditions: str | None
    materials: tuple[dict[str, Any], ...]
    steps: tuple[str, ...]
    time_limit_days: int | None
    fee: str | None
    legal_basis: str | None
    walkthrough: str | None
    publisher: str | None
    source_url: str | None
    sample: bool
    published_at: dt.datetime | None
    source_published_on: dt.date | None = None


def _matter_view(matter: Any, with_guide: bool = False) -> MatterView:
    """A matter (ORM object, or a snapshot row when `with_guide` is false) as the pages show it."""
    guide = published_guide(matter) if with_guide else None
    return MatterView(
        code=matter.code,
        name=matter.name,
        department=matter.department or "",
        scope=value_of(matter.scope),
        modes=tuple(str(m) for m in matter.modes or ()),
        modes_sample=bool(matter.modes_sample),
        keywords=tuple(str(k) for k in matter.keywords or ()),
        aliases=tuple(str(a) for a in matter.aliases or ()),
        national_list=matter.national_list,
        deadline=matter.deadline,
        source=matter.source,
        source_url=matter.source_url,
        sample=bool(matter.is_sample),
        updated_at=matter.updated_at,
        verified_on=getattr(matter, "verified_on", None),
        guide=None
        if guide is None
        else GuideView(
            version=guide.version,
            conditions=guide.conditions,
            materials=tuple(dict(m) for m in guide.materials or () if isinstance(m, dict)),
            steps=tuple(str(s) for s in guide.steps or ()),
            time_limit_days=guide.time_limit_days,
            fee=guide.fee,
            legal_basis=guide.legal_basis,
            walkthrough=guide.walkthrough,
            publisher=guide.publisher,
            source_url=guide.source_url,
            sample=bool(guide.is_sample),
            published_at=guide.published_at,
            source_published_on=guide.source_published_on,
        ),
    )


RESULT_MATTERS_KEY = "web.data.result_matters"  # `Catalog.views`: code → MatterView without guide


def result_matters(catalog: Any, codes: list[str]) -> dict[str, MatterView]:
    """Display details of the published matters among `codes`, from the catalog snapshot's rows
    (no query: the snapshot holds every published matter's row, and moves with every write)."""
    known: dict[str, MatterView] = catalog.views.setdefault(RESULT_MATTERS_KEY, {})
    found: dict[str, MatterView] = {}
    for code in codes:
        view = known.get(code)
        if view is None:
            row = catalog.matter_row(code)
            if row is None:
                continue
            view = known[code] = _matter_view(row)  # once per snapshot: at most one per matter
        found[code] = view
    return found


async def matter_with_guide(session: AsyncSession, code: str) -> MatterView | None:
    row = (
        await session.execute(
            select(Matter)
            .options(selectinload(Matter.guides))
            .where(Matter.code == code, Matter.published.is_(True))
        )
    ).scalar_one_or_none()
    return None if row is None else _matter_view(row, with_guide=True)


async def matter_list(
    session: AsyncSession, scope: str, offset: int, limit: int
) -> tuple[int, list[MatterView]]:
    total = (
        await session.execute(
            select(func.count()).select_from(Matter).where(Matter.scope == scope, Matter.published.is_(True))
        )
    ).scalar_one()
    rows = (
        await session.execute(
            select(Matter)
            .where(Matter.scope == scope, Matter.published.is_(True))
            .order_by(Matter.code)
            .offset(offset)
            .limit(limit)
        )
    ).scalars()
    return int(total), [_matter_view(m) for m in rows]


SCOPE_COUNTS_KEY = "web.data.scope_counts"  # `Catalog.views`: scope → published matters


def scope_counts(catalog: Any) -> dict[str, int]:
    """Published matters per scope, counted once per catalog snapshot (`Catalog.views`): the lists
    page counted them with a GROUP BY per request (2.7 ms at 5,000 matters, more than a results
    page), and the snapshot is what the lists and search answer from anyway."""
    found: dict[str, int] | None = catalog.views.get(SCOPE_COUNTS_KEY)
    if found is None:
        found = catalog.views[SCOPE_COUNTS_KEY] = dict(
            Counter(matter.scope for matter in catalog.matters.values())
        )
    return found


# ------------------------------------------------------------------ agreements and relations


@dataclass(frozen=True)
class AgreementDetails:
    id: int
    document_ref: str | None
    items_count: int | None
    note: str | None
    source: str | None
    source_url: str | None
    sample: bool
    updated_at: dt.datetime | None
    verified_on: dt.date | None = None
    not_shared_reason: str | None = None


def _agreement_details(catalog: Any) -> dict[int, AgreementDetails]:
    return {
        row.id: AgreementDetails(
            row.id,
            row.document_ref,
            row.items_count,
            row.note,
            row.source,
            row.source_url,
            bool(row.is_sample),
            row.updated_at,
            getattr(row, "verified_on", None),
            getattr(row, "not_shared_reason", None),
        )
        for row in catalog.agreement_rows.values()
    }


@dataclass(frozen=True)
class RelationView:
    kind: str
    local_code: str
    partner_code: str
    since: str | None
    note: str | None
    source: str | None
    source_url: str | None
    sample: bool


async def _relations(session: AsyncSession) -> tuple[RelationView, ...]:
    rows = (
        await session.execute(select(RegionRelation).order_by(RegionRelation.kind, RegionRelation.key))
    ).scalars()
    return tuple(
        RelationView(
            value_of(rel.kind),
            rel.local_code,
            rel.partner_code,
            rel.since,
            rel.note,
            rel.source,
            rel.source_url,
            bool(rel.is_sample),
        )
        for rel in rows
    )


@dataclass(frozen=True)
class RegionDetails:
    """What the region pages show beside the coverage answer that the snapshot's facts do not
    carry: every agreement's document details (from the snapshot's rows) and every pairing relation
    (a few hundred small rows at most, read whole once per snapshot)."""

    agreements: dict[int, AgreementDetails]
    relations: tuple[RelationView, ...]

    def relations_touching(self, tree: RegionTree, code: str) -> list[RelationView]:
        """Pairing relations whose partner is this region, encloses it, or lies inside it."""
        return [
            rel
            for rel in self.relations
            if tree.contains(rel.partner_code, code) or tree.contains(code, rel.partner_code)
        ]


REGION_DETAILS_KEY = "web.region_details"


async def region_details(state: Any, catalog: Any) -> RegionDetails:
    """`RegionDetails`, kept with the catalog snapshot (`Catalog.views`). Two requests racing on a
    new snapshot may both read it; both get the same data."""
    found = catalog.views.get(REGION_DETAILS_KEY)
    if found is None:
        async with state.db.read() as session:
            relations = await _relations(session)
        found = catalog.views[REGION_DETAILS_KEY] = RegionDetails(_agreement_details(catalog), relations)
    return found
