"""`near` typed as a name ("I live near 温岭"): a county or town of the home city, with or without
its suffix and the province and city before it, is found; anything else is ignored with a message."""

from __future__ import annotations

from functools import cache
from types import SimpleNamespace

import pytest

from api.bundled import iter_regions
from api.rules import Place, RegionTree
from web.regions import local_place_by_name, resolve_near

TAIZHOU = "331000"


@cache
def tree() -> RegionTree:
    return RegionTree(Place(r["code"], r["name"], r["level"], r["parent_code"]) for r in iter_regions())


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("温岭", "331081"),
        ("温岭市", "331081"),
        ("台州温岭", "331081"),
        ("台州市温岭市", "331081"),
        ("浙江省台州市温岭市", "331081"),
        (" 温岭 ", "331081"),
        ("路桥", "331004"),
        ("路桥区", "331004"),
        ("玉环", "331083"),
        ("天台县", "331023"),
        ("仙居", "331024"),
        ("临海", "331082"),
        ("椒江区", "331002"),
        ("箬横镇", "331081103"),
        ("南充", None),  # not in the home city
        ("朝阳", None),
        ("", None),
        ("台州", None),  # the city itself is no place near which to look
    ],
)
def test_local_place_by_name(typed: str, code: str | None) -> None:
    assert local_place_by_name(tree(), TAIZHOU, typed) == code


def test_near_by_name_is_the_county_seat_of_its_halls() -> None:
    halls = [SimpleNamespace(latitude=28.37, longitude=121.38, region_code="331081")]
    near, problem = resolve_near("温岭", tree(), TAIZHOU, halls)
    assert problem is None and near is not None
    assert near.region_code == "331081" and near.raw == "331081"
    assert abs(near.lat - 28.37) < 1e-6 and abs(near.lon - 121.38) < 1e-6


def test_a_name_outside_the_home_city_is_ignored_with_a_message() -> None:
    near, problem = resolve_near("南充", tree(), TAIZHOU, [])
    assert near is None and problem is not None and "南充" in problem
