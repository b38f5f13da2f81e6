"""Properties of the coverage rules that must hold for any set of agreements (hypothesis)."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from api.rules import AgreementFacts, MatterFacts, Place, RegionTree, coverage_for, in_force

HOME = "331000"
PLACES = [
    Place("330000", "浙江省", "PROVINCE"),
    Place(HOME, "台州市", "CITY", "330000"),
    *[Place(c, n, "COUNTY", HOME) for c, n in [("331002", "椒江区"), ("331004", "路桥区"), ("331081", "温岭市")]],
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
MATTERS = [MatterFacts("M-1", "社会保障卡申领", "CROSS_PROVINCE"), MatterFacts("M-2", "户口迁移", "CROSS_PROVINCE")]
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
