"""Properties of the coverage rules that must hold for any set of agreements (hypothesis)."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

from hypothesis import example, given, settings
from hypothesis import strategies as st

from api.rules import (
    AgreementFacts,
    CoverageResult,
    HallFacts,
    MatterFacts,
    Place,
    RegionTree,
    agreement_pattern,
    coverage_for,
    coverage_reach,
    decide,
    great_circle_km,
    hall_options_counted,
    hall_options_ordered,
    home_standing,
    in_force,
    is_covered,
    local_reach,
    nearest_qualifying,
    place_halls,
    qualifying_marks,
    qualifying_sites,
    reach_key,
    sites_by_distance,
)

HOME = "331000"
PLACES = [
    Place("330000", "浙江省", "PROVINCE"),
    Place(HOME, "台州市", "CITY", "330000"),
    *[
        Place(c, n, "COUNTY", HOME)
        for c, n in [("331002", "椒江区"), ("331004", "路桥区"), ("331081", "温岭市")]
    ],
    Place("331081001", "太平街道", "TOWN", "331081"),
    Place("510000", "四川省", "PROVINCE"),
    Place("511300", "南充市", "CITY", "510000"),
    Place("511302", "顺庆区", "COUNTY", "511300"),
    Place("511303", "高坪区", "COUNTY", "511300"),
    Place("340000", "安徽省", "PROVINCE"),
    Place("341600", "亳州市", "CITY", "340000"),
    Place("341621", "涡阳县", "COUNTY", "341600"),
]
TREE = RegionTree(PLACES)
PARTNERS = ["510000", "511300", "511302", "511303", "340000", "341600", "341621"]
LOCALS = [HOME, "331002", "331004", "331081", "331081001"]
HOMES = ["511302", "511303", "511300", "341621", "341600", "510000"]
MATTERS = [
    MatterFacts("M-1", "社会保障卡申领", "CROSS_PROVINCE"),
    MatterFacts("M-2", "户口迁移", "CROSS_PROVINCE"),
]
DAY0 = date(2020, 1, 1)


@st.composite
def agreements(draw: st.DrawFn, ident: int) -> AgreementFacts:
    start = DAY0 + timedelta(days=draw(st.integers(0, 2000)))
    expires = draw(st.one_of(st.none(), st.integers(0, 1500).map(lambda d: start + timedelta(days=d))))
    return AgreementFacts(
        id=ident,
        key=f"a{ident}",
        title=f"协议{ident}",
        partner_code=draw(st.sampled_from(PARTNERS)),
        local_code=draw(st.sampled_from(LOCALS)),
        signed_on=start,
        effective_from=start,
        expires_on=expires,
        stored_status=draw(st.sampled_from(["ACTIVE", "ACTIVE", "ACTIVE", "SUSPENDED", "DRAFT"])),
        citywide_shared=draw(st.booleans()),
        matter_codes=draw(st.one_of(st.none(), st.sets(st.sampled_from(["M-1", "M-2"])))),
    )


agreement_lists = st.integers(0, 6).flatmap(lambda n: st.tuples(*[agreements(i) for i in range(n)]))
days = st.integers(0, 4000).map(lambda d: DAY0 + timedelta(days=d))
homes = st.sampled_from(HOMES)
matters = st.sampled_from([*MATTERS, None])


def coverage(home: str, matter: MatterFacts | None, items: tuple[AgreementFacts, ...], day: date):  # type: ignore[no-untyped-def]
    return coverage_for(TREE, HOME, home, matter, items, day, MATTERS)


@settings(max_examples=300, deadline=None)
@given(agreement_lists, agreements(99), homes, matters, days)
def test_adding_an_agreement_never_removes_coverage(items, extra, home, matter, day) -> None:  # type: ignore[no-untyped-def]
    before = coverage(home, matter, items, day)
    after = coverage(home, matter, (*items, extra), day)
    if before.covered:
        assert after.covered
        assert set(before.local_regions) <= set(after.local_regions)


@settings(max_examples=300, deadline=None)
@given(agreements(1), homes, matters, days)
def test_a_citywide_agreement_reaches_a_superset_of_the_unshared_one(agreement, home, matter, day) -> None:  # type: ignore[no-untyped-def]
    shared = coverage(home, matter, (dataclasses.replace(agreement, citywide_shared=True),), day)
    unshared = coverage(home, matter, (dataclasses.replace(agreement, citywide_shared=False),), day)
    assert set(unshared.local_regions) <= set(shared.local_regions)
    if unshared.covered:
        assert shared.covered


@settings(max_examples=300, deadline=None)
@given(agreement_lists, homes, matters, days)
def test_coverage_on_a_date_depends_only_on_agreements_in_force_then(items, home, matter, day) -> None:  # type: ignore[no-untyped-def]
    full = coverage(home, matter, items, day)
    only_in_force = coverage(home, matter, tuple(a for a in items if in_force(a, day)), day)
    assert (full.covered, full.local_regions, full.agreements) == (
        only_in_force.covered,
        only_in_force.local_regions,
        only_in_force.agreements,
    )


# §5.7 against a plain restatement of its text: the rules place halls once and order by precomputed
# ranks (speed); whatever the halls, agreements, home and location, the answer must be the one the
# policy describes.
HALL_PLACES = [*LOCALS, "511302", "341600"]  # local halls, the city itself, and halls elsewhere


@st.composite
def hall_lists(draw: st.DrawFn) -> tuple[HallFacts, ...]:
    halls = []
    for ident in range(draw(st.integers(0, 8))):
        located = draw(st.booleans())
        halls.append(
            HallFacts(
                id=ident,
                key=None,
                name=draw(st.sampled_from(["甲中心", "乙中心", "丙中心"])),  # ties on name happen
                region_code=draw(st.sampled_from(HALL_PLACES)),
                latitude=draw(st.floats(28.0, 29.0)) if located else None,
                longitude=draw(st.floats(120.8, 121.8)) if located else None,
                has_cross_region_window=draw(st.booleans()),
                matter_codes=draw(st.sets(st.sampled_from(["M-1", "M-2", "M-3"]))),
            )
        )
    return tuple(draw(st.permutations(halls)))


def reference_halls(result, matter, halls, lat, lon, first):  # type: ignore[no-untyped-def]
    """§5.7 as written: a hall in a covered local county (or a town of one) that handles the matter
    (a cross-region window for a CROSS_PROVINCE matter, or listing it); a city-level hall when the
    coverage reaches every county; nearest first (no coordinates last), ties by (name, id); without
    a location by (county, name, id)."""
    if not result.covered:
        return [], 0
    counties = TREE.local_counties(HOME)
    covered = set(counties) if result.kind in ("LOCAL", "PROVINCE") else set(result.local_regions)
    reach = {a.id: set(local_reach(TREE, HOME, a)) for a in result.agreements}
    found = []
    for hall in halls:
        if not (
            (hall.has_cross_region_window and matter.scope == "CROSS_PROVINCE")
            or matter.code in hall.matter_codes
        ):
            continue
        chain = [hall.region_code, *TREE.ancestors(hall.region_code)]
        county = next((c for c in chain if c in counties), None)
        if county is None:
            if hall.region_code != HOME or not covered >= set(counties):
                continue
            county = HOME
            relevant = tuple(a for a in result.agreements if reach[a.id] >= set(counties))
        else:
            if county not in covered:
                continue
            relevant = tuple(a for a in result.agreements if county in reach[a.id])
        distance = None
        if lat is not None and hall.latitude is not None:
            distance = great_circle_km(lat, lon, hall.latitude, hall.longitude)
        found.append((hall.id, county, distance, relevant, hall.name))
    if lat is not None:
        found.sort(key=lambda f: (f[2] is None, f[2] or 0.0, f[4], f[0]))
    else:
        found.sort(key=lambda f: (f[1], f[4], f[0]))
    return [f[:4] for f in found][:first], len(found)


@settings(max_examples=400, deadline=None)
@given(
    agreement_lists,
    hall_lists(),
    st.sampled_from([*HOMES, "331081", "331081001", "330000"]),
    st.sampled_from([*MATTERS, MatterFacts("M-3", "本市事项", "CITYWIDE")]),
    days,
    st.one_of(st.none(), st.tuples(st.floats(28.0, 29.0), st.floats(120.8, 121.8))),
    st.one_of(st.none(), st.integers(0, 5)),
)
def test_hall_options_are_what_the_policy_text_says(items, halls, home, matter, day, point, first) -> None:  # type: ignore[no-untyped-def]
    result = coverage_for(TREE, HOME, home, matter, items, day, MATTERS)
    lat, lon = point if point else (None, None)
    options, total = hall_options_counted(TREE, HOME, result, matter, halls, lat, lon, first)
    got = [(o.hall.id, o.county_code, o.distance_km, o.agreements) for o in options]
    assert (got, total) == reference_halls(result, matter, halls, lat, lon, first)
    assert all(o.explanation.startswith(o.hall.name) for o in options)


@settings(max_examples=300, deadline=None)
@given(
    agreement_lists,
    hall_lists(),
    st.sampled_from([*HOMES, "331081", "331081001", "330000"]),
    st.sampled_from([*MATTERS, MatterFacts("M-3", "本市事项", "CITYWIDE")]),
    days,
    st.tuples(st.floats(28.0, 29.0), st.floats(120.8, 121.8)),
    st.one_of(st.none(), st.integers(0, 5)),
)
def test_nearest_halls_from_one_ordering_per_point_are_the_same(
    items, halls, home, matter, day, point, first
) -> None:  # type: ignore[no-untyped-def]
    """A snapshot orders all its halls by distance once per point (`sites_by_distance`) and takes
    each question's qualifying halls from it (`nearest_qualifying`): the same halls, distances
    and order as measuring the qualifying halls alone, and as the policy text says."""
    result = coverage_for(TREE, HOME, home, matter, items, day, MATTERS)
    lat, lon = point
    placed = place_halls(TREE, HOME, halls)
    qualifying = qualifying_sites(TREE, HOME, result, matter, placed)
    marks = qualifying_marks(qualifying, len(placed))
    nearest = nearest_qualifying(sites_by_distance(placed, lat, lon), marks, first)
    fast = hall_options_ordered(TREE, HOME, result, matter, qualifying, lat, lon, first, nearest)
    plain = hall_options_ordered(TREE, HOME, result, matter, qualifying, lat, lon, first)
    assert fast == plain
    got = [(o.hall.id, o.county_code, o.distance_km, o.agreements) for o in fast[0]]
    assert (got, fast[1]) == reference_halls(result, matter, halls, lat, lon, first)
    # a compact card's halls (explain=False): the same halls, counties, distances and count
    bare = hall_options_ordered(
        TREE, HOME, result, matter, qualifying, lat, lon, first, nearest, explain=False
    )
    assert [(o.hall, o.county_code, o.distance_km) for o in bare[0]] == [
        (o.hall, o.county_code, o.distance_km) for o in fast[0]
    ]
    assert bare[1] == fast[1]
    assert all(o.agreements == () and o.explanation == "" for o in bare[0])


LISTING_M1 = AgreementFacts(
    1, "a1", "协议", "511300", "331081", DAY0, DAY0, None, "ACTIVE", True, frozenset({"M-1"})
)


@settings(max_examples=400, deadline=None)
@given(
    agreement_lists,
    st.sampled_from([*HOMES, "331081", "330000"]),
    st.sampled_from([*MATTERS, MatterFacts("M-3", "本市事项", "CITYWIDE"), None]),
    days,
)
@example((LISTING_M1,), "511302", None, DAY0)  # "any matter" covered by an agreement listing one
@example((LISTING_M1,), "511302", MATTERS[1], DAY0)  # a matter the agreement does not list
def test_is_covered_is_the_decisions_answer(items, home, matter, day) -> None:  # type: ignore[no-untyped-def]
    """A results page ranks with is_covered and explains with coverage_for: never different."""
    standing = home_standing(TREE, HOME, home, items, day)
    cross = frozenset(m.code for m in MATTERS)
    assert (
        is_covered(standing, matter, cross)
        == decide(standing, matter, cross).covered
        == coverage(home, matter, items, day).covered
    )


@settings(max_examples=300, deadline=None)
@given(
    agreement_lists,
    st.sampled_from([*HOMES, "331081", "331081001", "330000"]),
    st.sampled_from(["CROSS_PROVINCE", "PROVINCE_WIDE", "CITYWIDE"]),
    days,
)
def test_without_agreements_a_decision_reads_only_where_and_the_scope(items, home, scope, day) -> None:  # type: ignore[no-untyped-def]
    """What `Catalog.decision` keeps per (where, scope) for homes no agreement reaches (and local or
    same-province homes): two matters of one scope get the same decision, whatever their codes."""
    standing = home_standing(TREE, HOME, home, items, day)
    if standing.agreements:
        return
    first = decide(standing, MatterFacts("M-1", "社会保障卡申领", scope), frozenset({"M-1", "M-2"}))
    second = decide(standing, MatterFacts("M-9", "别的事项", scope), frozenset({"M-1", "M-2"}))
    assert first == second


MATTERS_3 = [
    *MATTERS,
    MatterFacts("M-3", "别的跨省事项", "CROSS_PROVINCE"),
    MatterFacts("M-4", "本市事项", "CITYWIDE"),
]


@settings(max_examples=400, deadline=None)
@given(
    agreement_lists,
    st.sampled_from([*HOMES, "331081", "330000"]),
    st.sampled_from(MATTERS_3),
    st.sampled_from(MATTERS_3),
    days,
)
def test_a_decision_reads_the_matter_only_through_its_scope_and_agreement_pattern(
    items, home, first, second, day
) -> None:  # type: ignore[no-untyped-def]
    """What `Catalog.decision` keeps per (home, day, scope, pattern) for homes agreements reach: two
    matters with the same scope and the same covering agreements get the same decision."""
    standing = home_standing(TREE, HOME, home, items, day)
    cross = frozenset(m.code for m in MATTERS_3 if m.scope == "CROSS_PROVINCE")
    same = first.scope == second.scope and agreement_pattern(standing, first) == agreement_pattern(
        standing, second
    )
    if same:
        assert decide(standing, first, cross) == decide(standing, second, cross)
    assert agreement_pattern(standing, first) == tuple(
        first.scope == "CROSS_PROVINCE" and (a.matter_codes is None or first.code in a.matter_codes)
        for a in standing.agreements
    )


@settings(max_examples=300, deadline=None)
@given(
    agreement_lists,
    st.sampled_from([*HOMES, "331081", "330000"]),
    st.sampled_from([*HOMES, "331081", "330000"]),
    st.sampled_from(MATTERS_3),
    days,
)
def test_reach_keys_are_equal_exactly_when_the_reaches_are(items, home, other, matter, day) -> None:  # type: ignore[no-untyped-def]
    """`reach_key` (the memos' key, no set built) tells two answers' reaches apart exactly as
    `coverage_reach` does."""
    cross = frozenset(m.code for m in MATTERS_3 if m.scope == "CROSS_PROVINCE")
    first, second = (
        decide(home_standing(TREE, HOME, place, items, day), matter, cross) for place in (home, other)
    )
    a, b = (CoverageResult(d.covered, d.kind, d.agreements, d.local_regions, "") for d in (first, second))
    assert (reach_key(a) == reach_key(b)) == (coverage_reach(a) == coverage_reach(b))
