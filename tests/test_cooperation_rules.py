"""The due lists of the cooperation work (api/cooperation.py), as tables on fixed dates.

No database, no clock: each row is (activities recorded, the day asked about) → who is due.
"""

from __future__ import annotations

import datetime as dt

import pytest

from api.cooperation import (
    ActivityFacts,
    consultations_due,
    guidance_due,
    one_year_before,
    reviews_due,
)
from api.rules import AgreementFacts, Place, RegionTree

D = dt.date
TREE = RegionTree(
    [
        Place("330000", "浙江省", "PROVINCE", None),
        Place("331000", "台州市", "CITY", "330000"),
        Place("331004", "路桥区", "COUNTY", "331000"),
        Place("510000", "四川省", "PROVINCE", None),
        Place("511300", "南充市", "CITY", "510000"),
        Place("511302", "顺庆区", "COUNTY", "511300"),
        Place("520000", "贵州省", "PROVINCE", None),
        Place("520500", "毕节市", "CITY", "520000"),
        Place("650000", "新疆维吾尔自治区", "PROVINCE", None),
        Place("659002", "阿拉尔市", "CITY", "650000"),
        Place("220000", "吉林省", "PROVINCE", None),
        Place("220500", "通化市", "CITY", "220000"),
    ]
)
NANCHONG, BIJIE, ALAR, TONGHUA = "511300", "520500", "659002", "220500"
TIERS = {NANCHONG: "RED", BIJIE: "RED", ALAR: "GREEN", TONGHUA: None}


def act(kind: str, partner: str, day: dt.date) -> ActivityFacts:
    return ActivityFacts(kind, partner, day)


def codes(found: list) -> list[str]:
    return [d.partner_code for d in found]


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (D(2026, 6, 1), D(2025, 6, 1)),
        (D(2024, 2, 29), D(2023, 2, 28)),
        (D(2025, 1, 1), D(2024, 1, 1)),
    ],
)
def test_one_year_before(day: dt.date, expected: dt.date) -> None:
    assert one_year_before(day) == expected


CONSULTATION_TABLE = [
    # (activities, day, RED partners due)
    ([], D(2026, 6, 1), [NANCHONG, BIJIE]),
    ([act("CONSULTATION", NANCHONG, D(2026, 1, 10))], D(2026, 6, 1), [BIJIE]),
    # exactly 12 months ago still counts; one day more and it is due again
    ([act("CONSULTATION", NANCHONG, D(2025, 6, 1))], D(2026, 6, 1), [BIJIE]),
    ([act("CONSULTATION", NANCHONG, D(2025, 6, 1))], D(2026, 6, 2), [NANCHONG, BIJIE]),
    # a consultation dated after the day asked about does not count for that day
    ([act("CONSULTATION", NANCHONG, D(2026, 7, 1))], D(2026, 6, 1), [NANCHONG, BIJIE]),
    # other kinds of work are not consultations
    (
        [act("REVIEW", NANCHONG, D(2026, 5, 1)), act("GUIDANCE", BIJIE, D(2026, 5, 1))],
        D(2026, 6, 1),
        [NANCHONG, BIJIE],
    ),
    # a consultation with the province counts for its city; one with a district does not count for the city
    ([act("CONSULTATION", "510000", D(2026, 3, 1))], D(2026, 6, 1), [BIJIE]),
    ([act("CONSULTATION", "511302", D(2026, 3, 1))], D(2026, 6, 1), [NANCHONG, BIJIE]),
    # only RED partners are listed (阿拉尔 GREEN, 通化 no indices)
    (
        [act("CONSULTATION", NANCHONG, D(2026, 3, 1)), act("CONSULTATION", BIJIE, D(2026, 3, 1))],
        D(2026, 6, 1),
        [],
    ),
    # leap day: 2024-02-29 → the window starts 2023-02-28
    (
        [act("CONSULTATION", NANCHONG, D(2023, 2, 28)), act("CONSULTATION", BIJIE, D(2023, 2, 27))],
        D(2024, 2, 29),
        [BIJIE],
    ),
]


@pytest.mark.parametrize(("activities", "day", "expected"), CONSULTATION_TABLE)
def test_consultations_due(activities: list[ActivityFacts], day: dt.date, expected: list[str]) -> None:
    assert codes(consultations_due(TREE, TIERS, activities, day)) == sorted(expected)


def test_consultations_due_says_when_it_was_last_held() -> None:
    found = consultations_due(TREE, TIERS, [act("CONSULTATION", NANCHONG, D(2024, 3, 1))], D(2026, 6, 1))
    assert [(d.partner_code, d.last_held, d.window_start) for d in found] == [
        (NANCHONG, D(2024, 3, 1), D(2025, 6, 1)),
        (BIJIE, None, D(2025, 6, 1)),
    ]


PAIRINGS = [ALAR, TONGHUA, NANCHONG, NANCHONG]  # a region paired with several counties is listed once

GUIDANCE_TABLE = [
    ([], D(2026, 6, 1), [ALAR, TONGHUA, NANCHONG]),
    ([act("GUIDANCE", ALAR, D(2026, 1, 1))], D(2026, 6, 1), [TONGHUA, NANCHONG]),
    # last year's guidance does not count this year, even a day before New Year
    ([act("GUIDANCE", ALAR, D(2025, 12, 31))], D(2026, 1, 5), [ALAR, TONGHUA, NANCHONG]),
    ([act("GUIDANCE", ALAR, D(2025, 12, 31))], D(2025, 12, 31), [TONGHUA, NANCHONG]),
    # a consultation is not guidance
    ([act("CONSULTATION", TONGHUA, D(2026, 2, 1))], D(2026, 6, 1), [ALAR, TONGHUA, NANCHONG]),
    ([act("GUIDANCE", a, D(2026, 3, 1)) for a in (ALAR, TONGHUA, NANCHONG)], D(2026, 6, 1), []),
]


@pytest.mark.parametrize(("activities", "day", "expected"), GUIDANCE_TABLE)
def test_guidance_due(activities: list[ActivityFacts], day: dt.date, expected: list[str]) -> None:
    assert codes(guidance_due(TREE, PAIRINGS, activities, day)) == sorted(expected)


def agreement(
    partner: str, effective: dt.date, status: str = "ACTIVE", expires: dt.date | None = None
) -> AgreementFacts:
    return AgreementFacts(
        id=f"{partner}-{effective}",
        key=None,
        title="协议",
        partner_code=partner,
        local_code="331004",
        signed_on=effective,
        effective_from=effective,
        expires_on=expires,
        stored_status=status,
        citywide_shared=True,
        matter_codes=None,
    )


AGREEMENTS = [
    agreement(NANCHONG, D(2023, 5, 10)),
    agreement(BIJIE, D(2025, 9, 1)),  # first year not over until 2026-09-01
    agreement(TONGHUA, D(2022, 1, 1), status="TERMINATED"),  # not in force: no review owed
    agreement(ALAR, D(2022, 1, 1), expires=D(2025, 12, 31)),  # expired
]

REVIEW_TABLE = [
    ([], D(2026, 6, 1), [NANCHONG]),
    ([], D(2026, 9, 1), [NANCHONG, BIJIE]),
    ([], D(2026, 8, 31), [NANCHONG]),
    ([act("REVIEW", NANCHONG, D(2025, 12, 1))], D(2026, 6, 1), []),
    ([act("REVIEW", NANCHONG, D(2025, 6, 1))], D(2026, 6, 1), []),
    ([act("REVIEW", NANCHONG, D(2025, 5, 31))], D(2026, 6, 1), [NANCHONG]),
    # a review with one of its districts is not a review with the city
    ([act("REVIEW", "511302", D(2026, 1, 1))], D(2026, 6, 1), [NANCHONG]),
    # before the expiry 阿拉尔 owed one too
    ([], D(2025, 6, 1), [ALAR, NANCHONG]),
]


@pytest.mark.parametrize(("activities", "day", "expected"), REVIEW_TABLE)
def test_reviews_due(activities: list[ActivityFacts], day: dt.date, expected: list[str]) -> None:
    assert codes(reviews_due(TREE, AGREEMENTS, activities, day)) == sorted(expected)
