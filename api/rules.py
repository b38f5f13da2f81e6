"""The coverage and tier rules of CONTRACT.md §5, as pure functions over plain data.

Why a module of pure functions: GraphQL, the public pages, the staff forms and
the CLI must all give the same answer to "can someone from region X handle
matter M here, and where?". Keeping the rules free of the database, the web
framework, the clock and the settings means every adapter calls the same code
and the rules are tested as a table (tests/test_rules.py) without a server.

Nothing here knows which city runs the instance: the home city is always a
parameter (``home_city``), so the same rules serve 台州市 331000 or any other
city. Nothing here reads today's date either: callers pass ``day`` (the
Asia/Shanghai calendar date, CONTRACT §5 intro).

Vocabulary used throughout:

- *home city*: the city-level region running this instance (§5.1).
- *local counties*: the county-level children of the home city; a hall stands
  in one of them or in a town of one.
- *home* / ``home_code``: the citizen's 户籍地/参保地, anywhere in China.
- *reach* of an agreement: the local counties where it takes effect (§5.4).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from operator import attrgetter
from types import MappingProxyType
from typing import Any, Literal

from api.words import AGREEMENT_STATUS_WORDS

__all__ = [
    "AGREEMENT_STATUSES",
    "LEVELS",
    "SCOPES",
    "AgreementFacts",
    "CoverageDecision",
    "CoverageKind",
    "CoverageResult",
    "HallFacts",
    "HallOption",
    "HallSite",
    "HomeStanding",
    "Level",
    "MatterFacts",
    "Place",
    "RegionTree",
    "Scope",
    "Tier",
    "UnknownRegion",
    "coverage_for",
    "covers_matter",
    "decide",
    "explain",
    "exposed_status",
    "format_date_cn",
    "great_circle_km",
    "hall_options",
    "hall_options_counted",
    "hall_options_placed",
    "hall_options_ordered",
    "nearest_qualifying",
    "qualifying_marks",
    "sites_by_distance",
    "qualifying_sites",
    "coverage_reach",
    "reach_key",
    "home_standing",
    "in_force",
    "is_covered",
    "is_late_registration",
    "local_county_of",
    "local_reach",
    "partner_covers",
    "partner_tier",
    "place_halls",
]

Level = Literal["PROVINCE", "CITY", "COUNTY", "TOWN"]
Scope = Literal["CROSS_PROVINCE", "PROVINCE_WIDE", "CITYWIDE"]
CoverageKind = Literal["LOCAL", "PROVINCE", "AGREEMENT", "NONE", "SCOPE_EXCLUDED"]
Tier = Literal["RED", "GREEN", "BLUE", "YELLOW"]

LEVELS: frozenset[str] = frozenset({"PROVINCE", "CITY", "COUNTY", "TOWN"})
SCOPES: frozenset[str] = frozenset({"CROSS_PROVINCE", "PROVINCE_WIDE", "CITYWIDE"})
AGREEMENT_STATUSES: frozenset[str] = frozenset(
    {"DRAFT", "PENDING", "ACTIVE", "SUSPENDED", "TERMINATED", "EXPIRED"}
)

EARTH_RADIUS_KM = 6371.0088
"""Mean Earth radius (IUGG), the usual choice for haversine distances."""


class UnknownRegion(LookupError):
    """A region code that the tree does not hold; adapters answer ``UNKNOWN_REGION``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code

    def __str__(self) -> str:
        return f"unknown region code {self.code!r}"


# --------------------------------------------------------------------------- regions


@dataclass(frozen=True, slots=True)
class Place:
    """One administrative division (GB/T 2260 code; 9 digits for towns).

    ``parent_code`` is None only for provinces. Municipalities (北京/上海/天津/
    重庆) hang their districts directly under the PROVINCE; cities such as
    东莞 441900 have towns but no counties.
    """

    code: str
    name: str
    level: Level
    parent_code: str | None = None

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"region {self.code}: unknown level {self.level!r}")
        if self.parent_code == self.code:
            raise ValueError(f"region {self.code} cannot be its own parent")


class RegionTree:
    """An immutable index over a set of :class:`Place` rows.

    Built once (e.g. at start-up from the bundled regions) and shared by every
    request: all lookups are dictionary reads over data computed in the
    constructor, and nothing can change it afterwards.

    Construction is strict, because a silently truncated ancestry would give
    wrong coverage answers: codes must be unique, every ``parent_code`` must be
    present in the same tree, and there must be no cycles (ValueError otherwise).

    Methods taking a code raise :class:`UnknownRegion` for a code not in the
    tree, except :meth:`get` (returns None), ``in`` and :meth:`contains`
    (an unknown region contains nothing and lies in nothing).
    """

    __slots__ = (
        "_places",
        "_children",
        "_ancestors",
        "_counties_memo",
        "_county_of_memo",
        "_full_names",
        "views",
    )

    _places: Mapping[str, Place]
    _children: Mapping[str, tuple[str, ...]]
    _ancestors: Mapping[str, tuple[str, ...]]
    # derived answers, remembered per tree (the places never change)
    _counties_memo: dict[str, tuple[str, ...]]  # home city → its local counties (`local_counties`)
    _county_of_memo: dict[tuple[str, str], str | None]  # (home city, code) → local county (`local_county_of`)
    _full_names: dict[str, str]  # code → full name (`full_name`)
    views: dict[str, Any]
    """What an adapter derives from this tree alone (the place-name table, the type-ahead index,
    the "where are you" options), kept with it like `Catalog.views`: built at most once per tree,
    dropped with it. Never holds per-request state."""

    def __init__(self, places: Iterable[Place]) -> None:
        by_code: dict[str, Place] = {}
        for place in places:
            if place.code in by_code:
                raise ValueError(f"duplicate region code {place.code}")
            by_code[place.code] = place
        children: dict[str, list[str]] = {code: [] for code in by_code}
        for place in by_code.values():
            if place.parent_code is None:
                continue
            if place.parent_code not in by_code:
                raise ValueError(f"region {place.code}: parent {place.parent_code} is not in the tree")
            children[place.parent_code].append(place.code)
        ancestors: dict[str, tuple[str, ...]] = {}
        for code in by_code:
            chain: list[str] = []
            parent = by_code[code].parent_code
            while parent is not None:
                if parent == code or parent in chain:
                    raise ValueError(f"region {code}: parent chain has a cycle")
                chain.append(parent)
                parent = by_code[parent].parent_code
            ancestors[code] = tuple(chain)
        object.__setattr__(self, "_places", MappingProxyType(by_code))
        object.__setattr__(
            self, "_children", MappingProxyType({k: tuple(sorted(v)) for k, v in children.items()})
        )
        object.__setattr__(self, "_ancestors", MappingProxyType(ancestors))
        # derived answers only; the places themselves never change
        object.__setattr__(self, "_counties_memo", {})
        object.__setattr__(self, "_county_of_memo", {})
        object.__setattr__(self, "_full_names", {})
        object.__setattr__(self, "views", {})

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("RegionTree is immutable")

    def __contains__(self, code: object) -> bool:
        return code in self._places

    def __len__(self) -> int:
        return len(self._places)

    def __iter__(self) -> Iterator[Place]:
        return iter(self._places.values())

    def __repr__(self) -> str:
        return f"<RegionTree {len(self)} places>"

    def get(self, code: str) -> Place | None:
        """The place with this code, or None."""
        return self._places.get(code)

    def place(self, code: str) -> Place:
        """The place with this code; raises :class:`UnknownRegion`."""
        try:
            return self._places[code]
        except KeyError:
            raise UnknownRegion(code) from None

    def ancestors(self, code: str) -> tuple[str, ...]:
        """Codes of the enclosing regions, nearest first (the province last)."""
        self.place(code)
        return self._ancestors[code]

    def contains(self, outer: str, inner: str) -> bool:
        """True when ``inner`` is ``outer`` itself or lies inside it."""
        if outer not in self._places or inner not in self._places:
            return False
        return outer == inner or outer in self._ancestors[inner]

    def _nearest(self, code: str, level: str) -> str | None:
        """The region itself or its nearest ancestor at ``level``."""
        for candidate in (code, *self.ancestors(code)):
            if self._places[candidate].level == level:
                return candidate
        return None

    def province_of(self, code: str) -> str | None:
        """The province containing the region (itself for a province)."""
        return self._nearest(code, "PROVINCE")

    def city_of(self, code: str) -> str | None:
        """The city containing the region (itself for a city); None in a municipality."""
        return self._nearest(code, "CITY")

    def county_of(self, code: str) -> str | None:
        """The county of a TOWN, the COUNTY itself; None for cities, provinces
        and towns hanging directly under a city without counties (东莞)."""
        return self._nearest(code, "COUNTY")

    def children(self, code: str) -> tuple[str, ...]:
        """Codes of the direct children, sorted by code."""
        self.place(code)
        return self._children[code]

    def full_name(self, code: str) -> str:
        """Province → … → the region itself, e.g. "四川省南充市顺庆区"."""
        names = self._full_names
        found = names.get(code)
        if found is None:
            chain = (*reversed(self.ancestors(code)), code)
            found = names[code] = "".join(self._places[c].name for c in chain)
        return found

    def name(self, code: str) -> str:
        """The short name, e.g. "顺庆区"."""
        return self.place(code).name

    def local_counties(self, home_city: str) -> tuple[str, ...]:
        """The county-level children of the home city, sorted by code (§5.1).

        A city without counties (东莞 441900, 中山 442000, 嘉峪关, 儋州) is its own
        single local unit, so it returns ``(home_city,)``: otherwise such a city
        could never have a hall that handles anything.
        """
        memo = self._counties_memo
        found = memo.get(home_city)
        if found is None:
            counties = tuple(c for c in self.children(home_city) if self._places[c].level == "COUNTY")
            found = memo[home_city] = counties or (home_city,)
        return found


def local_county_of(tree: RegionTree, home_city: str, code: str) -> str | None:
    """The local county a region lies in (itself for a local county), else None.

    Used to place a hall (whose region may be a town) and a local signatory
    (which may be a town) in its county. For the home city itself this is None
    unless the city has no counties (then it is its own local unit).
    """
    memo = tree._county_of_memo  # noqa: SLF001 - our own RegionTree's per-tree memo (see docs/UPGRADING.md)
    key = (home_city, code)
    if key in memo:
        return memo[key]
    counties = tree.local_counties(home_city)
    found = next((c for c in (code, *tree.ancestors(code)) if c in counties), None)
    memo[key] = found
    return found


# --------------------------------------------------------------------------- facts


def _frozen_codes(codes: Iterable[str] | None) -> frozenset[str] | None:
    return None if codes is None else frozenset(codes)


@dataclass(frozen=True, slots=True)
class AgreementFacts:
    """What the rules need to know about one 通办协议.

    ``local_code`` is the local signatory (the home city, one of its counties
    or a town); ``matter_codes`` None means every CROSS_PROVINCE matter (§5.5).
    Any iterable given for ``matter_codes`` is stored as a frozenset.
    """

    id: int | str
    key: str | None
    title: str
    partner_code: str
    local_code: str
    signed_on: date
    effective_from: date
    expires_on: date | None
    stored_status: str
    citywide_shared: bool
    matter_codes: frozenset[str] | None
    registered_on: date | None = None

    def __post_init__(self) -> None:
        if self.stored_status not in AGREEMENT_STATUSES:
            raise ValueError(f"agreement {self.id}: unknown status {self.stored_status!r}")
        object.__setattr__(self, "matter_codes", _frozen_codes(self.matter_codes))


@dataclass(frozen=True, slots=True)
class MatterFacts:
    """What the rules need to know about one 事项: its code, name and scope."""

    code: str
    name: str
    scope: Scope

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise ValueError(f"matter {self.code}: unknown scope {self.scope!r}")


@dataclass(frozen=True, slots=True)
class HallFacts:
    """What the rules need to know about one hall; coordinates may be unknown."""

    id: int | str
    key: str | None
    name: str
    region_code: str
    latitude: float | None
    longitude: float | None
    has_cross_region_window: bool
    matter_codes: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        object.__setattr__(self, "matter_codes", frozenset(self.matter_codes))


@dataclass(frozen=True, slots=True)
class CoverageResult:
    """The answer to ``coverage(home, matter, D)`` (§5.6).

    ``kind`` says which branch of §5.6 decided: LOCAL (home in the home city),
    PROVINCE (全省通办), AGREEMENT (跨省通办 by agreement), NONE (no agreement in
    force covers it) or SCOPE_EXCLUDED (the matter's scope never reaches that
    home). ``agreements`` is sorted by (signed_on, id), ``local_regions`` by code.
    """

    covered: bool
    kind: CoverageKind
    agreements: tuple[AgreementFacts, ...]
    local_regions: tuple[str, ...]
    explanation: str


@dataclass(frozen=True, slots=True)
class HallOption:
    """One hall where the matter can be handled (§5.7).

    ``county_code`` is the local county the hall stands in (the home city code
    for a city-level hall); ``agreements`` are the covering agreements that
    take effect there; ``explanation`` says why this hall can do it.
    Handling modes come from the matter, so the adapter adds them.
    """

    hall: HallFacts
    county_code: str
    distance_km: float | None
    agreements: tuple[AgreementFacts, ...]
    explanation: str


# --------------------------------------------------------------------------- §5.2 – §5.5


def in_force(agreement: AgreementFacts, day: date) -> bool:
    """§5.2: stored ACTIVE, ``effective_from ≤ day`` and (no expiry or ``day ≤ expires_on``)."""
    return (
        agreement.stored_status == "ACTIVE"
        and agreement.effective_from <= day
        and (agreement.expires_on is None or day <= agreement.expires_on)
    )


def exposed_status(agreement: AgreementFacts, today: date) -> str:
    """§5.2: the status shown to the public, derived from the stored one on ``today``.

    Only a stored ACTIVE status depends on the date (PENDING before
    ``effective_from``, EXPIRED after ``expires_on``); staff decisions such as
    SUSPENDED or TERMINATED are shown unchanged.
    """
    if agreement.stored_status != "ACTIVE":
        return agreement.stored_status
    if today < agreement.effective_from:
        return "PENDING"
    if agreement.expires_on is not None and today > agreement.expires_on:
        return "EXPIRED"
    return "ACTIVE"


def partner_covers(tree: RegionTree, partner_code: str, home_code: str) -> bool:
    """§5.3: an agreement with P covers a home that is P or lies inside P.

    Coverage only flows downwards: a county never covers its siblings or its
    parent city.
    """
    return tree.contains(partner_code, home_code)


def local_reach(tree: RegionTree, home_city: str, agreement: AgreementFacts) -> tuple[str, ...]:
    """§5.4: the local counties where the agreement takes effect, sorted by code.

    All local counties when ``citywide_shared`` (一地签约、全市共享) or when the
    home city itself signed; otherwise the signatory's own county (a town
    signatory reaches its county). A signatory outside the home city reaches
    nothing here: that agreement belongs to another city's directory.
    """
    local = agreement.local_code
    if local not in tree or not tree.contains(home_city, local):
        return ()
    if agreement.citywide_shared or local == home_city:
        return tree.local_counties(home_city)
    county = local_county_of(tree, home_city, local)
    return (county,) if county is not None else ()


def covers_matter(agreement: AgreementFacts, matter: MatterFacts) -> bool:
    """§5.5: only CROSS_PROVINCE matters; ``matter_codes`` None means all of them."""
    if matter.scope != "CROSS_PROVINCE":
        return False
    return agreement.matter_codes is None or matter.code in agreement.matter_codes


def _covers_any(agreement: AgreementFacts, cross_province_codes: frozenset[str]) -> bool:
    """Whether the agreement covers at least one cross-province matter.

    ``matter_codes`` None counts as covering (the national list is never
    empty); an explicit list counts only when one of its codes is a known
    cross-province matter.
    """
    if agreement.matter_codes is None:
        return True
    return not agreement.matter_codes.isdisjoint(cross_province_codes)


# --------------------------------------------------------------------------- §5.6 coverage


def _id_key(value: int | str) -> tuple[int, int, str]:
    """Sort ints numerically and before strings, so mixed ids never raise."""
    return (0, value, "") if isinstance(value, int) else (1, 0, str(value))


def _agreement_order(agreement: AgreementFacts) -> tuple[date, tuple[int, int, str]]:
    return (agreement.signed_on, _id_key(agreement.id))


def coverage_for(
    tree: RegionTree,
    home_city: str,
    home_code: str,
    matter: MatterFacts | None,
    agreements: Iterable[AgreementFacts],
    day: date,
    cross_province_matters: Iterable[MatterFacts] = (),
) -> CoverageResult:
    """§5.6: can someone whose home is ``home_code`` handle ``matter`` in the home city on ``day``?

    - home inside the home city → covered (LOCAL), all local counties;
    - home elsewhere in the home city's province → covered (PROVINCE, 全省通办)
      for PROVINCE_WIDE and CROSS_PROVINCE matters, all local counties; a
      CITYWIDE matter is SCOPE_EXCLUDED;
    - home outside the province → only CROSS_PROVINCE matters (else
      SCOPE_EXCLUDED); covered (AGREEMENT) when at least one agreement in force
      on ``day`` covers home and matter and reaches a local county;
      ``local_regions`` is the union of their reach, ``agreements`` all of them;
      otherwise NONE, with an explanation of what is missing.

    With ``matter`` None the question is "any cross-province matter": inside
    the province that is always yes; outside, agreements count when they cover
    at least one of ``cross_province_matters`` (or cover all matters).

    Raises :class:`UnknownRegion` when ``home_city`` or ``home_code`` is not in the tree.
    """
    standing = home_standing(tree, home_city, home_code, agreements, day)
    cross_codes = (
        frozenset(m.code for m in cross_province_matters if m.scope == "CROSS_PROVINCE")
        if matter is None
        else frozenset()
    )
    return explain(tree, standing, matter, decide(standing, matter, cross_codes))


@dataclass(frozen=True, slots=True)
class HomeStanding:
    """What §5.6 settles about a home on a day before any matter is named.

    ``where``: LOCAL (in the home city), PROVINCE (elsewhere in its province) or OUTSIDE. For an
    OUTSIDE home, ``agreements`` are those whose partner covers it (§5.3) and that reach a local
    county (§5.4), in (signed_on, id) order, with their ``reach`` and whether each is ``in_force``
    (§5.2) on ``day``. Working this out walks the home's ancestors and every candidate agreement;
    :func:`decide` then answers any matter from it with a few set look-ups, so a results page
    decides 50 matters for one home for little more than the cost of one.
    """

    home_city: str
    home_code: str
    day: date
    where: Literal["LOCAL", "PROVINCE", "OUTSIDE"]
    province: str | None  # the home city's province
    counties: tuple[str, ...]  # the local counties (§5.1)
    agreements: tuple[AgreementFacts, ...] = ()
    reach: tuple[tuple[str, ...], ...] = ()
    in_force: tuple[bool, ...] = ()
    # for :func:`is_covered`: an agreement in force covers every matter / the codes those in force list
    live_all_matters: bool = False
    live_codes: frozenset[str] = frozenset()


def home_standing(
    tree: RegionTree, home_city: str, home_code: str, agreements: Iterable[AgreementFacts], day: date
) -> HomeStanding:
    """The matter-independent half of §5.6 for ``home_code`` (see :class:`HomeStanding`).

    Raises :class:`UnknownRegion` when ``home_city`` or ``home_code`` is not in the tree.
    """
    tree.place(home_city)
    tree.place(home_code)
    counties = tree.local_counties(home_city)
    province = tree.province_of(home_city)
    if tree.contains(home_city, home_code):
        return HomeStanding(home_city, home_code, day, "LOCAL", province, counties)
    if province is not None and tree.contains(province, home_code):
        return HomeStanding(home_city, home_code, day, "PROVINCE", province, counties)
    reached = [
        (a, local_reach(tree, home_city, a))
        for a in agreements
        if partner_covers(tree, a.partner_code, home_code)
    ]
    reached = sorted(((a, r) for a, r in reached if r), key=lambda pair: _agreement_order(pair[0]))
    flags = tuple(in_force(a, day) for a, _ in reached)
    live = [a for (a, _), yes in zip(reached, flags, strict=True) if yes]
    return HomeStanding(
        home_city,
        home_code,
        day,
        "OUTSIDE",
        province,
        counties,
        tuple(a for a, _ in reached),
        tuple(r for _, r in reached),
        flags,
        any(a.matter_codes is None for a in live),
        frozenset(code for a in live for code in a.matter_codes or ()),
    )


def is_covered(
    standing: HomeStanding, matter: MatterFacts | None, cross_province_codes: frozenset[str] = frozenset()
) -> bool:
    """``decide(standing, matter, cross_province_codes).covered`` without building the decision:
    ranking a page of hits needs only this (a few set look-ups; tests hold the two equal)."""
    if standing.where == "LOCAL":
        return True
    if standing.where == "PROVINCE":
        return matter is None or matter.scope != "CITYWIDE"
    if matter is None:
        return standing.live_all_matters or not standing.live_codes.isdisjoint(cross_province_codes)
    return matter.scope == "CROSS_PROVINCE" and (
        standing.live_all_matters or matter.code in standing.live_codes
    )


@dataclass(frozen=True, slots=True)
class CoverageDecision:
    """§5.6 decided, before it is put into words: :class:`CoverageResult` without the
    explanation, plus what a NONE explanation names (agreements not in force, or in force but
    not covering the matter)."""

    covered: bool
    kind: CoverageKind
    agreements: tuple[AgreementFacts, ...] = ()
    local_regions: tuple[str, ...] = ()
    not_in_force: tuple[AgreementFacts, ...] = ()
    excluded: tuple[AgreementFacts, ...] = ()


def agreement_pattern(standing: HomeStanding, matter: MatterFacts) -> tuple[bool, ...]:
    """Which of the home's agreements cover the matter (:func:`covers_matter`), in their order.
    :func:`decide` reads the matter only through this and its scope: two matters with the same
    scope and pattern get the same decision for the home (a page of results for one home has
    one or two patterns: an agreement without an item list covers every cross-province matter)."""
    return tuple(covers_matter(a, matter) for a in standing.agreements)


def decide(
    standing: HomeStanding, matter: MatterFacts | None, cross_province_codes: frozenset[str] = frozenset()
) -> CoverageDecision:
    """§5.6 for one matter (None: any of ``cross_province_codes``) against a home's standing."""
    if standing.where == "LOCAL":
        return CoverageDecision(True, "LOCAL", (), standing.counties)
    if standing.where == "PROVINCE":
        if matter is not None and matter.scope == "CITYWIDE":
            return CoverageDecision(False, "SCOPE_EXCLUDED")
        return CoverageDecision(True, "PROVINCE", (), standing.counties)
    if matter is not None and matter.scope != "CROSS_PROVINCE":
        return CoverageDecision(False, "SCOPE_EXCLUDED")
    if matter is None:
        covers: Sequence[bool] = [_covers_any(a, cross_province_codes) for a in standing.agreements]
    else:
        covers = agreement_pattern(standing, matter)
    covering = tuple(
        a for a, live, yes in zip(standing.agreements, standing.in_force, covers, strict=True) if live and yes
    )
    if covering:
        regions = tuple(
            sorted(
                {
                    c
                    for reach, live, yes in zip(standing.reach, standing.in_force, covers, strict=True)
                    if live and yes
                    for c in reach
                }
            )
        )
        return CoverageDecision(True, "AGREEMENT", covering, regions)
    return CoverageDecision(
        False,
        "NONE",
        not_in_force=tuple(
            a
            for a, live, yes in zip(standing.agreements, standing.in_force, covers, strict=True)
            if not live and yes
        ),
        excluded=tuple(
            a
            for a, live, yes in zip(standing.agreements, standing.in_force, covers, strict=True)
            if live and not yes
        ),
    )


def is_presumed(coverage: CoverageResult) -> bool:
    """Whether a "covered" answer rests on a presumption: every agreement that covers it is one whose
    item list was never entered (``matter_codes`` None), which §5.5 reads as covering every
    cross-province matter. The real list may be shorter, so citizens are told to phone first."""
    return (
        coverage.covered
        and coverage.kind == "AGREEMENT"
        and bool(coverage.agreements)
        and all(a.matter_codes is None for a in coverage.agreements)
    )


def explain(
    tree: RegionTree, standing: HomeStanding, matter: MatterFacts | None, decision: CoverageDecision
) -> CoverageResult:
    """The decision with its one-sentence explanation (§5.6), as :func:`coverage_for` returns it."""
    words = _Words(tree, standing.home_city)
    home_code = standing.home_code
    kind = decision.kind
    if kind == "LOCAL":
        text = words.local(home_code, matter)
    elif kind == "PROVINCE":
        text = words.province(home_code, standing.province or standing.home_city, matter)
    elif kind == "SCOPE_EXCLUDED":
        assert matter is not None  # noqa: S101 - "any matter" is never excluded by scope
        if matter.scope == "CITYWIDE":
            text = words.citywide_only(home_code, matter)
        else:
            text = words.province_only(home_code, standing.province, matter)
    elif kind == "AGREEMENT":
        reach = dict(zip(standing.agreements, standing.reach, strict=True))
        text = words.by_agreements(home_code, matter, decision.agreements, reach, decision.local_regions)
    else:
        text = words.none(
            home_code, matter, standing.day, list(decision.not_in_force), list(decision.excluded)
        )
    return CoverageResult(decision.covered, kind, decision.agreements, decision.local_regions, text)


# --------------------------------------------------------------------------- §5.7 halls


def hall_options(
    tree: RegionTree,
    home_city: str,
    coverage: CoverageResult,
    matter: MatterFacts,
    halls: Iterable[HallFacts],
    lat: float | None = None,
    lon: float | None = None,
    first: int | None = None,
) -> list[HallOption]:
    """§5.7: the halls where ``matter`` can be handled, given its ``coverage``.

    Pass the :class:`CoverageResult` that :func:`coverage_for` returned for
    this same matter. A hall qualifies when it stands in a covered local county
    (or a town of one) and handles the matter: it has a cross-region window and
    the matter is CROSS_PROVINCE, or it lists the matter. A city-level hall
    (e.g. 台州市人民政府行政服务中心) stands in no county; it qualifies when the
    coverage reaches every local county.

    Order: with a location (``lat`` and ``lon`` together), nearest first by
    great-circle distance, halls without coordinates last, ties by (name, id);
    without one, by (county code, name, id). ``first`` keeps the first N.
    Not covered → [].
    """
    return hall_options_counted(tree, home_city, coverage, matter, halls, lat, lon, first)[0]


def hall_options_counted(
    tree: RegionTree,
    home_city: str,
    coverage: CoverageResult,
    matter: MatterFacts,
    halls: Iterable[HallFacts],
    lat: float | None = None,
    lon: float | None = None,
    first: int | None = None,
) -> tuple[list[HallOption], int]:
    """:func:`hall_options` and how many halls qualify in all (before ``first`` cuts the list):
    a results page shows the nearest three and says how many more there are, in one pass."""
    return hall_options_placed(
        tree, home_city, coverage, matter, place_halls(tree, home_city, halls), lat, lon, first
    )


@dataclass(frozen=True, slots=True)
class HallSite:
    """A hall placed for §5.7: the local county it stands in (the home city itself when the city has
    no counties), or None for a city-level hall (``city_level``), and its ranks in the two orders
    of §5.7's ties: ``rank`` without a location (county code, name, id; a city-level hall sorts
    under the city's code), ``name_rank`` by (name, id)."""

    hall: HallFacts
    county: str | None
    city_level: bool
    rank: int
    name_rank: int
    # the hall's latitude in radians and its cosine, for distances (None: no coordinates)
    phi: float | None = None
    cos_phi: float = 0.0


def place_halls(tree: RegionTree, home_city: str, halls: Iterable[HallFacts]) -> tuple[HallSite, ...]:
    """The halls that can ever qualify in ``home_city`` (a known region inside it), placed, in
    ``rank`` order.

    Where a hall stands does not depend on the question, so a snapshot places its halls once and
    asks :func:`hall_options_placed` with them: per question, a hall then costs a few look-ups and
    the ordering compares integers.
    """
    placed: list[tuple[HallFacts, str | None, bool]] = []
    for hall in halls:
        if hall.region_code not in tree:
            continue
        county = local_county_of(tree, home_city, hall.region_code)
        city_level = county is None and hall.region_code == home_city
        if county is not None or city_level:
            placed.append((hall, county, city_level))
    by_place = sorted(placed, key=lambda p: (p[1] or home_city, p[0].name, _id_key(p[0].id)))
    by_name = {
        id(p[0]): rank for rank, p in enumerate(sorted(placed, key=lambda p: (p[0].name, _id_key(p[0].id))))
    }
    sites = []
    for rank, (hall, county, city_level) in enumerate(by_place):
        latitude, longitude = hall.latitude, hall.longitude
        phi = math.radians(latitude) if latitude is not None and longitude is not None else None
        cos_phi = math.cos(phi) if phi is not None else 0.0
        sites.append(HallSite(hall, county, city_level, rank, by_name[id(hall)], phi, cos_phi))
    return tuple(sites)


def hall_options_placed(
    tree: RegionTree,
    home_city: str,
    coverage: CoverageResult,
    matter: MatterFacts,
    sites: Iterable[HallSite],
    lat: float | None = None,
    lon: float | None = None,
    first: int | None = None,
) -> tuple[list[HallOption], int]:
    """:func:`hall_options_counted` for halls already placed by :func:`place_halls` (same home city,
    and all from one call: the ranks order them)."""
    _check_point(lat, lon, first)
    qualifying = qualifying_sites(tree, home_city, coverage, matter, sites)
    return hall_options_ordered(tree, home_city, coverage, matter, qualifying, lat, lon, first)


def qualifying_sites(
    tree: RegionTree, home_city: str, coverage: CoverageResult, matter: MatterFacts, sites: Iterable[HallSite]
) -> tuple[HallSite, ...]:
    """§5.7's first half: which of the placed halls can handle the matter for this coverage, in
    ``rank`` order (the order without a location). It depends on the matter and on where the
    coverage reaches, not on the home itself, so a snapshot may keep it per (matter, reach).

    A hall qualifies when it has a cross-region window and the matter is a cross-province one, or
    it lists the matter; and it stands in a county the coverage reaches (the home city's own halls
    always), a city-level hall (county None) only where the coverage reaches every county.
    """
    if not coverage.covered:
        return ()
    all_counties = frozenset(tree.local_counties(home_city))
    reach = coverage_reach(coverage)
    covered = all_counties if reach is None else reach
    citywide = covered >= all_counties
    cross_province = matter.scope == "CROSS_PROVINCE"
    code = matter.code
    qualifying = [
        site
        for site in sites
        if ((cross_province and site.hall.has_cross_region_window) or code in site.hall.matter_codes)
        and (
            site.city_level and citywide
            if site.county is None
            else site.county == home_city or site.county in covered
        )
    ]
    qualifying.sort(key=attrgetter("rank"))
    return tuple(qualifying)


def coverage_reach(coverage: CoverageResult) -> frozenset[str] | None:
    """Where a covered answer reaches, as :func:`qualifying_sites` reads it (None: every county,
    as for a local or province-wide home); with the matter, the key of a kept qualifying list."""
    if coverage.kind in ("LOCAL", "PROVINCE"):
        return None
    return frozenset(coverage.local_regions)


def reach_key(coverage: CoverageResult) -> tuple[str, ...] | None:
    """:func:`coverage_reach` as a key, without building a set: the covered counties
    (``local_regions`` is sorted by code, so equal reaches give equal keys), None for every county.
    The snapshot's and the pages' memos keep thousands of these."""
    if coverage.kind in ("LOCAL", "PROVINCE"):
        return None
    return coverage.local_regions


def hall_options_ordered(
    tree: RegionTree,
    home_city: str,
    coverage: CoverageResult,
    matter: MatterFacts,
    qualifying: tuple[HallSite, ...],
    lat: float | None = None,
    lon: float | None = None,
    first: int | None = None,
    nearest_first: Sequence[tuple[HallSite, float | None]] | None = None,
    explain: bool = True,
) -> tuple[list[HallOption], int]:
    """§5.7's second half, for the halls :func:`qualifying_sites` gave for the same coverage and
    matter: nearest first with a location (by name among equals, halls without coordinates last),
    else in rank order; the agreements in effect at each hall and its sentence only for the
    ``first`` shown (with a hundred halls, those were most of the cost). Also how many qualify.

    ``nearest_first``: the qualifying halls nearest first with their distances, when the caller has
    them already (:func:`nearest_qualifying`, from one :func:`sites_by_distance` per point): at
    least ``first`` of them, or all. ``explain`` False: the halls, counties and distances alone,
    with no agreements and an empty sentence (a compact result card shows neither)."""
    _check_point(lat, lon, first)
    if not coverage.covered:
        return [], 0
    total = len(qualifying)
    if lat is not None and lon is not None and nearest_first is not None:
        located = list(nearest_first if first is None else nearest_first[:first])
    elif lat is not None and lon is not None:
        phi = math.radians(lat)
        here = (phi, math.cos(phi), lon)
        located = [
            (
                site,
                None
                if site.phi is None or site.hall.longitude is None
                else _great_circle_between(*here, site.phi, site.cos_phi, site.hall.longitude),
            )
            for site in qualifying
        ]

        def nearest(pair: tuple[HallSite, float | None]) -> tuple[bool, float, int]:
            return (pair[1] is None, pair[1] or 0.0, pair[0].name_rank)

        # a results card shows the nearest one: no need to sort a hundred (same order as sorted()[:first])
        located = (
            sorted(located, key=nearest) if first is None else heapq.nsmallest(first, located, key=nearest)
        )
    else:
        located = [(site, None) for site in qualifying[:first]]

    if not explain:
        return [
            HallOption(site.hall, site.county or home_city, distance, (), "") for site, distance in located
        ], total
    all_counties = frozenset(tree.local_counties(home_city))
    cross_province = matter.scope == "CROSS_PROVINCE"
    reach = [(a, frozenset(local_reach(tree, home_city, a))) for a in coverage.agreements]
    words = _Words(tree, home_city)
    options: list[HallOption] = []
    for site, distance in located:
        hall = site.hall
        county = site.county or home_city
        if county == home_city:
            relevant = tuple(a for a, where in reach if where >= all_counties)
        else:
            relevant = tuple(a for a, where in reach if county in where)
        by_window = hall.has_cross_region_window and cross_province
        options.append(
            HallOption(
                hall, county, distance, relevant, words.hall(hall, matter, coverage.kind, by_window, relevant)
            )
        )
    return options, total


def _nearest_key(pair: tuple[HallSite, float | None]) -> tuple[bool, float, int]:
    return (pair[1] is None, pair[1] or 0.0, pair[0].name_rank)


def sites_by_distance(
    sites: Iterable[HallSite], lat: float, lon: float
) -> tuple[tuple[HallSite, float | None], ...]:
    """Every placed hall with its distance from the point, in :func:`hall_options_ordered`'s order
    (nearest first, by name among equals, halls without coordinates last). The key is a total
    order (``name_rank`` differs per hall), so the qualifying halls of any question, taken from
    this in turn (:func:`nearest_qualifying`), come in the same order as sorting them alone:
    a snapshot measures its few hundred halls once per point instead of once per result."""
    _check_point(lat, lon, None)
    phi = math.radians(lat)
    cos_phi = math.cos(phi)
    located = [
        (
            site,
            None
            if site.phi is None or site.hall.longitude is None
            else _great_circle_between(phi, cos_phi, lon, site.phi, site.cos_phi, site.hall.longitude),
        )
        for site in sites
    ]
    located.sort(key=_nearest_key)
    return tuple(located)


def qualifying_marks(qualifying: Iterable[HallSite], placed: int) -> bytes:
    """One byte per placed hall (by ``rank``), 1 for those in ``qualifying``: what
    :func:`nearest_qualifying` asks (300 bytes where a set of the ranks took ~10 KB)."""
    marks = bytearray(placed)
    for site in qualifying:
        marks[site.rank] = 1
    return bytes(marks)


def nearest_qualifying(
    by_distance: Sequence[tuple[HallSite, float | None]], marks: bytes, first: int | None
) -> list[tuple[HallSite, float | None]]:
    """The first ``first`` (None: all) of :func:`sites_by_distance`'s halls marked in ``marks``
    (:func:`qualifying_marks` of :func:`qualifying_sites`' answer)."""
    found: list[tuple[HallSite, float | None]] = []
    if first is not None and first <= 0:
        return found
    for pair in by_distance:
        if marks[pair[0].rank]:
            found.append(pair)
            if first is not None and len(found) >= first:
                break
    return found


def _check_point(lat: float | None, lon: float | None, first: int | None) -> None:
    if (lat is None) != (lon is None):
        raise ValueError("latitude and longitude must be given together")
    if lat is not None and lon is not None:
        _check_coordinates(lat, lon)
    if first is not None and first < 0:
        raise ValueError("first must not be negative")


def _check_coordinates(lat: float, lon: float) -> None:
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise ValueError(f"coordinates out of range: {lat}, {lon}")


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance in kilometres on a sphere of radius 6371.0088 km."""
    phi1 = math.radians(lat1)
    return _great_circle_from(phi1, math.cos(phi1), lon1, lat2, lon2)


def _great_circle_from(phi1: float, cos_phi1: float, lon1: float, lat2: float, lon2: float) -> float:
    """:func:`great_circle_km` with the first point's latitude already in radians and its cosine
    (computed once when measuring one point against many halls; the result is the same float)."""
    phi2 = math.radians(lat2)
    return _great_circle_between(phi1, cos_phi1, lon1, phi2, math.cos(phi2), lon2)


def _great_circle_between(
    phi1: float, cos_phi1: float, lon1: float, phi2: float, cos_phi2: float, lon2: float
) -> float:
    """The haversine itself, both latitudes in radians with their cosines (a placed hall carries
    its own, see :class:`HallSite`): the same float as :func:`great_circle_km`."""
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + cos_phi1 * cos_phi2 * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, a)))


# --------------------------------------------------------------------------- §5.8, §5.9


def partner_tier(
    population_index: float | None,
    cooperation_index: float | None,
    pop_threshold: float = 60.0,
    coop_threshold: float = 60.0,
) -> Tier | None:
    """§5.8: RED (重点) both high, GREEN (人口) population only, BLUE (合作)
    cooperation only, YELLOW (潜力) neither; an index at its threshold is high.

    The contract says "no indices → null". We also return None when only one
    index is known: a tier from half the facts would rank a region on a guess
    (a missing cooperation index is not a low one). Range checks (0–100) belong
    to the service that stores the indices.
    """
    if population_index is None or cooperation_index is None:
        return None
    population_high = population_index >= pop_threshold
    cooperation_high = cooperation_index >= coop_threshold
    if population_high and cooperation_high:
        return "RED"
    if population_high:
        return "GREEN"
    if cooperation_high:
        return "BLUE"
    return "YELLOW"


def is_late_registration(signed_on: date, registered_on: date | None, limit_days: int = 3) -> bool:
    """§5.9: entered more than ``limit_days`` days after signing → late.

    Exactly 3 days after is still on time; an unknown registration date is
    not flagged (there is nothing to measure).
    """
    if registered_on is None:
        return False
    return (registered_on - signed_on).days > limit_days


# --------------------------------------------------------------------------- Chinese wording


def format_date_cn(day: date) -> str:
    """2023-05-10 → "2023年5月10日"."""
    return f"{day.year}年{day.month}月{day.day}日"


def _title(agreement: AgreementFacts) -> str:
    title = agreement.title.strip().strip("《》")
    return f"《{title}》" if title else "跨省通办协议"


class _Words:
    """Builds the one-sentence explanations; holds the tree and home city only."""

    def __init__(self, tree: RegionTree, home_city: str) -> None:
        self.tree = tree
        self.city = home_city
        self.city_name = tree.name(home_city)
        self.counties = tree.local_counties(home_city)

    def all_counties(self) -> str:
        if self.counties == (self.city,):
            return f"{self.city_name}全域"
        return f"{self.city_name}全部{len(self.counties)}个县（市、区）"

    def names(self, codes: Iterable[str]) -> str:
        return "、".join(self.tree.name(c) for c in codes)

    def where(self, regions: tuple[str, ...]) -> str:
        if set(regions) >= set(self.counties):
            return f"可在{self.all_counties()}中任一地办理"
        return f"可在{self.names(regions)}办理"

    @staticmethod
    def what(matter: MatterFacts | None, default: str) -> str:
        return f"“{matter.name}”" if matter is not None else default

    def home_contact(self, home_code: str) -> str:
        contact = self.tree.city_of(home_code) or self.tree.province_of(home_code) or home_code
        return self.tree.full_name(contact)

    def local(self, home_code: str, matter: MatterFacts | None) -> str:
        home = self.tree.full_name(home_code)
        lead = f"{home}为本市" if home_code == self.city else f"{home}属于{self.city_name}，为本市"
        return f"{lead}户籍（参保）地，{self.what(matter, '本市事项')}{self.where(self.counties)}。"

    def province(self, home_code: str, province: str, matter: MatterFacts | None) -> str:
        home = self.tree.full_name(home_code)
        prov = self.tree.name(province)
        if matter is None:
            subject = "全省通办和跨省通办事项"
        elif matter.scope == "PROVINCE_WIDE":
            subject = f"全省通办事项“{matter.name}”"
        else:
            subject = f"跨省通办事项“{matter.name}”"
        return f"{home}属于{prov}，按{prov}全省通办，{subject}{self.where(self.counties)}。"

    def citywide_only(self, home_code: str, matter: MatterFacts) -> str:
        home = self.tree.full_name(home_code)
        return (
            f"该事项（“{matter.name}”）为全市通办事项，仅限{self.city_name}户籍（参保）人员"
            f"在{self.city_name}范围内办理；{home}不属于{self.city_name}，"
            f"请到户籍（参保）地{self.home_contact(home_code)}办理。"
        )

    def province_only(self, home_code: str, province: str | None, matter: MatterFacts) -> str:
        home = self.tree.full_name(home_code)
        prov = self.tree.name(province) if province is not None else self.city_name
        return (
            f"该事项（“{matter.name}”）为全省通办事项，仅限{prov}户籍（参保）人员在{prov}范围内办理，"
            f"不属于跨省通办协议的范围；{home}不属于{prov}，"
            f"请到户籍（参保）地{self.home_contact(home_code)}办理。"
        )

    def reach_reason(self, agreement: AgreementFacts, reach: tuple[str, ...]) -> str:
        if agreement.local_code == self.city:
            return f"由{self.city_name}本级签订，协议效力及于{self.all_counties()}"
        if agreement.citywide_shared:
            return f"按“一地签约、全市共享”，协议效力及于{self.all_counties()}"
        county = self.names(reach)
        if agreement.local_code not in reach:
            return f"该协议未实行全市共享，仅在签约乡镇（街道）所在的{county}生效"
        return f"该协议未实行全市共享，仅在{county}生效"

    def signed(self, agreement: AgreementFacts) -> str:
        partner = self.tree.full_name(agreement.partner_code)
        local = self.tree.full_name(agreement.local_code)
        text = f"{partner}于{format_date_cn(agreement.signed_on)}与{local}签订{_title(agreement)}"
        terms = []
        if agreement.effective_from != agreement.signed_on:
            terms.append(f"自{format_date_cn(agreement.effective_from)}起生效")
        if agreement.expires_on is not None:
            terms.append(f"有效期至{format_date_cn(agreement.expires_on)}")
        return text + (f"（{'，'.join(terms)}）" if terms else "")

    def signed_ref(self, agreement: AgreementFacts) -> str:
        """The agreement as an object: "X与Y于D签订的《T》（一地签约、全市共享）"."""
        partner = self.tree.full_name(agreement.partner_code)
        local = self.tree.full_name(agreement.local_code)
        text = f"{partner}与{local}于{format_date_cn(agreement.signed_on)}签订的{_title(agreement)}"
        if agreement.citywide_shared and agreement.local_code != self.city:
            text += "（一地签约、全市共享）"
        return text

    def belongs(self, home_code: str, agreements: Iterable[AgreementFacts]) -> str:
        partners: list[str] = []
        for a in agreements:
            if a.partner_code != home_code and a.partner_code not in partners:
                partners.append(a.partner_code)
        if not partners:
            return ""
        names = "、".join(self.tree.full_name(p) for p in partners)
        return f"{self.tree.full_name(home_code)}属于{names}；"

    def by_agreements(
        self,
        home_code: str,
        matter: MatterFacts | None,
        covering: tuple[AgreementFacts, ...],
        reach: Mapping[AgreementFacts, tuple[str, ...]],
        regions: tuple[str, ...],
    ) -> str:
        what = self.what(matter, "协议约定的跨省通办事项")
        clauses = [f"{self.signed(a)}，{self.reach_reason(a, reach[a])}" for a in covering]
        if len(covering) == 1:
            if set(regions) >= set(self.counties):
                end = f"可在其中任一地办理{what}"
            else:
                end = f"可在{self.names(regions)}办理{what}"
            return f"{self.belongs(home_code, covering)}{clauses[0]}，{end}。"
        return f"{self.belongs(home_code, covering)}{'；'.join(clauses)}；综上，{what}{self.where(regions)}。"

    def why_not_in_force(self, agreement: AgreementFacts, day: date) -> str:
        signed = self.signed(agreement)
        status = agreement.stored_status
        if status != "ACTIVE":
            return f"{signed}，目前状态为“{AGREEMENT_STATUS_WORDS[status]}”"
        if day < agreement.effective_from:
            return f"{signed}，{format_date_cn(day)}尚未生效"
        expires = agreement.expires_on or day
        return f"{signed}，已于{format_date_cn(expires)}到期"

    def none(
        self,
        home_code: str,
        matter: MatterFacts | None,
        day: date,
        not_in_force: list[AgreementFacts],
        excluded: list[AgreementFacts],
    ) -> str:
        home = self.tree.full_name(home_code)
        what = self.what(matter, "跨省通办事项")
        advice = (
            f"建议到{self.city_name}各县（市、区）政务服务中心跨区域通办窗口的异地咨询服务咨询，"
            f"或联系户籍（参保）地{self.home_contact(home_code)}政务服务部门"
        )
        reasons = [self.why_not_in_force(a, day) for a in not_in_force]
        for a in excluded:
            count = len(a.matter_codes or ())
            if matter is not None:
                reasons.append(f"{self.signed(a)}，仅约定{count}项事项，不包括“{matter.name}”")
            else:
                reasons.append(f"{self.signed(a)}，所约定的{count}项事项均不在跨省通办事项清单内")
        if not reasons:
            return (
                f"{format_date_cn(day)}没有有效的跨省通办协议覆盖{home}，"
                f"{what}暂不能在{self.city_name}异地办理；{advice}。"
            )
        return (
            f"{self.belongs(home_code, [*not_in_force, *excluded])}{'；'.join(reasons)}；"
            f"因此{format_date_cn(day)}没有有效的跨省通办协议覆盖{home}的{what}，"
            f"暂不能在{self.city_name}异地办理；{advice}。"
        )

    def hall(
        self,
        hall: HallFacts,
        matter: MatterFacts,
        kind: str,
        by_window: bool,
        relevant: tuple[AgreementFacts, ...],
    ) -> str:
        place = self.tree.full_name(hall.region_code)
        if by_window:
            handles = f"设有跨区域通办窗口，可办理跨省通办事项“{matter.name}”"
        else:
            handles = f"受理“{matter.name}”"
        if kind == "LOCAL":
            basis = f"申请人户籍（参保）地属于{self.city_name}，本市事项可就近办理"
        elif kind == "PROVINCE":
            basis = "申请人户籍（参保）地在本省，按全省通办可就近办理"
        elif relevant:
            basis = "依据" + "、".join(self.signed_ref(a) for a in relevant)
        else:
            basis = f"现行跨省通办协议的效力合计及于{self.all_counties()}"
        return f"{hall.name}位于{place}，{handles}；{basis}。"
