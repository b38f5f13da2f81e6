"""The read model behind coverage: one immutable snapshot of what the rules need, shared by every request.

Why a snapshot: `coverage` and `whereToHandle` look at every agreement, every hall and the whole
region tree. Loading those per request would cost a dozen queries and thousands of rows each time;
they change a few times a day. So each process keeps one `Catalog` (plain frozen data, safe to share
between concurrent requests) and replaces it only when the database changed.

How "changed" is detected: every write service adds a row to `index_outbox` in the same transaction
as the change (partner indices included, entity "region"), so `SELECT max(id) FROM index_outbox` is
a cheap, exact change mark. It is read *settled* (`changes.settled_mark`): on PostgreSQL ids are
given at insert and commits land in any order, so a plain max could pass an id still uncommitted,
and a snapshot marked past it would never reload for that change; while writers hold the outbox
order lock longer than `CatalogCache.SETTLE_SECONDS` the current snapshot is kept a little longer.
Two instances on one database each follow the same mark and stay consistent. The region tree itself is static (bundled data) and is loaded once per cache; partner
indices are reloaded with everything else.

No rule lives here: `Catalog` only turns rows into the facts of `api.rules` and calls its functions,
so GraphQL, the public pages and the CLI give the same answers.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api import rules
from api.db import Database
from api.enums import value_of
from api.models import (
    Agreement,
    AppSetting,
    Hall,
    Matter,
    OutboxEvent,
    Region,
    agreement_matters,
    hall_matters,
)
from api.rules import AgreementFacts, CoverageResult, HallFacts, HallOption, MatterFacts, RegionTree
from api.services.base import Actor, BadInput, NotFound, ServiceContext, UnknownRegion, today
from api.services.changes import settled_mark
from api.services.regions import load_tree

AGREEMENTS = Agreement.__table__
HALLS = Hall.__table__
MATTERS = Matter.__table__
_UNSHOWN = frozenset({"created_at"})

TIER_THRESHOLDS_KEY = "tier_thresholds"
DEFAULT_THRESHOLD = 60.0


@dataclass(frozen=True, slots=True)
class PartnerIndices:
    """The two indices of a partner region (0–100), either possibly unknown."""

    population: float | None
    cooperation: float | None
    sample: bool = False
    updated_at: dt.datetime | None = None


#: coverage answers remembered per snapshot before the memo starts afresh. Each answer carries its
#: explanation (~0.6 KB): a results page asks for 50 at once, so 50,000 held ~30 MB per worker.
MEMO_LIMIT = 10_000
#: qualifying hall lists kept per snapshot (per matter and reach; a few per matter at most)
QUALIFYING_KEPT = 20_000
#: points whose distances to every hall are kept per snapshot (~26 KB each at 300 halls)
POINTS_KEPT = 64


@dataclass(frozen=True, eq=False)
class Catalog:
    """An immutable snapshot of the facts the coverage rules read, as of outbox mark `mark`."""

    tree: RegionTree
    home_city: str
    agreements: tuple[AgreementFacts, ...]
    matters: Mapping[str, MatterFacts]
    halls: tuple[HallFacts, ...]
    indices: Mapping[str, PartnerIndices]
    thresholds: tuple[float, float] = (DEFAULT_THRESHOLD, DEFAULT_THRESHOLD)
    mark: int = 0
    _agreements_by_id: Mapping[int | str, AgreementFacts] = field(default_factory=dict, repr=False)
    _by_partner: Mapping[str, tuple[AgreementFacts, ...]] = field(default_factory=dict, repr=False)
    _inside: Mapping[str, tuple[AgreementFacts, ...]] = field(default_factory=dict, repr=False)
    _cross_province: tuple[MatterFacts, ...] = field(default=(), repr=False)
    _window_sites: tuple[rules.HallSite, ...] = field(default=(), repr=False)
    _listing_sites: Mapping[str, tuple[rules.HallSite, ...]] = field(default_factory=dict, repr=False)
    _cross_codes: frozenset[str] = field(default=frozenset(), repr=False)
    _memo: dict[tuple[str, str | None, dt.date], CoverageResult] = field(default_factory=dict, repr=False)
    _standings: dict[tuple[str, dt.date], rules.HomeStanding] = field(default_factory=dict, repr=False)
    # the few decisions of homes no agreement reaches, by (where, scope): `decision`
    _plain: dict[tuple[str, str], CoverageResult] = field(default_factory=dict, repr=False)
    # the decisions of homes agreements reach, by (home, day, scope, agreement pattern): `decision`
    _patterns: dict[tuple[str, dt.date, str, tuple[bool, ...]], CoverageResult] = field(
        default_factory=dict, repr=False
    )
    _qualifying: dict[tuple[str, tuple[str, ...] | None], tuple[rules.HallSite, ...]] = field(
        default_factory=dict, repr=False
    )
    _qualifying_marks: dict[tuple[str, tuple[str, ...] | None], bytes] = field(
        default_factory=dict, repr=False
    )
    _placed_sites: tuple[rules.HallSite, ...] = field(default=(), repr=False)
    _by_distance: dict[tuple[float, float], tuple[tuple[rules.HallSite, float | None], ...]] = field(
        default_factory=dict, repr=False
    )
    hall_rows: Mapping[int | str, Any] = field(default_factory=dict, repr=False)
    agreement_rows: Mapping[int | str, Any] = field(default_factory=dict, repr=False)
    matter_rows: Mapping[str, Any] = field(default_factory=dict, repr=False)
    views: dict[str, Any] = field(default_factory=dict, repr=False)
    """What an adapter derives from this snapshot alone (GraphQL objects for its halls, the pages'
    hall directory), kept with it: built at most once per snapshot, dropped with it. Never holds
    per-request state."""

    def __post_init__(self) -> None:
        if not self._agreements_by_id:
            object.__setattr__(
                self, "_agreements_by_id", MappingProxyType({a.id: a for a in self.agreements})
            )
        by_partner: dict[str, list[AgreementFacts]] = {}
        for agreement in self.agreements:
            by_partner.setdefault(agreement.partner_code, []).append(agreement)
        object.__setattr__(
            self, "_by_partner", MappingProxyType({k: tuple(v) for k, v in by_partner.items()})
        )
        # each region's agreements signed strictly inside it, in `_by_partner`'s order (a region
        # page asked every partner whether it lies inside: a fifth of the page at 1,000 agreements)
        inside: dict[str, list[AgreementFacts]] = {}
        for partner, agreements in by_partner.items():
            if partner in self.tree:
                for outer in self.tree.ancestors(partner):
                    inside.setdefault(outer, []).extend(agreements)
        object.__setattr__(self, "_inside", MappingProxyType({k: tuple(v) for k, v in inside.items()}))
        object.__setattr__(
            self, "_cross_province", tuple(m for m in self.matters.values() if m.scope == "CROSS_PROVINCE")
        )
        object.__setattr__(self, "_cross_codes", frozenset(m.code for m in self._cross_province))
        # An index, not a rule: every hall that might handle a matter (those with a cross-region
        # window, and those listing it), placed in its county once (`rules.place_halls`), so §5.7
        # looks at a few dozen halls per question and works out none of their counties.
        placed = rules.place_halls(self.tree, self.home_city, self.halls)
        object.__setattr__(self, "_placed_sites", placed)
        sites = {site.hall: site for site in placed}
        listing: dict[str, list[rules.HallSite]] = {}
        for hall, site in sites.items():
            if not hall.has_cross_region_window:
                for code in hall.matter_codes:
                    listing.setdefault(code, []).append(site)
        window = tuple(site for hall, site in sites.items() if hall.has_cross_region_window)
        object.__setattr__(self, "_window_sites", window)
        object.__setattr__(
            self, "_listing_sites", MappingProxyType({k: tuple(v) for k, v in listing.items()})
        )

    def sites_for(self, matter_code: str) -> tuple[rules.HallSite, ...]:
        """The placed halls that may handle the matter, for `rules.hall_options_placed` to decide on (a
        superset of the answer, each hall once; the rules order the result, so this order does not
        matter)."""
        return self._window_sites + self._listing_sites.get(matter_code, ())

    def agreements_for_home(self, home_code: str) -> tuple[AgreementFacts, ...]:
        """The agreements whose partner is the home region or one of its ancestors (§5.3): the only
        ones that can cover it. Indexed by partner, so a call touches a handful, not every agreement."""
        found: list[AgreementFacts] = []
        for code in (home_code, *self.tree.ancestors(home_code)):
            found.extend(self._by_partner.get(code, ()))
        return tuple(found)

    def agreements_inside(self, code: str) -> tuple[AgreementFacts, ...]:
        """The agreements signed with regions strictly inside `code` (a province's signed cities):
        they do not cover `code` itself (§5.3, coverage flows downwards only)."""
        return self._inside.get(code, ())

    # ---------------------------------------------------------------- regions

    def region(self, code: str) -> rules.Place:
        """The place with this code; raises the coded `UnknownRegion` (UNKNOWN_REGION)."""
        place = self.tree.get(code)
        if place is None:
            raise UnknownRegion(f"未知行政区划代码 {code[:40]!r}")
        return place

    @property
    def local_counties(self) -> tuple[str, ...]:
        """The home city's county-level children (§5.1)."""
        return self.tree.local_counties(self.home_city)

    def is_local(self, code: str) -> bool:
        """True for the home city itself and everything inside it."""
        return self.tree.contains(self.home_city, code)

    def descendants(self, code: str) -> tuple[str, ...]:
        """The region and every region inside it (for "halls in this county, towns included")."""
        self.region(code)
        found: list[str] = []
        stack = [code]
        while stack:
            current = stack.pop()
            found.append(current)
            stack.extend(self.tree.children(current))
        return tuple(found)

    def partner_indices(self, code: str) -> PartnerIndices | None:
        return self.indices.get(code)

    def tier(self, region_code: str) -> str | None:
        """§5.8: the partner tier from the region's indices and the admin-set thresholds."""
        indices = self.indices.get(region_code)
        if indices is None:
            return None
        population, cooperation = self.thresholds
        return rules.partner_tier(indices.population, indices.cooperation, population, cooperation)

    # ---------------------------------------------------------------- agreements

    def agreement(self, agreement_id: int) -> AgreementFacts | None:
        return self._agreements_by_id.get(agreement_id)

    # ---------------------------------------------------------------- the rows behind the facts
    # The full rows (plain immutable Core `Row`s) of the same snapshot, so an answer built from the
    # facts (a hall option, a coverage's agreements) shows their details without another query, and
    # the details always agree with the facts the rules decided on.

    def hall_row(self, hall_id: int | str) -> Any | None:
        return self.hall_rows.get(hall_id)

    def agreement_row(self, agreement_id: int | str) -> Any | None:
        return self.agreement_rows.get(agreement_id)

    def matter_row(self, code: str) -> Any | None:
        """A published matter's row (unpublished matters are not in the snapshot)."""
        return self.matter_rows.get(code)

    def local_reach(self, agreement: AgreementFacts) -> tuple[str, ...]:
        """§5.4: the local counties where the agreement takes effect."""
        return rules.local_reach(self.tree, self.home_city, agreement)

    # ---------------------------------------------------------------- matters

    def matter(self, code: str) -> MatterFacts:
        """The matter with this code; raises the coded `NotFound`."""
        matter = self.matters.get(code)
        if matter is None:
            raise NotFound(f"没有编码为 {code[:60]!r} 的事项")
        return matter

    # ---------------------------------------------------------------- §5.6, §5.7

    def coverage(self, home_code: str, matter_code: str | None, day: dt.date | None = None) -> CoverageResult:
        """§5.6: can someone from `home_code` handle the matter (or any cross-province matter) here on `day`?"""
        self.region(home_code)
        matter = self.matter(matter_code) if matter_code is not None else None
        day = day or today()
        key = (home_code, matter_code, day)
        # The snapshot never changes, so an answer once computed stays right for its lifetime.
        cached = self._memo.get(key)
        if cached is not None:
            return cached
        standing = self.standing(home_code, day)
        result = rules.explain(self.tree, standing, matter, rules.decide(standing, matter, self._cross_codes))
        return remember(self._memo, key, result)

    def decision(self, home_code: str, matter_code: str, day: dt.date | None = None) -> CoverageResult:
        """`coverage(...)` without its explanation sentence (empty): what a compact results card
        needs (verdict, reach, agreements); the matter page shows the sentence."""
        day = day or today()
        cached = self._memo.get((home_code, matter_code, day))
        if cached is not None:
            return cached
        self.region(home_code)
        standing = self.standing(home_code, day)
        matter = self.matter(matter_code)
        if not standing.agreements:
            # a local home, one in the province, or one no agreement reaches (most of China):
            # the decision reads only where it is and the matter's scope (`rules.decide`; a
            # property test holds it), so a page's ten cards share one of a handful
            plain = (standing.where, matter.scope)
            found = self._plain.get(plain)
            if found is None:
                found = self._plain[plain] = self._decided(standing, matter)
            return found
        # a home that agreements reach: the decision reads the matter's scope and which of the
        # home's agreements cover it (`rules.agreement_pattern`, property-tested): a page's ten
        # cards for one home share one or two (93% of a bench pass's cards found theirs made)
        key = (home_code, day, matter.scope, rules.agreement_pattern(standing, matter))
        found = self._patterns.get(key)
        if found is None:
            found = remember(self._patterns, key, self._decided(standing, matter))
        return found

    def _decided(self, standing: rules.HomeStanding, matter: MatterFacts) -> CoverageResult:
        decided = rules.decide(standing, matter, self._cross_codes)
        return CoverageResult(decided.covered, decided.kind, decided.agreements, decided.local_regions, "")

    def covered(self, home_code: str, matter_code: str | None, day: dt.date | None = None) -> bool:
        """`coverage(...).covered` without the explanation: what ranking a page of hits needs."""
        self.region(home_code)
        matter = self.matter(matter_code) if matter_code is not None else None
        return rules.is_covered(self.standing(home_code, day or today()), matter, self._cross_codes)

    def covered_each(
        self, home_code: str, matter_codes: Iterable[str], day: dt.date | None = None
    ) -> dict[str, bool]:
        """`covered(home_code, code, day)` for each code (the home looked up once: a results page
        ranks its fifty hits with it)."""
        self.region(home_code)
        standing = self.standing(home_code, day or today())
        cross = self._cross_codes
        return {code: rules.is_covered(standing, self.matter(code), cross) for code in matter_codes}

    def standing(self, home_code: str, day: dt.date) -> rules.HomeStanding:
        """The home's matter-independent half of §5.6 (`rules.home_standing`), once per (home, day)."""
        key = (home_code, day)
        found = self._standings.get(key)
        if found is None:
            try:
                found = rules.home_standing(
                    self.tree, self.home_city, home_code, self.agreements_for_home(home_code), day
                )
            except rules.UnknownRegion as exc:
                raise UnknownRegion(f"未知行政区划代码 {exc.code[:40]!r}") from exc
            remember(self._standings, key, found)
        return found

    def where_to_handle(
        self,
        home_code: str,
        matter_code: str,
        lat: float | None = None,
        lon: float | None = None,
        day: dt.date | None = None,
        first: int | None = None,
    ) -> list[HallOption]:
        """§5.7: the halls that can handle the matter for someone from `home_code`, nearest first."""
        return self.where_to_handle_counted(home_code, matter_code, lat, lon, day, first)[0]

    def where_to_handle_counted(
        self,
        home_code: str,
        matter_code: str,
        lat: float | None = None,
        lon: float | None = None,
        day: dt.date | None = None,
        first: int | None = None,
        coverage: CoverageResult | None = None,
        explain: bool = True,
    ) -> tuple[list[HallOption], int]:
        """`where_to_handle` cut to `first`, and how many halls qualify in all (one pass): a results
        page shows the nearest few and links to the rest. `coverage`: this home's answer for the
        matter when the caller has it already (e.g. from `decision`); `explain` False: without the
        agreements and sentence per hall (`rules.hall_options_ordered`)."""
        if (lat is None) != (lon is None):
            raise BadInput("纬度和经度应同时提供或同时省略")
        if lat is not None and lon is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise BadInput(f"坐标超出范围: {lat}, {lon}")
        if first is not None and first < 0:
            raise BadInput("first 不能为负数")
        if coverage is None:
            coverage = self.coverage(home_code, matter_code, day)
        matter = self.matter(matter_code)
        qualifying = self.qualifying_sites(coverage, matter)
        nearest_first = None
        if lat is not None and lon is not None and first is not None and qualifying:
            # the point's distances to every hall once per snapshot, not per result
            nearest_first = rules.nearest_qualifying(
                self.sites_by_distance(lat, lon), self._marks_of(coverage, matter, qualifying), first
            )
        try:
            return rules.hall_options_ordered(
                self.tree,
                self.home_city,
                coverage,
                matter,
                qualifying,
                lat,
                lon,
                first,
                nearest_first,
                explain,
            )
        except ValueError as exc:
            raise BadInput(str(exc)) from exc

    def qualifying_sites(self, coverage: CoverageResult, matter: MatterFacts) -> tuple[rules.HallSite, ...]:
        """`rules.qualifying_sites` for this snapshot's halls, kept per matter and reach: most homes
        are covered everywhere (citywide sharing), so a popular matter's list is made once, not per
        question (filtering and ordering ~90 halls was half of `where_to_handle_counted`)."""
        if not coverage.covered:
            return ()
        key = (matter.code, rules.reach_key(coverage))
        found = self._qualifying.get(key)
        if found is None:
            found = rules.qualifying_sites(
                self.tree, self.home_city, coverage, matter, self.sites_for(matter.code)
            )
            remember(self._qualifying, key, found, QUALIFYING_KEPT)
        return found

    def _marks_of(
        self, coverage: CoverageResult, matter: MatterFacts, qualifying: tuple[rules.HallSite, ...]
    ) -> bytes:
        """`rules.qualifying_marks` of `qualifying_sites(coverage, matter)` (given), kept beside it."""
        key = (matter.code, rules.reach_key(coverage))
        found = self._qualifying_marks.get(key)
        if found is None:
            found = rules.qualifying_marks(qualifying, len(self._placed_sites))
            remember(self._qualifying_marks, key, found, QUALIFYING_KEPT)
        return found

    def sites_by_distance(self, lat: float, lon: float) -> tuple[tuple[rules.HallSite, float | None], ...]:
        """`rules.sites_by_distance` of this snapshot's placed halls from the point, kept per point
        (a results page asks for the nearest hall of ten matters from one point; the points are
        the few places `near` names, or typed coordinates: bounded)."""
        key = (lat, lon)
        found = self._by_distance.get(key)
        if found is None:
            found = rules.sites_by_distance(self._placed_sites, lat, lon)
            remember(self._by_distance, key, found, POINTS_KEPT)
        return found

    def service_context(self, actor: Actor, day: dt.date | None = None) -> ServiceContext:
        """What a write service needs besides its session, built from this snapshot's tree."""
        return ServiceContext(actor=actor, tree=self.tree, home_city=self.home_city, today=day or today())


_K = TypeVar("_K")
_V = TypeVar("_V")


def remember(memo: dict[_K, _V], key: _K, value: _V, limit: int = MEMO_LIMIT) -> _V:
    """Keep `value` in one of a snapshot's memos (its own, or an adapter's in `Catalog.views`),
    which starts afresh when full (bounded memory)."""
    if len(memo) >= limit:
        memo.clear()
    memo[key] = value
    return value


# -------------------------------------------------------------------- loading


async def current_mark(session: AsyncSession) -> int:
    """The change mark: the newest outbox row's id (0 for an empty outbox)."""
    value = (await session.execute(select(func.max(OutboxEvent.id)))).scalar_one_or_none()
    return int(value or 0)


async def _codes_by_owner(session: AsyncSession, table: Any, owner_column: str) -> dict[int, set[str]]:
    owner = table.c[owner_column]
    rows = await session.execute(
        select(owner, Matter.code).select_from(table.join(Matter, Matter.id == table.c.matter_id))
    )
    result: dict[int, set[str]] = defaultdict(set)
    for owner_id, code in rows:
        result[owner_id].add(code)
    return result


def agreement_facts(row: Any, codes: Iterable[str] | None) -> AgreementFacts:
    """An agreement row (ORM or Core) as the facts the rules read; `codes` None = all matters."""
    return AgreementFacts(
        id=row.id,
        key=row.key,
        title=row.title,
        partner_code=row.partner_code,
        local_code=row.local_code,
        signed_on=row.signed_on,
        effective_from=row.effective_from,
        expires_on=row.expires_on,
        stored_status=value_of(row.status),
        citywide_shared=bool(row.citywide_shared),
        matter_codes=None if codes is None else frozenset(codes),
        registered_on=row.registered_on,
    )


async def _thresholds(session: AsyncSession) -> tuple[float, float]:
    value = (
        await session.execute(select(AppSetting.value).where(AppSetting.key == TIER_THRESHOLDS_KEY))
    ).scalar_one_or_none()
    population = cooperation = DEFAULT_THRESHOLD
    if isinstance(value, dict):
        try:
            population = float(value.get("population", DEFAULT_THRESHOLD))
            cooperation = float(value.get("cooperation", DEFAULT_THRESHOLD))
        except (TypeError, ValueError):
            population = cooperation = DEFAULT_THRESHOLD
    return population, cooperation


async def load_catalog(
    session: AsyncSession, home_city: str, tree: RegionTree | None = None, mark: int | None = None
) -> Catalog:
    """Read one snapshot. The mark is read first (or given: `CatalogCache` passes a settled one): a
    change landing during the load only makes the next `get()` reload again, never hides a change."""
    if mark is None:
        mark = await current_mark(session)
    if tree is None:
        tree = await load_tree(session)

    index_rows = await session.execute(
        select(
            Region.code,
            Region.population_index,
            Region.cooperation_index,
            Region.indices_sample,
            Region.indices_updated_at,
        ).where((Region.population_index.is_not(None)) | (Region.cooperation_index.is_not(None)))
    )
    indices = {
        code: PartnerIndices(population, cooperation, bool(sample), updated_at)
        for code, population, cooperation, sample, updated_at in index_rows
    }

    # Full rows (less the creation time nobody shows), kept beside the facts: GraphQL answers about
    # coverage and halls read a matter's name and modes, a hall's address, an agreement's title;
    # the results page shows a matter's modes, department and when it was last updated.
    matter_columns = [c for c in MATTERS.c if c.name not in _UNSHOWN]
    matter_rows = {
        row.code: row
        for row in await session.execute(
            select(*matter_columns).where(MATTERS.c.published.is_(True)).order_by(MATTERS.c.code)
        )
    }
    matters = {code: MatterFacts(code, row.name, value_of(row.scope)) for code, row in matter_rows.items()}

    agreement_codes = await _codes_by_owner(session, agreement_matters, "agreement_id")
    agreement_rows = {
        row.id: row for row in await session.execute(select(AGREEMENTS).order_by(AGREEMENTS.c.id))
    }
    agreements = tuple(
        agreement_facts(row, None if row.covers_all_matters else agreement_codes.get(row.id, set()))
        for row in agreement_rows.values()
    )

    hall_codes = await _codes_by_owner(session, hall_matters, "hall_id")
    hall_rows = {row.id: row for row in await session.execute(select(HALLS).order_by(HALLS.c.id))}
    halls = tuple(
        HallFacts(
            id=row.id,
            key=row.key,
            name=row.name,
            region_code=row.region_code,
            latitude=row.latitude,
            longitude=row.longitude,
            has_cross_region_window=bool(row.has_cross_region_window),
            matter_codes=frozenset(hall_codes.get(row.id, ())),
        )
        for row in hall_rows.values()
    )

    return Catalog(
        tree=tree,
        home_city=home_city,
        agreements=agreements,
        matters=MappingProxyType(matters),
        halls=halls,
        indices=MappingProxyType(indices),
        thresholds=await _thresholds(session),
        mark=mark,
        hall_rows=MappingProxyType(hall_rows),
        agreement_rows=MappingProxyType(agreement_rows),
        matter_rows=MappingProxyType(matter_rows),
    )


class CatalogCache:
    """One process's current `Catalog`, reloaded only when the outbox mark moved.

    `get()` costs one small query when nothing changed, at most every `recheck_seconds`. Concurrent
    callers that find the check due share one mark query (under load, 32 requests each opening a
    session for the same `SELECT max(id)` exhausted the pool and stalled every request for half a
    second, twice a second); callers that find the snapshot stale wait on one lock, and only the
    first reloads.
    """

    #: how long a mark check waits for in-flight outbox writers (requests may wait on it)
    SETTLE_SECONDS = 0.25

    def __init__(
        self,
        db: Database,
        home_city: str,
        recheck_seconds: float = 0.5,
        on_load: Callable[[], None] | None = None,
    ) -> None:
        self.db = db
        self.home_city = home_city
        self.recheck_seconds = recheck_seconds
        self.on_load = on_load  # called after each load (a served process exempts it from the GC)
        self._catalog: Catalog | None = None
        self._tree: RegionTree | None = None
        self._lock = asyncio.Lock()
        self._checked_at = -1e9
        self._writes = 0
        self._check: asyncio.Task[tuple[int | None, float]] | None = None
        self._check_writes = 0
        self.loads = 0
        # a write committed in this process marks the snapshot stale at once
        db.write_listeners.append(self._stale)

    def _stale(self) -> None:
        self._writes += 1
        self._checked_at = -1e9

    async def get(self) -> Catalog:
        """The current snapshot. The outbox mark is read at most every `recheck_seconds` (writes
        made by other processes show within that time; this process's own writes at once)."""
        cached = self._catalog
        moment = time.monotonic()
        if cached is not None and moment - self._checked_at < self.recheck_seconds:
            return cached
        writes = self._writes
        settled, started = await self._mark(writes)
        if writes == self._writes:  # no local commit raced the read
            self._checked_at = max(self._checked_at, started)
        cached = self._catalog
        if settled is None and cached is not None and len(cached.tree):
            return cached  # writers in flight: this snapshot a little longer, the next check settles
        # unsettled with nothing to serve yet: load, marked 0 so the next settled check reloads
        mark = settled if settled is not None else 0
        if cached is not None and cached.mark == mark and len(cached.tree):
            return cached
        async with self._lock:
            cached = self._catalog
            if settled is not None and cached is not None and cached.mark >= mark and len(cached.tree):
                return cached
            async with self.db.read() as session:
                catalog = await load_catalog(session, self.home_city, self._tree, mark=mark)
            if len(catalog.tree) > 0:
                self._tree = catalog.tree
            self._catalog = catalog
            self.loads += 1
            if self.on_load is not None:
                self.on_load()
            return catalog

    async def _mark(self, writes: int) -> tuple[int | None, float]:
        """The outbox mark and when its read began. A read already in flight is shared unless this
        process committed a write since it began (then its answer may predate the write)."""
        check = self._check
        if check is None or self._check_writes != writes:
            check = asyncio.ensure_future(self._read_mark())
            self._check, self._check_writes = check, writes
            check.add_done_callback(self._checked)
        # shielded: a caller that goes away (client disconnect) does not cancel the others' read
        return await asyncio.shield(check)

    async def _read_mark(self) -> tuple[int | None, float]:
        """A settled mark (every outbox row below it committed: on PostgreSQL ids commit out of
        order, and a snapshot marked past an uncommitted row would never reload for it, nor would
        the pages' ETags change), or None when writers held the order lock for `SETTLE_SECONDS`."""
        started = time.monotonic()
        return await settled_mark(self.db, self.SETTLE_SECONDS), started

    def _checked(self, check: asyncio.Task[tuple[int | None, float]]) -> None:
        if self._check is check:
            self._check = None
        if not check.cancelled():
            check.exception()  # retrieved here: every waiter may have gone away

    def invalidate(self) -> None:
        """Forget the snapshot (not the static region tree): the next `get()` reloads."""
        self._catalog = None
        self._stale()

    def forget_regions(self) -> None:
        """Forget the region tree too (after `tongban init` loaded regions into a running process)."""
        self._catalog = None
        self._tree = None


async def build_service_context(db: Database, actor: Actor, home_city: str) -> ServiceContext:
    """A `ServiceContext` for adapters without a running `CatalogCache` (CLI, scripts)."""
    async with db.read() as session:
        tree = await load_tree(session)
    return ServiceContext(actor=actor, tree=tree, home_city=home_city)
